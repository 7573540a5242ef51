"""Grade one (student, notebook): run it sandboxed, compare in our own process.

The learner's code only ever *produces numbers* (inside the sandbox). Whether
those numbers are right is decided here, by ``microgradlab.checking.compare``
against ``microgradlab.checking.expected`` (PyTorch, float64), which the
learner's code can neither see nor patch. So the worst a notebook can do to
the harness is produce nothing, and nothing scores 0.

Statuses (a row that is not ``graded`` has an empty score, never a 0):

``graded``       the runner reached the end; every exercise scored
``missing``      no notebook handed in
``unreadable``   not JSON, not nbformat 4, not a notebook
``timeout``      a cell ran past ``--timeout-cell`` or the notebook past
                 ``--timeout-notebook``; the sandbox was SIGKILLed
``kernel_died``  the process ended before the end (``os._exit``, a crash, the memory cap)
``grader_error`` the grader itself failed on this submission (a bug to report); the
                 rest of the class is still graded
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import sandbox
from .source import SourceNotebook, tampering
from .untrusted import read_notebook

GRADED, MISSING, UNREADABLE, TIMEOUT, KERNEL_DIED, GRADER_ERROR = (
    "graded", "missing", "unreadable", "timeout", "kernel_died", "grader_error")
MAX_MESSAGE_BYTES = 4 * 1024**2   # all results of one notebook; more is ignored
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

    @property
    def score(self) -> float | None:
        if self.status != GRADED:
            return None
        return sum(v.points for v in self.verdicts.values())


@dataclass(frozen=True)
class Plan:
    """What every submission of one notebook is graded on (shared by the class)."""
    source: SourceNotebook
    cases: dict[str, list]          # exercise id -> cases drawn for this run
    expected: dict[str, list]       # exercise id -> expected result per case
    package_copy: Path              # stripped microgradlab for this notebook
    torch_stub: Path
    runner: Path                    # a world-readable copy of runner.py
    matplotlib_cache: Path | None = None  # copied into each sandbox's empty home


@dataclass(frozen=True)
class Settings:
    timeout_cell: float = 60.0
    timeout_notebook: float = 600.0
    limits: sandbox.Limits = sandbox.Limits()
    unsafe: bool = False            # no bwrap: run the runner as a plain child process
    # A cell still running after this many seconds is probably waiting for its
    # timeout (no solution cell takes 4 s): its worker slot is handed on, so the
    # class keeps moving. The timeouts themselves are unchanged.
    lend_after: float = 10.0


# ------------------------------------------------------------------ the sandboxed run
@dataclass
class RunOutcome:
    results: dict[tuple[str, int], dict]
    finished: bool
    timed_out: str | None           # which limit, in words
    returncode: int | None
    stderr_tail: str


def run_sandboxed(notebook, plan: Plan, settings: Settings, uid: int | None = None,
                  on_long_cell=None) -> RunOutcome:
    """Run the runner on ``notebook`` in a fresh scratch dir; collect its results.

    ``on_long_cell()`` is called (once) when a cell has run ``settings.lend_after`` seconds."""
    graded = [{"grade_id": c.grade_id, "exercise": c.grade_id, "cases": plan.cases[c.grade_id]}
              for c in plan.source.graded]
    order = [c.grade_id for c in plan.source.graded]
    with tempfile.TemporaryDirectory(prefix="mglab-scratch-") as scratch:
        scratch = Path(scratch)
        (scratch / "submission.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
        inside = "/scratch" if not settings.unsafe else str(scratch)
        read_end, write_end = os.pipe()
        job = {"notebook": f"{inside}/submission.ipynb", "graded": graded, "order": order,
               "skip": order, "result_fd": write_end,
               "test_texts": {c.grade_id: c.visible_source for c in plan.source.graded}}
        (scratch / "job.json").write_text(json.dumps(job), encoding="utf-8")
        if plan.matplotlib_cache is not None:
            shutil.copytree(plan.matplotlib_cache, scratch / ".matplotlib")
        if settings.unsafe:
            import sys
            cmd = [sys.executable, str(sandbox.RUNNER), str(scratch / "job.json")]
            env = dict(os.environ, MPLBACKEND="Agg", HOME=str(scratch),
                       **{sandbox.GRADING_VARIABLE: "1"}, IPYTHONDIR=str(scratch / ".ipython"),
                       MPLCONFIGDIR=str(scratch / ".matplotlib"))
        else:
            cmd = sandbox.bwrap_command(scratch, plan.package_copy, plan.runner,
                                        plan.torch_stub, "/scratch/job.json", uid=uid,
                                        scratch_bytes=settings.limits.scratch_bytes)
            if uid is not None:
                for path in (scratch, *scratch.glob(".matplotlib/**")):
                    os.chown(path, uid, uid)
            env = sandbox.clean_environment()
        with sandbox.Confinement(settings.limits, uid) as confinement:
            outcome = _supervise(cmd, env, scratch, settings, write_end, read_end, on_long_cell,
                                 confinement)
        if uid is not None:
            sandbox.wait_until_uid_is_empty(uid)
        return outcome


def _supervise(cmd, env, cwd, settings: Settings, write_end: int, read_end: int,
               on_long_cell=None, confinement: sandbox.Confinement | None = None) -> RunOutcome:
    preexec = (confinement.preexec if confinement is not None
               else sandbox.set_limits(settings.limits))
    process = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, pass_fds=(write_end,),
        preexec_fn=preexec, start_new_session=True)
    os.close(write_end)
    tail = bytearray()

    def drain_stderr():  # keep only the end; stderr never changes a grade
        for chunk in iter(lambda: process.stderr.read(65536), b""):
            tail.extend(chunk)
            del tail[:-STDERR_TAIL]
    reader = threading.Thread(target=drain_stderr, daemon=True)
    reader.start()

    results: dict[tuple[str, int], dict] = {}
    finished, timed_out = False, None
    buffer, received = b"", 0
    start = time.monotonic()
    cell_started = start
    selector = selectors.DefaultSelector()
    selector.register(read_end, selectors.EVENT_READ)
    try:
        while True:
            now = time.monotonic()
            if now - start > settings.timeout_notebook:
                timed_out = f"the notebook ran longer than {settings.timeout_notebook:g} s"
                break
            if now - cell_started > settings.timeout_cell:
                timed_out = f"a cell ran longer than {settings.timeout_cell:g} s"
                break
            if on_long_cell is not None and now - cell_started > settings.lend_after:
                on_long_cell()
                on_long_cell = None
            wait = min(settings.timeout_notebook - (now - start),
                       settings.timeout_cell - (now - cell_started))
            if not selector.select(timeout=max(0.01, min(wait, 1.0))):
                continue
            chunk = os.read(read_end, 65536)
            if not chunk:
                break  # the sandbox closed the pipe: it ended
            received += len(chunk)
            if received > MAX_MESSAGE_BYTES:
                continue  # a flood: keep reading so the child is not blocked, keep nothing
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if finished:
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                event = message.get("event")
                if event in ("cell", "case"):
                    cell_started = time.monotonic()
                elif event == "result":
                    key = (message.get("exercise"), message.get("case"))
                    if isinstance(key[0], str) and isinstance(key[1], int) and key not in results:
                        results[key] = message.get("produced")  # the first word is final
                elif event == "done":
                    finished = True
            if finished:
                break
    finally:
        selector.close()
        os.close(read_end)
        if not finished and not timed_out:
            try:  # it closed the pipe: let it finish dying, to report its real exit status
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        _kill(process)
        if confinement is not None:
            confinement.kill_all()  # whatever left bwrap's tree is still in the cgroup
        reader.join(timeout=5)
    return RunOutcome(results, finished, timed_out, process.returncode,
                      bytes(tail).decode("utf-8", "replace"))


def _kill(process):
    """SIGKILL the sandbox: bwrap's --die-with-parent then takes the whole pid namespace."""
    if process.poll() is None:
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
                     settings: Settings, compare, uid: int | None = None,
                     on_long_cell=None) -> Grade:
    """The Grade of one submission. ``compare(exercise_id, case, produced, expected)``;
    ``on_long_cell`` as in :func:`run_sandboxed`."""
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
        grade.verdicts[cell.grade_id] = score_exercise(cell, plan, outcome.results, compare)
    if outcome.finished:
        grade.status = GRADED
    elif outcome.timed_out:
        grade.status, grade.detail = TIMEOUT, outcome.timed_out
    else:
        grade.status = KERNEL_DIED
        grade.detail = (f"the notebook's process ended early (exit status "
                        f"{outcome.returncode}): os._exit, a crash or the memory cap")
    return grade


