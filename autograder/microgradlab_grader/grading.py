"""Grade one (student, notebook): the learner's objects live in a sandboxed
server (runner.py); the grader drives them from here (channel.py).

The grader sends each code cell's source to the sandbox, in order, and at each
graded test cell runs the exercise's ``produce`` *in this process*, on proxies
of the learner's objects: one request at a time, each under the grader's own
clock. The sandbox never sees a case, an expected value or a spec. Whether the
numbers are right is decided here, by ``microgradlab.checking.verdict`` (the one
judge the learner's kernel uses too) against the plan's expected results
(PyTorch, float64); a case whose result never came back is "not delivered".

Statuses (a row that is not ``graded`` has an empty score, never a 0):

``graded``       every request the grader sent was answered, to the last cell
``missing``      no notebook handed in
``unreadable``   not JSON, not nbformat 4, not a notebook
``timeout``      a cell (or case) was charged more than ``--timeout-cell``, or the
                 notebook more than ``--timeout-notebook`` (channel.Clock: the time
                 the grader waited for the sandbox plus its own CPU time for it), or
                 the notebook held its worker past the wall-clock backstop; the
                 sandbox was SIGKILLed
``kernel_died``  the process ended before the end (``os._exit``, a crash, the memory cap)
``protocol_error`` the sandbox wrote something out of protocol (a reply to another
                 request, a line over 256 kB, JSON nested too deeply, arguments given
                 back in another shape than sent), or made the grader send or serve
                 more requests than a cap allows (per cell or case, per notebook):
                 only learner code does that; the sandbox was SIGKILLed
``grader_error`` the grader itself failed on this submission (a bug to report); the
                 rest of the class is still graded
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from microgradlab import checking
from microgradlab.exercises import Exercise

from . import channel, sandbox, warm
from .source import SourceNotebook, tampering

from .untrusted import read_notebook, scratch_folder

GRADED, MISSING, UNREADABLE, TIMEOUT, KERNEL_DIED, GRADER_ERROR, PROTOCOL_ERROR = (
    "graded", "missing", "unreadable", "timeout", "kernel_died", "grader_error",
    "protocol_error")
STDERR_TAIL = 2000


@dataclass
class Verdict:
    """One exercise of one submission."""
    exercise: str
    points: float
    max_points: float
    passed: bool
    delivered: bool                 # every case came back from the sandbox
    message: str = ""
    mistake: str | None = None
    not_attempted: bool = False


@dataclass
class Grade:
    student: str
    notebook: str
    status: str
    max_score: float
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    tampered: list[str] = field(default_factory=list)
    detail: str = ""                # why it is not graded, in words
    stopped_in: str = ""            # not graded: the graded cell ("ex04_backward") or
                                    # "cell N" (index in the notebook) running when it stopped

    @property
    def score(self) -> float | None:
        if self.status != GRADED:
            return None
        return sum(v.points for v in self.verdicts.values())


@dataclass(frozen=True)
class Plan:
    """What every submission of one notebook is graded on (shared by the class)."""
    source: SourceNotebook
    exercises: dict[str, Exercise]  # graded cell's grade_id -> its exercise spec
    cases: dict[str, list]          # exercise id -> cases drawn for this run
    expected: dict[str, list]       # exercise id -> expected result per case
    package_copy: Path              # this notebook's generated microgradlab (withholding.py)
    torch_stub: Path
    runner: Path                    # a world-readable copy of runner.py
    matplotlib_cache: Path | None = None  # copied into each sandbox's empty home


@dataclass(frozen=True)
class Settings:
    timeout_cell: float = 60.0
    timeout_notebook: float = 600.0
    limits: sandbox.Limits = sandbox.Limits()
    unsafe: bool = False            # no bwrap: run the runner as a plain child process
    warm: bool = True               # as root: fork each sandbox's runner from a warm one
    # A cell still running after this many seconds is probably waiting for its
    # timeout (no solution cell takes 4 s): its worker slot is handed on, so the
    # class keeps moving. The timeouts themselves are unchanged.
    lend_after: float = 10.0


# ------------------------------------------------------------------ the sandboxed run
@dataclass
class RunOutcome:
    results: dict[tuple[str, int], dict]
    finished: bool                  # every request sent was answered, to the last cell
    timed_out: str | None           # which limit, in words
    returncode: int | None
    stderr_tail: str
    stopped_in: str = ""            # the graded cell or "cell N" running when it stopped
    protocol_error: str | None = None   # what the sandbox wrote out of protocol
    requests: int = 0               # requests and callbacks, the whole notebook
    busiest: int = 0                # the most requests one cell or case made
    charged: float = 0.0            # seconds charged to the submission (channel.Clock)
    longest: float = 0.0            # the most seconds one cell or case was charged


def run_sandboxed(notebook, plan: Plan, settings: Settings, uid: int | None = None,
                  on_long_cell=None) -> RunOutcome:
    """Start the runner (a server) for ``notebook`` and drive it through it: forked
    from this uid's warm runner (warm.py) when there is one to be had, else started
    cold in a fresh scratch dir.

    ``on_long_cell()`` is called (once) when a cell or case has been charged
    ``settings.lend_after`` seconds (channel.Clock)."""
    if uid is not None and settings.warm and not settings.unsafe:
        outcome = _run_warm(notebook, plan, settings, uid, on_long_cell)
        if outcome is not None:
            return outcome
    return _run_cold(notebook, plan, settings, uid, on_long_cell)


def _run_warm(notebook, plan: Plan, settings: Settings, uid: int,
              on_long_cell=None) -> RunOutcome | None:
    """The run in a child of ``uid``'s warm runner; None when no warm runner would
    start or fork (then nothing of the submission has run)."""
    requests_read, requests_write = os.pipe()
    replies_read, replies_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    child_fds = [requests_read, replies_write, stderr_write]
    ours = [requests_write, replies_read]
    try:
        with sandbox.Confinement(settings.limits, uid) as confinement:
            process = None
            for _ in range(2):  # a runner that stopped answering is replaced once
                try:
                    runner = warm.runner_for(uid, plan, settings.limits)
                    process = runner.spawn(tuple(child_fds), stderr_read)
                    break
                except (warm.WarmUnavailable, OSError):
                    warm.discard(uid)
            if process is None:
                return None
            stderr_read = None  # the child's stderr file now owns it
            try:
                try:
                    confinement.adopt(process.pid)
                except OSError:
                    # Never run a learner outside the submission's cgroup: it has run
                    # nothing yet, so it is killed and the submission starts cold.
                    process.kill()
                    warm.discard(uid)
                    return None
                outcome = _supervise(process, notebook, plan, settings, child_fds, ours,
                                     on_long_cell, confinement)
            finally:
                process.close()
        # Its cgroup is killed: empty what it wrote now, not only before the next
        # child, so its files do not sit in memory meanwhile.
        try:
            runner.empty_writable_folders()
        except OSError:
            warm.discard(uid)
    finally:
        _close_quietly((*child_fds, *ours, *([stderr_read] if stderr_read is not None else [])))
    sandbox.wait_until_uid_is_empty(uid)
    return outcome


def _run_cold(notebook, plan: Plan, settings: Settings, uid: int | None = None,
              on_long_cell=None) -> RunOutcome:
    """The run in a sandbox of its own, started for this submission."""
    # (Removed without recursion, however deep a tree ends up in it.)
    with scratch_folder(prefix="mglab-scratch-") as scratch:
        if plan.matplotlib_cache is not None:
            shutil.copytree(plan.matplotlib_cache, scratch / ".matplotlib")
        requests_read, requests_write = os.pipe()
        replies_read, replies_write = os.pipe()
        fds = f"fds:{requests_read},{replies_write}"
        if settings.unsafe:
            import sys
            cmd = [sys.executable, "-I", str(sandbox.RUNNER), fds, str(plan.package_copy.parent)]
            env = dict(os.environ, MPLBACKEND="Agg", HOME=str(scratch),
                       **{sandbox.GRADING_VARIABLE: "1"}, IPYTHONDIR=str(scratch / ".ipython"),
                       MPLCONFIGDIR=str(scratch / ".matplotlib"))
        else:
            cmd = sandbox.bwrap_command(scratch, plan.package_copy, plan.runner,
                                        plan.torch_stub, fds, uid=uid,
                                        scratch_bytes=settings.limits.scratch_bytes)
            if uid is not None:
                for path in (scratch, *scratch.glob(".matplotlib/**")):
                    os.chown(path, uid, uid)
            env = sandbox.clean_environment()
        # The child's ends are closed by _supervise once the child holds them; what is
        # left in this list is closed here. (Never close an fd twice: another grading
        # thread may have been given the same number in between.)
        child_fds = [requests_read, replies_write]
        try:
            with sandbox.Confinement(settings.limits, uid) as confinement:
                process = subprocess.Popen(
                    cmd, env=env, cwd=scratch, stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                    pass_fds=tuple(child_fds), preexec_fn=confinement.preexec,
                    start_new_session=True)
                outcome = _supervise(process, notebook, plan, settings, child_fds,
                                     (requests_write, replies_read), on_long_cell, confinement)
        finally:
            _close_quietly((*child_fds, requests_write, replies_read))
        if uid is not None:
            sandbox.wait_until_uid_is_empty(uid)
        return outcome


def _close_quietly(fds) -> None:
    """Close each of ``fds``, ignoring one already closed (callers pass only fds this
    submission still owns: see the note in :func:`_run_cold`)."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _supervise(process, notebook, plan: Plan, settings: Settings, child_fds, our_fds,
               on_long_cell=None, confinement: sandbox.Confinement | None = None) -> RunOutcome:
    """Drive ``notebook`` through ``process`` (a ``Popen``, or a warm runner's child
    already in its cgroup) until the end, a timeout or a broken channel; then kill it."""
    while child_fds:
        os.close(child_fds.pop())
    tail = bytearray()

    def drain_stderr():  # keep only the end; stderr never changes a grade
        for chunk in iter(lambda: process.stderr.read(65536), b""):
            tail.extend(chunk)
            del tail[:-STDERR_TAIL]
    reader = threading.Thread(target=drain_stderr, daemon=True)
    reader.start()

    clock = channel.Clock(settings.timeout_cell, settings.timeout_notebook,
                          settings.lend_after, on_long_cell)
    conn = channel.Connection(our_fds[0], our_fds[1], clock)
    results: dict[tuple[str, int], dict] = {}
    where = {"now": "start-up"}
    finished, timed_out, protocol_error = False, None, None
    try:
        finished = drive(notebook, plan, conn, results, where)
    except channel.ChannelBroken:
        pass
    finally:
        broken = conn.broken
        if isinstance(broken, channel.ChannelTimeout):
            timed_out = str(broken)
        elif isinstance(broken, channel.ProtocolError):
            protocol_error = str(broken)
        if isinstance(broken, channel.ChannelClosed):
            try:  # it closed the pipe: let it finish dying, to report its real exit status
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        _kill(process)
        if confinement is not None:
            confinement.kill_all()  # whatever left bwrap's tree is still in the cgroup
        reader.join(timeout=5)
    return RunOutcome(results, finished and broken is None, timed_out, process.returncode,
                      bytes(tail).decode("utf-8", "replace"), where["now"], protocol_error,
                      clock.requests, clock.busiest, clock.charged(),
                      max(clock.longest, clock.in_segment()))


