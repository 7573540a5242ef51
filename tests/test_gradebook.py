"""The gradebook end to end: incremental re-runs, regrading a subset, stored seeds,
Ctrl-C and resume, a real PostgreSQL server, and the command line's errors.

Small classes of 02_value (the quickest notebook to grade), each graded by the real
command in the real sandbox.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from microgradlab_grader import cli, sandbox
from microgradlab_grader.gradebook import Gradebook, default_url
from microgradlab_grader.report import read_csv
from test_grader import honest, with_cell_before_test, with_mistakes, write

needs_bwrap = pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bwrap is not installed")
WRONG_MUL = {"ex02_value_answer": ("self.data * other.data", "self.data + other.data")}
COMMON = ["--notebooks", "02_value", "-j", "2", "--timeout-cell", "20", "--no-progress"]


def nbgrader_layout(root: Path, student: str, notebook, timestamp: str | None = None) -> Path:
    """submitted/<student>/02_value/02_value.ipynb (+ timestamp.txt), as nbgrader collects."""
    folder = root / "submitted" / student / "02_value"
    folder.mkdir(parents=True, exist_ok=True)
    if notebook is not None:
        write(notebook, folder / "02_value.ipynb")
    if timestamp is not None:
        (folder / "timestamp.txt").write_text(timestamp + "\n")
    return folder


def grade(capsys, *args) -> tuple[int, str]:
    code = cli.main(["grade", *map(str, args), *COMMON])
    return code, capsys.readouterr().err


def rows_of(out: Path) -> dict:
    book = Gradebook(default_url(out))
    rows = book.rows()
    book.close()
    return rows


def seed_printed(err: str) -> int:
    return int(re.search(r"seed (\d+)", err).group(1))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, jupyter_env):
    """ann honest, ben wrong, cat handed in nothing; graded once with no --seed."""
    work = tmp_path_factory.mktemp("gradebook")
    course = work / "class"
    nbgrader_layout(course, "ann", honest("02_value"), "2026-12-01 10:00:00.000000 UTC")
    nbgrader_layout(course, "ben", with_mistakes("02_value", WRONG_MUL),
                    "2026-12-03 10:00:00.000000 UTC")
    (course / "submitted" / "cat").mkdir(parents=True)
    out = work / "out"
    status = cli.main(["grade", str(course), "-o", str(out), *COMMON])
    assert status == 0
    return work, course, out


@needs_bwrap
def test_every_row_is_in_the_gradebook_with_its_seed_and_timestamp(first_run):
    _, _, out = first_run
    rows = rows_of(out)
    assert set(rows) == {("ann", "02_value"), ("ben", "02_value"), ("cat", "02_value")}
    assert rows[("ann", "02_value")].score == 3.0 and rows[("ben", "02_value")].score == 0.0
    assert rows[("cat", "02_value")].status == "missing"
    assert len({r.seed for r in rows.values()}) == 1       # one run, one seed, on every row
    assert rows[("ann", "02_value")].timestamp == "2026-12-01T10:00:00+00:00"   # as read
    csv_rows = {r["student"]: r for r in read_csv(out / "grades.csv")}
    assert csv_rows["ben"]["seed"] == str(rows[("ben", "02_value")].seed)
    assert (out / "feedback" / "ann" / "02_value.html").exists()
    totals = {r["student"]: r for r in read_csv(out / "totals.csv")}
    assert totals["ann"]["total"] == "3" and totals["cat"]["total"] == "0"


@needs_bwrap
def test_a_rerun_grades_only_what_changed_and_keeps_seeds(first_run, capsys):
    work, course, out = first_run
    before = rows_of(out)
    code, err = grade(capsys, course, "-o", out)
    assert code == 0 and "0 to grade, 3 unchanged" in err
    assert {k: r.graded_at for k, r in rows_of(out).items()} == \
        {k: r.graded_at for k, r in before.items()}
    # ben resubmits, fixed: only ben is graded, with the seed his row already had
    nbgrader_layout(course, "ben", honest("02_value"))
    code, err = grade(capsys, course, "-o", out)
    assert code == 0 and "1 to grade, 2 unchanged" in err
    after = rows_of(out)
    assert after[("ben", "02_value")].score == 3.0
    assert after[("ben", "02_value")].seed == before[("ben", "02_value")].seed
    for key in (("ann", "02_value"), ("cat", "02_value")):
        assert after[key].graded_at == before[key].graded_at


@needs_bwrap
def test_regrading_one_student_from_a_folder_of_one_keeps_the_class(first_run, capsys):
    """A folder holding one student, graded into the same --out, loses no other row."""
    work, _, out = first_run
    alone = work / "ann-only"
    write(honest("02_value"), alone / "ann" / "02_value.ipynb")
    before = rows_of(out)
    code, err = grade(capsys, alone, "-o", out, "--student", "ann", "--new-seed")
    assert code == 0 and "1 to grade" in err
    after = rows_of(out)
    assert set(after) == set(before)
    assert after[("ann", "02_value")].graded_at > before[("ann", "02_value")].graded_at
    assert after[("ann", "02_value")].seed == seed_printed(err)        # --new-seed took
    for key in (("ben", "02_value"), ("cat", "02_value")):
        assert after[key].graded_at == before[key].graded_at
    assert {r["student"] for r in read_csv(out / "grades.csv")} == {"ann", "ben", "cat"}


# A `microgradlab grade` run in a fresh process that records what it starts and imports.
WATCHED_RUN = """
import json, os, subprocess, sys
started = []
def record(name, original):
    def wrapper(*args, **kwargs):
        started.append([name, repr(args[:2])[:200]])
        return original(*args, **kwargs)
    return wrapper
