"""Grading a whole class: draw the cases once, compute PyTorch's answers once,
then fan the submissions out over sandboxed worker processes.

Each worker thread only supervises one sandbox at a time (a separate process
running the learner's notebook) and then compares that learner's numbers; the
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

import os
import queue
import random
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from pathlib import Path

from microgradlab.exercises import NOTEBOOKS, get

from . import sandbox
from .grading import GRADER_ERROR, Grade, Plan, Settings, grade_submission
from .source import load_source
from .submissions import Submission


def exercise_seed(run_seed: int, exercise_id: str) -> int:
    """One seed per exercise, derived from the run's seed (stable across runs and machines)."""
    return random.Random(f"{run_seed}:{exercise_id}").getrandbits(32)


def make_plans(notebooks: list[str], solutions_dir: Path, run_seed: int, workdir: Path,
               expected, package_dir: Path) -> dict[str, Plan]:
    """For each notebook: the source's graded cells, the cases, PyTorch's answers, the
    stripped package (built once per notebook, mounted read-only for every learner)."""
    torch_stub, runner = sandbox.write_support_files(workdir)
    matplotlib_cache = sandbox.build_matplotlib_cache(workdir)
    plans = {}
    for notebook in notebooks:
        source = load_source(solutions_dir, notebook)
        cases, answers = {}, {}
        for cell in source.graded:
            drawn = get(cell.grade_id).cases(exercise_seed(run_seed, cell.grade_id))
            cases[cell.grade_id] = drawn
            answers[cell.grade_id] = [expected(cell.grade_id, case) for case in drawn]
        package = sandbox.build_stripped_package(package_dir, notebook,
                                                 workdir / f"package-{notebook}" / "microgradlab")
        plans[notebook] = Plan(source, cases, answers, package, torch_stub, runner,
                               matplotlib_cache)
    return plans


def grade_class(submissions: list[Submission], notebooks: list[str], solutions_dir: Path,
                settings: Settings, workers: int | None = None, seed: int | None = None,
                progress=None, on_graded=None) -> list[Grade]:
    """Every submission's Grade, in (student, notebook) order.

    ``on_graded(grade)`` runs in this thread as each grade arrives (the feedback
    page is written then, while the sandboxes keep the cores busy)."""
    from microgradlab import checking

    unknown = [n for n in notebooks if n not in NOTEBOOKS]
    if unknown:
        raise KeyError(f"unknown notebook(s) {', '.join(unknown)}; known: {', '.join(NOTEBOOKS)}")
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    workers = workers or os.cpu_count() or 1
    package_dir = sandbox.package_mount_point()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mglab-grade-")))
        os.chmod(workdir, 0o755)
        plans = make_plans(notebooks, solutions_dir, seed, workdir, checking.expected, package_dir)
        grades = []
        running = threading.Semaphore(workers)  # sandboxes that still hold a worker slot
        threads = 2 * workers                   # holders plus lenders: at most 2N sandboxes alive
        # As root, each thread runs its sandboxes as a uid of its own, leased to
        # this run alone (sandbox.allocate_uids): one learner's fork bomb cannot use
        # up another's process allowance, nor another grading run's.
        uids: queue.Queue = queue.Queue()
        for uid in stack.enter_context(sandbox.allocate_uids(threads)):
            uids.put(uid)

        def grade_one(s: Submission) -> Grade:
            running.acquire()
            lent = threading.Event()

            def lend():  # called at most once, from this thread
                lent.set()
                running.release()
            uid = uids.get()
            try:
                return grade_submission(s.student, s.notebook, s.path, plans[s.notebook],
                                        settings, checking.compare, uid=uid, on_long_cell=lend)
            except Exception as exc:  # noqa: BLE001 - one bad row must not stop the class
                return Grade(s.student, s.notebook, GRADER_ERROR, plans[s.notebook].source.max_score,
                             detail=f"{type(exc).__name__}: {exc}"[:300])
            finally:
                uids.put(uid)
                if not lent.is_set():
                    running.release()

        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(grade_one, s) for s in submissions]
            for future in as_completed(futures):
                grades.append(future.result())
                if on_graded is not None:
                    on_graded(grades[-1])
                if progress is not None:
                    progress.update(1)
    order = {n: i for i, n in enumerate(NOTEBOOKS)}
    grades.sort(key=lambda g: (g.student, order[g.notebook]))
    return grades