def grade_id_of(cell):
    """The cell's nbgrader grade_id, or None (metadata may be mangled in any way)."""
    metadata = cell.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def drive(notebook, plan: Plan, conn: channel.Connection, results: dict, where: dict) -> bool:
    """Send each code cell to the sandbox in order; at each graded test cell, run the
    exercise's producer here, with proxies. True when the last request was answered.

    ``where["now"]`` names what is running (the graded cell, or "cell N")."""
    graded = [c.grade_id for c in plan.source.graded]
    test_texts = {c.visible_source.strip(): c.grade_id for c in plan.source.graded
                  if c.visible_source.strip()}
    pending = list(graded)
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(line) for line in source)
        if not isinstance(source, str):
            source = ""
        grade_id = grade_id_of(cell)
        if grade_id not in graded:
            # A test cell retyped without its metadata is still a test cell.
            grade_id = test_texts.get(source.strip(), grade_id)
        if grade_id in graded:
            # A graded test cell: its text never runs (the grader owns the test).
            if grade_id in pending:
                pending.remove(grade_id)
                grade_here(plan.exercises[grade_id], plan, conn, results, where)
            continue
        where["now"] = f"cell {index}"
        conn.clock.new_segment()
        conn.request("run_cell", source=source)
    conn.sync()
    # Test cells the learner deleted (or whose metadata they removed): graded on
    # the final state of the notebook, in source order. The grader flags them.
    for grade_id in pending:
        grade_here(plan.exercises[grade_id], plan, conn, results, where)
    return conn.broken is None