subprocess.Popen.__init__ = record("Popen", subprocess.Popen.__init__)
os.fork = record("fork", os.fork)
os.posix_spawn = record("posix_spawn", os.posix_spawn)
from microgradlab_grader import batch, cli, classrun, grading
batch.draw_cases = record("draw_cases", batch.draw_cases)
grading.run_sandboxed = record("run_sandboxed", grading.run_sandboxed)
classrun.regenerate_outputs = record("regenerate_outputs", classrun.regenerate_outputs)
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "started": started, "torch": "torch" in sys.modules,
                  "nbformat": "nbformat" in sys.modules}))
"""


def watched_run(*args) -> dict:
    done = subprocess.run([sys.executable, "-c", WATCHED_RUN, "grade", *map(str, args), *COMMON],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return {**json.loads(done.stdout.splitlines()[-1]), "err": done.stderr}


@needs_bwrap
def test_a_rerun_with_nothing_new_does_no_grading_work(first_run):
    """No case planning, no PyTorch, no sandbox (no process at all), no output rewritten;
    a changed option or a missing output file is written again."""
    _, course, out = first_run
    watched_run(course, "-o", out)             # whatever earlier tests left: now current
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = watched_run(course, "-o", out)
    assert "0 to grade" in again["err"]
    assert again["started"] == [] and not again["torch"] and not again["nbformat"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    # An option that shapes the outputs: they are written again (still nothing graded).
    late = watched_run(course, "-o", out, "--deadline", "2026-12-02 00:00 UTC",
                       "--late-penalty", "10")
    assert [name for name, _ in late["started"]] == ["regenerate_outputs"]
    assert not late["torch"]
    totals = {r["student"]: r for r in read_csv(out / "totals.csv")}
    assert "late" in totals["ben"]["notes"]
    # A deleted output comes back.
    (out / "canvas.csv").unlink()
    back = watched_run(course, "-o", out, "--deadline", "2026-12-02 00:00 UTC",
                       "--late-penalty", "10")
    assert [name for name, _ in back["started"]] == ["regenerate_outputs"]
    assert (out / "canvas.csv").exists()


def test_command_line_errors_are_named_without_a_traceback(tmp_path, capsys):
    (tmp_path / "class" / "ann").mkdir(parents=True)
    afile = tmp_path / "results.txt"
    afile.write_text("not a folder")
    cases = [
        (["grade", str(tmp_path / "class"), "-o", str(afile)], "is a file, not a folder"),
        (["grade", str(tmp_path / "nowhere"), "-o", str(tmp_path / "o")], "does not exist"),
        (["grade", str(tmp_path / "class"), "-o", str(afile / "sub")], "is a file, not a folder"),
        (["grade", str(tmp_path / "class"), "-o", str(tmp_path / "o"), "--student", "zed"],
         "no such student"),
        (["grade", str(tmp_path / "class"), "-o", str(tmp_path / "o"), "--db", "nonsense://x"],
         "--db"),
        (["grade", str(tmp_path / "class"), "-o", str(tmp_path / "o"), "--late-penalty", "5"],
         "need --deadline"),
        (["grade", str(tmp_path / "class"), "-o", str(tmp_path / "o"), "--seed", "1",
          "--new-seed"], "contradict"),
    ]
    for argv, message in cases:
        assert cli.main(argv + ["--unsafe", "-q"]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    with pytest.raises(SystemExit):
        cli.main(["grade", str(tmp_path), "-o", str(tmp_path / "o"), "--deadline", "soon-ish"])
    assert "not a date" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert re.match(r"microgradlab \d+\.\d+", capsys.readouterr().out)


# ------------------------------------------------------------------ Ctrl-C and resume
def processes_mentioning(needle: str) -> list[str]:
    import psutil
    found = []
    for p in psutil.process_iter(["cmdline"]):
        line = " ".join(p.info["cmdline"] or [])
        if needle in line:
            found.append(line)
    return found


@needs_bwrap
def test_ctrl_c_keeps_finished_rows_and_resume_matches_an_uninterrupted_run(tmp_path,
                                                                             jupyter_env):
    course = tmp_path / "class"
    write(honest("02_value"), course / "a-first" / "02_value.ipynb")
    # honest, but slow: it is still running when Ctrl-C comes
    write(with_cell_before_test("02_value", "ex02_value", "import time\ntime.sleep(8)\n"),
          course / "b-slow" / "02_value.ipynb")
    write(with_mistakes("02_value", WRONG_MUL), course / "c-last" / "02_value.ipynb")
    scratch = Path(tempfile.mkdtemp(prefix="mglab-ctrlc-"))  # the sandboxes' scratch dirs
    env = dict(jupyter_env, TMPDIR=str(scratch))
    exe = str(Path(sys.executable).with_name("microgradlab"))
    argv = ["grade", str(course), "-o", str(tmp_path / "out"), "--notebooks", "02_value",
            "-j", "1", "--timeout-cell", "30", "--no-progress", "--seed", "11"]
    process = subprocess.Popen([exe, *argv], env=env, stderr=subprocess.PIPE, text=True)
    try:
        db = tmp_path / "out" / "gradebook.db"
        while process.poll() is None:
            if db.exists() and ("a-first", "02_value") in rows_of(tmp_path / "out"):
                break
            time.sleep(0.2)
        assert process.poll() is None, process.stderr.read()
        time.sleep(1.0)  # b-slow's sandbox is up and sleeping
        process.send_signal(signal.SIGINT)
        err = process.communicate(timeout=60)[1]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "To resume" in err and "--seed 11" in err
    assert not processes_mentioning(str(scratch)), "a sandbox outlived Ctrl-C"
    kept = rows_of(tmp_path / "out")
    assert ("a-first", "02_value") in kept and ("b-slow", "02_value") not in kept
    # resume: the same command again grades the rest; beside it, an uninterrupted run
    # into another folder (both wait out b-slow's sleep, so they run side by side)
    argv_whole = [a if a != str(tmp_path / "out") else str(tmp_path / "whole") for a in argv]
    runs = [subprocess.Popen([exe, *args], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for args in (argv, argv_whole)]
    for run in runs:
        err = run.communicate(timeout=300)[1]
        assert run.returncode == 0, err
    resumed = {r["student"]: r for r in read_csv(tmp_path / "out" / "grades.csv")}
    whole = {r["student"]: r for r in read_csv(tmp_path / "whole" / "grades.csv")}
    assert set(resumed) == set(whole) == {"a-first", "b-slow", "c-last"}
    for student in whole:
        assert resumed[student]["score"] == whole[student]["score"]
        assert resumed[student]["ex02_value"] == whole[student]["ex02_value"]
    shutil.rmtree(scratch, ignore_errors=True)


# ------------------------------------------------------------------ PostgreSQL, for real
def postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return candidates[-1].parent if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def postgres(tmp_path):
    """A PostgreSQL server of our own on a free 127.0.0.1 port; initdb and pg_ctl refuse
    to run as root, so as root they run as the unprivileged ``postgres`` (or ``nobody``)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (Debian: apt-get install "
                    "postgresql; scripts/setup.sh does it as root)")
    base = Path(tempfile.mkdtemp(prefix="mglab-pg-"))
    as_user = []
    if os.geteuid() == 0:
        import pwd
        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if user is None:
            pytest.skip("running as root with no unprivileged user for PostgreSQL")
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        as_user = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}",
                   "--clear-groups", "--"]
    base.chmod(0o700)
    data, port = base / "data", free_port()
    env = dict(os.environ, LC_ALL="C", HOME=str(base))
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "grader",
                    # UTF8: under LC_ALL=C initdb picks SQL_ASCII, and psycopg then hands
                    # text back as bytes
                    "-E", "UTF8", "--auth=trust", "--no-sync"], check=True, capture_output=True, env=env,
                   cwd=base)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l",
                    str(base / "log"), "-w", "-o", f"-p {port} -h 127.0.0.1 -k {base}", "start"],
                   check=True, capture_output=True, env=env, cwd=base)
    try:
        yield f"postgresql+psycopg://grader@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], capture_output=True, env=env, cwd=base)
        shutil.rmtree(base, ignore_errors=True)


