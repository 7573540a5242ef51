"""Grading a whole class: draw the cases once, compute PyTorch's answers once,
then fan the submissions out over sandboxed worker processes.

Each worker thread only supervises one sandbox at a time (a separate process
running the learner's notebook) and then judges that learner's numbers; the
threads spend nearly all their time waiting, so ``--workers N`` means "N
notebooks running at once".

Endless loops would otherwise decide the class's wall time: every one holds a
worker for the whole cell timeout (60 s) while honest notebooks take 1-5 s.
So a worker slot is *lent*: a sandbox whose cell has run past
``Settings.lend_after`` gives its slot to the next submission and waits out
its timeout beside the others. At most ``2N`` sandboxes are alive at once, and
the limits each one is judged by do not change.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import ExitStack
from pathlib import Path

from microgradlab.exercises import NOTEBOOKS, get
from microgradlab.exercises.seeds import course_seed, exercise_seed

from . import builds, sandbox, warm
from .course import course_id_from_config
from .grading import GRADER_ERROR, Grade, Plan, Settings, grade_submission
from .source import load_source
from .submissions import Submission


class Interrupted(Exception):
    """Ctrl-C while grading: the sandboxes are killed; ``grades`` are the ones finished."""

    def __init__(self, grades):
        super().__init__(f"interrupted after {len(grades)} grades")
        self.grades = grades


def preset_grade(s: Submission, max_score: float) -> Grade | None:
    """A submission discovery already judged (e.g. a symbolic link): never run, row says why."""
    status = getattr(s, "status", None)
    if not status:
        return None
    return Grade(s.student, s.notebook, status, max_score,
                 detail=getattr(s, "detail", "") or status)


def claim_uid():
    """(uid, lease) for a process that grades beside others on one machine (a Dask
    worker thread): one uid leased to it for as long as ``lease`` stays open
    (``sandbox.allocate_uids``, lock files; None as non-root)."""
    lease = contextlib.ExitStack()
    (uid,) = lease.enter_context(sandbox.allocate_uids(1))
    return uid, lease


class _Uids:
    """A run's leased uids. A thread takes a free uid whose warm runner is built for its
    notebook when there is one, else the free uid that waited longest."""

    def __init__(self, uids):
        self.free = list(uids)
        self._changed = threading.Condition()

    def take(self, plan: Plan, limits: sandbox.Limits):
        with self._changed:
            while not self.free:
                self._changed.wait()
            ready = [i for i, uid in enumerate(self.free) if warm.serves(uid, plan, limits)]
            return self.free.pop(ready[0] if ready else 0)

    def give(self, uid) -> None:
        with self._changed:
            self.free.append(uid)
            self._changed.notify()


def kill_sandboxes() -> None:
    """SIGKILL every process this grader started (sandboxes run in sessions of their
    own, so the terminal's Ctrl-C never reaches them). bwrap's --die-with-parent
    takes each sandbox's whole pid namespace with it."""
    import psutil
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        try:
            child.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass


def draw_cases(source, run_seed: int, expected) -> tuple[dict, dict, dict]:
    """(exercises, cases, answers) of one notebook for ``run_seed``: grade id -> its
    spec (an id becomes its spec here, once), the cases drawn, and
    ``expected(exercise, case)`` for each (PyTorch's side)."""
    exercises, cases, answers = {}, {}, {}
    for cell in source.graded:
        exercise = get(cell.grade_id)
        drawn = exercise.cases(exercise_seed(run_seed, exercise.id))
        exercises[cell.grade_id] = exercise
        cases[cell.grade_id] = drawn
        answers[cell.grade_id] = [expected(exercise, case) for case in drawn]
    return exercises, cases, answers


def make_plans(notebooks: list[str], solutions_dir: Path, run_seed: int, workdir: Path,
               expected) -> dict[str, Plan]:
    """For each notebook: the source's graded cells, the cases, PyTorch's answers, the
    notebook's generated package (withholding.build_package, kept between runs by
    builds.package; mounted read-only for every learner)."""
    torch_stub, runner = sandbox.write_support_files(workdir)
    matplotlib_cache = builds.matplotlib_fonts(workdir)
    plans = {}
    for notebook in notebooks:
        source = load_source(solutions_dir, notebook)
        exercises, cases, answers = draw_cases(source, run_seed, expected)
        package = builds.package(notebook, workdir / f"package-{notebook}" / "microgradlab")
        plans[notebook] = Plan(source=source, exercises=exercises, cases=cases,
                               expected=answers, package_copy=package, torch_stub=torch_stub,
                               runner=runner, matplotlib_cache=matplotlib_cache)
    return plans


def grade_class(submissions: list[Submission], notebooks: list[str], solutions_dir: Path,
                settings: Settings, workers: int | None = None, seed: int | None = None,
                progress=None, on_graded=None, seeds: dict | None = None) -> list[Grade]:
    """Every submission's Grade, in (student, notebook) order.

    ``seeds`` maps (student, notebook) to the seed of that row's cases (a regrade
    reuses the seed the row was graded with); every other submission uses ``seed``,
    or, when it is None, the course seed of its notebook (the course id in
    autograder/nbgrader_config.py).
    ``on_graded(grade)`` runs in this thread as each grade arrives (the gradebook
    row and the feedback page are written then, while the sandboxes keep the cores
    busy). Ctrl-C kills the running sandboxes and raises :class:`Interrupted`
    holding the grades that had finished; nothing unfinished reaches ``on_graded``."""
    from microgradlab import checking

    unknown = [n for n in notebooks if n not in NOTEBOOKS]
    if unknown:
        raise KeyError(f"unknown notebook(s) {', '.join(unknown)}; known: {', '.join(NOTEBOOKS)}")
    seeds = seeds or {}
    course_id = course_id_from_config() if seed is None and len(seeds) < len(submissions) \
        else None

    def default(notebook: str) -> int:
        return seed if seed is not None else course_seed(course_id, notebook)
    seed_of = {(s.student, s.notebook): seeds.get((s.student, s.notebook), default(s.notebook))
               for s in submissions}
    workers = workers or os.cpu_count() or 1
    stop = threading.Event()
    grades: list[Grade] = []

    def deliver(grade: Grade) -> None:
        grades.append(grade)
        if on_graded is not None:
            on_graded(grade)
        if progress is not None:
            progress.update(1)

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mglab-grade-")))
        os.chmod(workdir, 0o755)
        # Plans for each (seed, notebook) in use: course seeds differ per notebook, and a
        # regrade may bring older seeds; a plan is never built for a pair nobody uses.
        plans: dict[int, dict[str, Plan]] = {}
        for run_seed in sorted(set(seed_of.values())):
            folder = workdir / f"seed-{run_seed}"
            folder.mkdir()
            with_seed = {n for (_, n), v in seed_of.items() if v == run_seed}
            used = [n for n in notebooks if n in with_seed]
            plans[run_seed] = make_plans(used, solutions_dir, run_seed, folder,
                                         checking.expected)
        to_run = []
        for s in submissions:
            preset = preset_grade(s, plans[seed_of[(s.student, s.notebook)]][s.notebook]
                                  .source.max_score)
            if preset is None:
                to_run.append(s)
            else:
                deliver(preset)
        # Notebook by notebook: each thread's warm runner (warm.py) is built for one
        # notebook, and serves every submission of it that the thread takes.
        order = {n: i for i, n in enumerate(NOTEBOOKS)}
        to_run.sort(key=lambda s: order[s.notebook])
        running = threading.Semaphore(workers)  # sandboxes that still hold a worker slot
        threads = 2 * workers                   # holders plus lenders: at most 2N sandboxes alive
        # As root, each thread runs its sandboxes as a uid of its own, leased to
        # this run alone (sandbox.allocate_uids): one learner's fork bomb cannot use
        # up another's process allowance, nor another grading run's.
        uids = _Uids(stack.enter_context(sandbox.allocate_uids(threads)))

        def grade_one(s: Submission) -> Grade | None:
            running.acquire()
            lent = threading.Event()

            def lend():  # called at most once, from this thread
                lent.set()
                running.release()
            plan = plans[seed_of[(s.student, s.notebook)]][s.notebook]
            uid = uids.take(plan, settings.limits)
            try:
                if stop.is_set():
                    return None
                return grade_submission(s.student, s.notebook, s.path, plan,
                                        settings, uid=uid, on_long_cell=lend)
            except Exception as exc:  # noqa: BLE001 - one bad row must not stop the class
                return Grade(s.student, s.notebook, GRADER_ERROR, plan.source.max_score,
                             detail=f"{type(exc).__name__}: {exc}"[:300])
            finally:
                uids.give(uid)
                if not lent.is_set():
                    running.release()

        pool = ThreadPoolExecutor(max_workers=threads)
        futures = {pool.submit(grade_one, s) for s in to_run}
        try:
            pending = futures
            while pending:
                # A short wait, not a blocking one, so Ctrl-C is seen at once.
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    if not stop.is_set():
                        deliver(future.result())
        except KeyboardInterrupt:
            stop.set()
            for future in futures:
                future.cancel()
            # A thread may be between its stop check and starting a sandbox: sweep
            # until every thread has returned. What they return is discarded (a
            # killed sandbox is not a grade).
            while not all(f.done() for f in futures):
                kill_sandboxes()
                wait(futures, timeout=0.2)
            pool.shutdown(wait=True, cancel_futures=True)
            raise Interrupted(list(grades)) from None
        pool.shutdown(wait=True)
    order = {n: i for i, n in enumerate(NOTEBOOKS)}
    grades.sort(key=lambda g: (g.student, order[g.notebook]))
    return grades