def grade_here(exercise: Exercise, plan: Plan, conn: channel.Connection, results: dict,
               where: dict):
    """Every case of one exercise, produced here through the channel, one after another."""
    grade_id = exercise.id
    where["now"] = grade_id
    conn.clock.new_segment()
    names = {}
    for name in exercise.uses:
        try:
            names[name] = conn.request("name", name=name)
        except channel.ChannelBroken:
            raise
        except Exception:  # noqa: BLE001 - not defined: produce says "missing"
            pass
    for name, piece in dict(getattr(exercise, "provides", None) or {}).items():
        try:
            names[name] = conn.request("import", piece=piece)
        except channel.ChannelBroken:
            raise
        except Exception:  # noqa: BLE001 - the producer reports what it lacks
            pass
    for number, case in enumerate(plan.cases[grade_id]):
        conn.clock.new_segment()
        produced = exercise.produce(copy.deepcopy(case), names)
        try:
            conn.sync()
            conn.charge()  # the producer's own work since its last request counts too
        except channel.ChannelBroken:
            pass
        if conn.broken is not None:  # produce may have swallowed it: the case never finished
            raise conn.broken
        results[(grade_id, number)] = plain(produced)


def plain(value, depth=0):
    """``value`` with any proxy left in it replaced by text (results are ours, JSON-able)."""
    if depth > 50:
        return "(nested too deeply)"
    if channel.is_proxy(value):
        return repr(value)
    if isinstance(value, dict):
        return {plain(k, depth + 1): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v, depth + 1) for v in value), key=repr)
    return value