def _has_user(name: str) -> bool:
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@needs_bwrap
def test_a_class_graded_into_postgresql(tmp_path, postgres, jupyter_env, capsys):
    course = tmp_path / "class"
    write(honest("02_value"), course / "ann" / "02_value.ipynb")
    write(with_mistakes("02_value", WRONG_MUL), course / "ben" / "02_value.ipynb")
    code, err = grade(capsys, course, "-o", tmp_path / "out", "--db", postgres)
    assert code == 0, err
    engine = create_engine(postgres)
    with engine.connect() as connection:
        stored = dict(connection.execute(text("SELECT student, score FROM grades")).all())
    engine.dispose()
    assert stored == {"ann": 3.0, "ben": 0.0}
    assert not (tmp_path / "out" / "gradebook.db").exists()   # nothing went to SQLite
    assert {r["student"]: r["score"] for r in read_csv(tmp_path / "out" / "grades.csv")} == \
        {"ann": "3", "ben": "0"}
    code, err = grade(capsys, course, "-o", tmp_path / "out", "--db", postgres)
    assert code == 0 and "0 to grade, 2 unchanged" in err
    # Text PostgreSQL's text type refuses (NUL) or no UTF-8 database takes (a lone
    # surrogate from a file name that is not UTF-8) is stored escaped, never a crash.
    from microgradlab_grader.grading import Grade
    book = Gradebook(postgres)
    book.save(Grade("caf~1", "02_value", "unreadable", 3.0, detail="nul\x00 caf\udce9"),
              "h", "s", 1, "unknown", name="caf\udce9\x00")
    row = book.rows()[("caf~1", "02_value")]
    book.close()
    assert (row.detail, row.name) == ("nul\\x00 caf\\udce9", "caf\\udce9\\x00")
    engine = create_engine(postgres)
    with pytest.raises(Exception, match="NUL"):            # the control: raw, it fails
        with engine.begin() as connection:
            connection.execute(text("UPDATE grades SET detail = :d"), {"d": "nul\x00"})
    engine.dispose()


