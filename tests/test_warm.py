"""Warm runners (autograder/microgradlab_grader/warm.py), tried for real.

Every submission of a notebook that one grading thread takes is a child of the same
warm runner. These tests grade submissions one after another with ONE uid, so each
runs in the same runner as the one before, and check what the issue asks of it:

* a learner leaves nothing for the next: files anywhere they can write, System V
  IPC objects, processes. The next learner's notebook is WRONG and repairs itself
  only when it finds a clean sandbox, so it scores 3 only if the clean-up worked;
  two controls switch one clean-up off each and the same notebook scores 0;
* a learner cannot signal, stop or trace the runner (it is another uid);
* a runner that dies is replaced, and the submission after it is graded as usual;
* warm and cold starts give the same rows.

Needs root (a warm runner's children become the run's uids) and bwrap.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from hostile import FULL, NOTEBOOK, REPAIR, Hostile, build  # noqa: E402

from microgradlab import checking  # noqa: E402
from microgradlab_grader import batch, grading, sandbox, warm  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="warm runners fork children as sandbox uids: root"),
    pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bwrap is not installed"),
]

# Litter in every place a learner can write, a System V segment, and a process that
# tries to outlive the submission.
LITTER = """
    import ctypes, os, time
    for folder in ("/tmp", "/scratch", "/scratch/.matplotlib", "/scratch/.ipython"):
        try:
            os.makedirs(folder, exist_ok=True)
            with open(f"{folder}/litter-file", "w") as handle:
                handle.write("left for the next learner")
        except OSError:
            pass
    deep = "/scratch/litter-deep"
    for level in range(50):
        deep += f"/{level}"
    os.makedirs(deep)
    os.makedirs("/tmp/litter-locked/inner")
    os.chmod("/tmp/litter-locked", 0)
    os.symlink("/etc", "/scratch/litter-link")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget(0x4D474C, 1 << 20, 0o1666)      # IPC_CREAT | rw for all
    libc.semget(0x4D474D, 1, 0o1666)
    libc.msgget(0x4D474E, 0o1666)
    if os.fork() == 0:
        os.setsid()
        time.sleep(600)
        os._exit(0)
"""

# The next learner repairs their wrong work only in a sandbox with none of it.
PROBE = """
    import os
    litter = []
    for area in ("/tmp", "/scratch"):
        device = os.lstat(area).st_dev
        for top, folders, files in os.walk(area):
            litter += [os.path.join(top, n) for n in folders + files if "litter" in n]
            # (not into what is mounted there: the venv, when the checkout is in /tmp)
            folders[:] = [n for n in folders if os.lstat(os.path.join(top, n)).st_dev == device]
    for kind in ("shm", "sem", "msg"):
        with open(f"/proc/sysvipc/{kind}") as table:
            litter += [f"{kind}: {row}" for row in table.read().splitlines()[1:]]
    mine = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()
            and os.stat(f"/proc/{p}").st_uid == os.getuid()]
    litter += [f"process {p}" for p in mine]
    if not litter:
        REPAIR
"""

# Signals, a stop and a trace aimed at the runner (this process's parent).
REACH_THE_RUNNER = """
    import ctypes, os, signal
    reached = []
    runner = os.getppid()
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(runner, sig)
            reached.append(sig)
        except OSError:
            pass
    try:
        with open(f"/proc/{runner}/mem", "rb") as memory:
            reached.append("mem")
    except OSError:
        pass
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, runner, None, None) == 0:     # PTRACE_ATTACH
        reached.append("ptrace")
    if reached:
        REPAIR