def score_exercise(cell, plan: Plan, results, compare) -> Verdict:
    """Full points when every case came back and passed; else 0 (as nbgrader's verify)."""
    exercise = cell.grade_id
    cases = plan.cases[exercise]
    verdict = Verdict(exercise, 0.0, cell.points, passed=False, delivered=True)
    failures = []
    for number, case in enumerate(cases):
        produced = results.get((exercise, number))
        if produced is None:
            verdict.delivered = False
            failures.append((case, None))
            continue
        try:
            outcome = compare(exercise, case, produced, plan.expected[exercise][number])
        except Exception as exc:  # noqa: BLE001 - a malformed result is a failed case
            failures.append((case, f"the result could not be checked ({type(exc).__name__})"))
            continue
        if not outcome.passed:
            failures.append((case, outcome))
    if not verdict.delivered:
        verdict.message = "no result: the code stopped before this exercise was tested"
        return verdict
    if not failures:
        verdict.passed, verdict.points = True, cell.points
        verdict.message = f"all {len(cases)} cases pass"
        return verdict
    case, first = failures[0]
    if isinstance(first, str):
        verdict.message = first
    else:
        verdict.message = first.message
        verdict.not_attempted = all(not isinstance(f, str) and f.not_attempted
                                    for _, f in failures)
        verdict.mistake = next((f.mistake for _, f in failures
                                if not isinstance(f, str) and f.mistake), None)
    verdict.message = f"{len(failures)} of {len(cases)} cases fail. {verdict.message}"
    return verdict