# ------------------------------------------------------------------ seeds from the course
SOMETIMES_WRONG = {"ex01_difference_answer": (
    "return (f(x + h) - f(x - h)) / (2 * h)",
    # wrong only where h is 0.05 and x > 1: some draws of the random cases catch it
    "return (f(x + h) - f(x)) / h if (h == 0.05 and x > 1.0) else "
    "(f(x + h) - f(x - h)) / (2 * h)")}


def sometimes_wrong_passes(seed: int) -> bool:
    """Does the mistake slip through the cases a run with ``seed`` draws? (in-process)"""
    from microgradlab.checking import run_exercise
    from microgradlab.exercises.seeds import exercise_seed

    def forward_difference(f, x, h):
        return (f(x + h) - f(x)) / h

    def central_difference(f, x, h):
        return (f(x + h) - f(x)) / h if (h == 0.05 and x > 1.0) else \
            (f(x + h) - f(x - h)) / (2 * h)
    names = {"forward_difference": forward_difference, "central_difference": central_difference}
    return run_exercise("ex01_difference", names,
                        exercise_seed(seed, "ex01_difference")).passed


@needs_bwrap
def test_two_fresh_runs_without_a_seed_give_the_same_grades(tmp_path, jupyter_env, capsys):
    """A mistake only some random cases reveal: with the course seed every fresh run (and
    every learner who made it) gets the same grade; another seed gives another grade."""
    from microgradlab.exercises.seeds import course_seed
    course_verdict = sometimes_wrong_passes(course_seed("microgradlab", "01_derivatives"))
    other = next(s for s in range(1, 500) if sometimes_wrong_passes(s) != course_verdict)
    wrong = with_mistakes("01_derivatives", SOMETIMES_WRONG)
    for student in ("ann", "ben"):
        write(wrong, tmp_path / "class" / student / "01_derivatives.ipynb")
    args = ["--notebooks", "01_derivatives", "-j", "2", "--timeout-cell", "20", "--no-progress"]
    runs = {}
    for out, extra in (("first", []), ("second", []), ("other", ["--seed", str(other)])):
        code = cli.main(["grade", str(tmp_path / "class"), "-o", str(tmp_path / out), *args,
                         *extra])
        assert code == 0, capsys.readouterr().err
        runs[out] = {r["student"]: r for r in read_csv(tmp_path / out / "grades.csv")}
    assert runs["first"] == runs["second"]                      # two machines, one grade
    ann, ben = runs["first"]["ann"], runs["first"]["ben"]
    assert {k: v for k, v in ann.items() if k not in ("student", "name")} == \
        {k: v for k, v in ben.items() if k not in ("student", "name")}   # one mistake, one row
    assert ann["seed"] == str(course_seed("microgradlab", "01_derivatives"))
    assert (float(ann["ex01_difference"]) > 0) == course_verdict
    # The control: the mistake really is seed-dependent, so a drawn seed would differ.
    assert runs["other"]["ann"]["ex01_difference"] != ann["ex01_difference"]