"""


def notebook(name: str, work: str, cell: str):
    return build(Hostile(name, work, before_test=textwrap.dedent(cell).replace("REPAIR", REPAIR)),
                 SOLUTIONS)


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """A plan for 02_value, the settings, a folder, and one leased uid."""
    work = tmp_path_factory.mktemp("warm")
    os.chmod(work, 0o755)
    plan = batch.make_plans([NOTEBOOK], SOLUTIONS, 7, work, checking.expected)[NOTEBOOK]
    settings = grading.Settings(timeout_cell=60, timeout_notebook=120)
    with sandbox.allocate_uids(1) as (uid,):
        yield plan, settings, work, uid


def grade_in_turn(setting, notebooks: dict, plan=None) -> dict:
    """Grade ``notebooks`` (student -> notebook) one after another as one uid."""
    default_plan, settings, work, uid = setting
    grades = {}
    for student, nb in notebooks.items():
        path = work / student / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(exist_ok=True)
        nbformat.write(nb, str(path))
        grades[student] = grading.grade_submission(student, NOTEBOOK, path, plan or default_plan,
                                                   settings, uid=uid)
    return grades


def runner_of(uid):
    return warm._runners.get(uid)


def test_the_next_learner_finds_nothing_of_the_one_before(setting):
    grades = grade_in_turn(setting, {"litter": notebook("litter", "correct", LITTER)})
    runner = runner_of(setting[3])
    grades |= grade_in_turn(setting, {"next": notebook("next", "wrong", PROBE)})
    assert runner_of(setting[3]) is runner, "the two learners did not share a warm runner"
    assert grades["litter"].status == "graded", grades["litter"].detail
    assert grades["next"].status == "graded", grades["next"].detail
    assert grades["next"].score == FULL, "the next learner found what the one before left"


def test_control_without_emptying_the_folders_the_litter_is_found(setting, monkeypatch):
    monkeypatch.setattr(warm.WarmRunner, "empty_writable_folders", lambda self: None)
    grades = grade_in_turn(setting, {
        "litter-2": notebook("litter", "correct", LITTER),
        "next-2": notebook("next", "wrong", PROBE),
    })
    assert grades["next-2"].status == "graded" and grades["next-2"].score == 0


def test_control_without_removing_ipc_objects_the_segment_is_found(setting, tmp_path):
    plan, *_ = setting
    runner = tmp_path / "runner.py"
    text = plan.runner.read_text()
    assert "    _remove_ipc_objects(libc)\n" in text
    runner.write_text(text.replace("    _remove_ipc_objects(libc)\n", "    pass\n"))
    runner.chmod(0o644)
    os.chmod(tmp_path, 0o755)
    without = dataclasses.replace(plan, runner=runner)
    grades = grade_in_turn(setting, {
        "litter-3": notebook("litter", "correct", LITTER),
        "next-3": notebook("next", "wrong", PROBE),
    }, plan=without)
    assert grades["next-3"].status == "graded" and grades["next-3"].score == 0


def test_a_learner_cannot_signal_stop_or_trace_the_runner(setting):
    grade_in_turn(setting, {"warm-up": notebook("warm-up", "correct", "pass")})
    uid = setting[3]
    before = runner_of(uid)
    grades = grade_in_turn(setting, {"reach": notebook("reach", "wrong", REACH_THE_RUNNER)})
    assert grades["reach"].status == "graded" and grades["reach"].score == 0
    after = runner_of(uid)
    assert after is before and after.process.poll() is None
    with open(f"/proc/{after.pid}/status") as status:
        state = next(line for line in status if line.startswith("State:"))
    assert "stopped" not in state and "tracing" not in state, state


def test_a_runner_that_dies_is_replaced_and_the_next_learner_is_graded(setting):
    grade_in_turn(setting, {"first": notebook("first", "correct", "pass")})
    uid = setting[3]
    dead = runner_of(uid)
    os.kill(dead.pid, signal.SIGKILL)
    dead.process.wait(timeout=10)
    grades = grade_in_turn(setting, {"after": notebook("after", "correct", "pass")})
    assert grades["after"].status == "graded" and grades["after"].score == FULL
    assert runner_of(uid) is not dead and runner_of(uid).process.poll() is None


def test_warm_and_cold_starts_give_the_same_rows(setting):
    plan, settings, work, uid = setting
    class_ = {"honest": notebook("honest", "correct", "pass"),
              "wrong": notebook("wrong", "wrong", "pass"),
              "crash": notebook("crash", "correct", "import os\nos._exit(3)\n"),
              "noisy": notebook("noisy", "correct", "import sys\nprint('x' * 5000, file=sys.stderr)\n")}
    warm_rows = grade_in_turn(setting, class_)
    cold_rows = grade_in_turn((plan, dataclasses.replace(settings, warm=False), work, uid), class_)
    for student in class_:
        w, c = warm_rows[student], cold_rows[student]
        assert (w.status, w.score, w.detail, w.stopped_in) == (c.status, c.score, c.detail,
                                                               c.stopped_in), student
        assert {k: v.message for k, v in w.verdicts.items()} == \
               {k: v.message for k, v in c.verdicts.items()}, student
    assert warm_rows["crash"].status == "kernel_died" and "exit status 3" in warm_rows["crash"].detail


def test_what_is_mounted_under_tmp_stays_when_the_folders_are_emptied(setting, tmp_path,
                                                                      monkeypatch):
    """A checkout in /tmp puts the venv's binds under the sandbox's /tmp: emptying /tmp
    leaves them (and the folders bwrap made on the way to them) and does not fail on them."""
    plan, settings, _, uid = setting
    if not str(tmp_path).startswith("/tmp/"):
        pytest.skip("pytest's temporary folders are not under /tmp here")
    bound = tmp_path / "bound"
    bound.mkdir()
    (bound / "kept.txt").write_text("still here")
    roots = sandbox._python_roots()
    monkeypatch.setattr(sandbox, "_python_roots", lambda: [*roots, str(bound)])
    warm.discard(uid)
    runner = warm.runner_for(uid, plan, settings.limits)
    try:
        assert str(bound) in runner.mount_points()
        runner.empty_writable_folders()
        assert Path(f"{runner.root}{bound}/kept.txt").read_text() == "still here"
    finally:
        warm.discard(uid)
    assert (bound / "kept.txt").read_text() == "still here"