def _kill(process):
    """SIGKILL the sandbox: bwrap's --die-with-parent then takes the whole pid namespace.
    (A warm runner's child is killed alone; its cgroup's kill takes what it started.)"""
    if isinstance(process, warm.WarmChild):
        process.kill()
    elif process.poll() is None:
        for kill in (lambda: os.killpg(process.pid, signal.SIGKILL),
                     lambda: process.kill()):
            try:
                kill()
            except (ProcessLookupError, PermissionError):
                pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


# ------------------------------------------------------------------ scoring
def grade_submission(student: str, notebook: str, path: Path | None, plan: Plan,
                     settings: Settings, uid: int | None = None,
                     on_long_cell=None) -> Grade:
    """The Grade of one submission; ``on_long_cell`` as in :func:`run_sandboxed`."""
    source = plan.source
    grade = Grade(student, notebook, MISSING, source.max_score)
    if path is None:
        grade.detail = "no notebook handed in"
        return grade
    nb = read_notebook(path)
    if isinstance(nb, str):
        grade.status, grade.detail = UNREADABLE, nb
        return grade
    grade.tampered = tampering(source, nb)
    outcome = run_sandboxed(nb, plan, settings, uid, on_long_cell)
    for cell in source.graded:
        grade.verdicts[cell.grade_id] = score(cell, plan, outcome.results)
    if outcome.finished:
        grade.status = GRADED
        return grade
    grade.stopped_in = outcome.stopped_in
    if outcome.timed_out:
        grade.status, grade.detail = TIMEOUT, f"{outcome.timed_out} (in {outcome.stopped_in})"
    elif outcome.protocol_error:
        grade.status = PROTOCOL_ERROR
        grade.detail = (f"the notebook's process broke the grading protocol in "
                        f"{outcome.stopped_in}: {outcome.protocol_error}")
    else:
        grade.status = KERNEL_DIED
        grade.detail = (f"the notebook's process ended early in {outcome.stopped_in} (exit "
                        f"status {outcome.returncode}): os._exit, a crash or the memory cap")
    return grade


def score(cell, plan: Plan, results) -> Verdict:
    """One graded cell, judged by ``checking.verdict``: full points when every case came
    back and passed, else 0 (as nbgrader's verify). ``results[(id, i)]`` is what case i
    produced; a missing one was not delivered."""
    exercise = plan.exercises[cell.grade_id]
    cases = plan.cases[cell.grade_id]
    produced = [results.get((cell.grade_id, number)) for number in range(len(cases))]
    result = checking.verdict(exercise, cases, produced, plan.expected[cell.grade_id])
    return Verdict(cell.grade_id, cell.points if result.passed else 0.0, cell.points,
                   passed=result.passed, delivered=result.delivered, message=result.message,
                   mistake=result.mistake, not_attempted=result.not_attempted)