def test_the_course_id_can_be_given_and_a_bad_config_is_named(tmp_path, capsys, monkeypatch):
    from microgradlab_grader import course
    (tmp_path / "class" / "ann").mkdir(parents=True)
    broken = tmp_path / "nbgrader_config.py"
    broken.write_text("c = get_config()\nc.CourseDirectory.course_id = compute()\n")
    monkeypatch.setattr(course, "DEFAULT_CONFIG", broken)
    assert cli.main(["grade", str(tmp_path / "class"), "-o", str(tmp_path / "o"),
                     "--unsafe", "-q"]) == 2
    err = capsys.readouterr().err
    assert "course_id is not a plain string" in err and "--course-id" in err
    with pytest.raises(SystemExit):
        cli.main(["grade", str(tmp_path / "class"), "-o", str(tmp_path / "o"),
                  "--course-id", ""])
    assert "non-empty" in capsys.readouterr().err


# ------------------------------------------------------------------ old gradebooks, odd text
OLD_SCHEMA = """CREATE TABLE grades (student VARCHAR(100) NOT NULL, notebook VARCHAR(100) NOT NULL,
    status VARCHAR(40) NOT NULL, score FLOAT, max_score FLOAT NOT NULL, detail TEXT NOT NULL,
    tampered TEXT NOT NULL, verdicts TEXT NOT NULL, content_hash VARCHAR(80) NOT NULL,
    source_hash VARCHAR(80) NOT NULL, seed INTEGER NOT NULL, timestamp VARCHAR(100),
    graded_at DATETIME NOT NULL, PRIMARY KEY (student, notebook))"""


def test_a_gradebook_without_names_is_upgraded_and_keeps_working(tmp_path):
    from microgradlab_grader.classrun import regenerate_outputs
    from microgradlab_grader.exports import LatePolicy, parse_time
    from microgradlab_grader.grading import Grade

    url = default_url(tmp_path)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(OLD_SCHEMA))
        connection.execute(text(
            "INSERT INTO grades VALUES ('ann', '02_value', 'graded', 3.0, 3.0, '', '[]', '{}', "
            "'h', 's', 7, '2026-12-01 10:00:00.000000 UTC', '2026-12-02 00:00:00')"))
    engine.dispose()
    book = Gradebook(url)
    assert book.rows()[("ann", "02_value")].name is None        # upgraded, row kept
    book.save(Grade("Ben_Lee~1", "02_value", "graded", 3.0), "h", "s", 7,
              "2026-12-03T10:00:00+00:00", name="Ben Lee")
    regenerate_outputs(book, tmp_path, LatePolicy(parse_time("2026-12-01 23:59 UTC")), {}, [])
    book.close()
    grades = {r["student"]: r for r in read_csv(tmp_path / "grades.csv")}
    assert (grades["ann"]["name"], grades["ann"]["days_late"]) == ("ann", "0")  # old raw time
    assert (grades["Ben_Lee~1"]["name"], grades["Ben_Lee~1"]["days_late"]) == ("Ben Lee", "2")


def test_a_new_gradebook_opened_by_two_processes_at_once_opens(tmp_path, monkeypatch):
    """create_all looks, then creates: here the other process's CREATE lands in between
    (the first attempt runs without looking, as if its look came before the other's
    CREATE), and the gradebook still opens, with one table."""
    from microgradlab_grader import gradebook

    real = gradebook.Base.metadata.create_all
    calls = []

    def raced(engine, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            real(engine)                        # the other process
            return real(engine, checkfirst=False)
        return real(engine, **kwargs)
    monkeypatch.setattr(gradebook.Base.metadata, "create_all", raced)
    book = Gradebook(default_url(tmp_path))
    assert len(calls) == 2 and book.rows() == {}
    book.close()
    # Any other failure is named at once, not tried again.
    calls.clear()
    monkeypatch.setattr(gradebook.Base.metadata, "create_all",
                        lambda engine, **kwargs: calls.append(kwargs) or real(engine, **kwargs))
    with pytest.raises(gradebook.GradebookError, match="unable to open database file"):
        Gradebook(f"sqlite:///{tmp_path / 'no-such-folder' / 'gradebook.db'}")
    assert len(calls) == 1
