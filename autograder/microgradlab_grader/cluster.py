"""Grading past one machine: each submission is a task on a Dask distributed cluster.

    microgradlab grade SUBMISSIONS --scheduler tcp://HOST:8786

The client (the machine running ``microgradlab grade``) reads the submissions
and sends each one's *bytes* with its seed; a worker builds the plans for that
seed once (cases, PyTorch's answers, the stripped package), runs the notebook
in its own bubblewrap sandbox exactly as a local run does, and sends the Grade
back. Only the client writes the gradebook, so a worker that dies mid-run loses
nothing: the scheduler hands its unfinished tasks to another worker.

Each worker needs what a local run needs: this repository (the course tree,
at any path), its ``.venv``, and bubblewrap. A worker whose source notebook
differs from the client's refuses the task (its grades would not be comparable).

``--scheduler local`` (or ``local:N``) starts an in-process LocalCluster with N
single-threaded worker processes; it is there to compare with the default
thread pool (bench/bench_grading.py), which is faster on one machine.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path

from .batch import Interrupted, claim_uid, make_plans, preset_grade
from .grading import GRADER_ERROR, Grade, Settings

DEFAULT_SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"


def source_hash(solutions_dir: Path, notebook: str) -> str:
    path = Path(solutions_dir) / notebook / f"{notebook}.ipynb"
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ on a worker
_lock = threading.Lock()
_plans: dict[tuple[int, str], object] = {}
_workdir: list = []          # the worker's TemporaryDirectory, kept for its lifetime
_local = threading.local()   # each worker thread's sandbox uid (and the lock that holds it)


def _plan(seed: int, notebook: str):
    from microgradlab import checking

    from . import sandbox
    with _lock:
        if (seed, notebook) not in _plans:
            if not _workdir:
                _workdir.append(tempfile.TemporaryDirectory(prefix="mglab-worker-"))
                Path(_workdir[0].name).chmod(0o755)
            folder = Path(_workdir[0].name) / f"seed-{seed}-{notebook}"
            folder.mkdir()
            _plans[(seed, notebook)] = make_plans([notebook], DEFAULT_SOLUTIONS, seed, folder,
                                                  checking.expected,
                                                  sandbox.package_mount_point())[notebook]
        return _plans[(seed, notebook)]


def grade_remote(student: str, notebook: str, content: bytes, seed: int, settings: Settings,
                 expected_source: str) -> Grade:
    """Runs on a worker: grade one submission given as bytes, in this worker's sandbox."""
    from .grading import grade_submission
    mine = source_hash(DEFAULT_SOLUTIONS, notebook)
    if mine != expected_source:
        raise RuntimeError(f"this worker's solutions/{notebook} differs from the client's: "
                           "check out the same commit on every machine")
    plan = _plan(seed, notebook)
    if not hasattr(_local, "uid"):
        _local.uid, _local.lock = claim_uid()
    with tempfile.TemporaryDirectory(prefix="mglab-task-") as folder:
        path = Path(folder) / f"{notebook}.ipynb"
        path.write_bytes(content)
        return grade_submission(student, notebook, path, plan, settings, uid=_local.uid)


# ------------------------------------------------------------------ on the client
class ClusterError(ValueError):
    """The scheduler cannot be reached, or the address is not one."""


def connect(address: str):
    """A distributed Client for ``address`` (``local`` or ``local:N`` starts a LocalCluster)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError("--scheduler needs the dask and distributed packages "
                           "(pip install -r requirements.lock)") from None
    if address == "local" or address.startswith("local:"):
        count = address.split(":", 1)[1] if ":" in address else "2"
        if not count.isdigit() or int(count) < 1:
            raise ClusterError(f"--scheduler {address}: write local or local:N (N workers)")
        cluster = LocalCluster(n_workers=int(count), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster)
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: "
                           f"{type(exc).__name__}: {exc}") from None


def grade_on_cluster(submissions, notebooks, solutions_dir: Path, settings: Settings,
                     address: str, seed_of: dict, on_graded=None, progress=None) -> list[Grade]:
    """Every submission graded by the cluster at ``address``; ``on_graded(grade)`` runs
    here, in the client, as each arrives. Ctrl-C cancels what is left (tasks already
    running finish on their workers, up to their timeouts) and raises Interrupted."""
    from distributed import as_completed

    from .source import load_source
    sources = {n: load_source(solutions_dir, n) for n in notebooks}
    hashes = {n: source_hash(solutions_dir, n) for n in notebooks}
    grades: list[Grade] = []

    def deliver(grade):
        grades.append(grade)
        if on_graded is not None:
            on_graded(grade)
        if progress is not None:
            progress.update(1)

    client = connect(address)
    try:
        futures, owner = [], {}
        for s in submissions:
            max_score = sources[s.notebook].max_score
            preset = preset_grade(s, max_score)
            if preset is not None:
                deliver(preset)
                continue
            if s.path is None:
                deliver(Grade(s.student, s.notebook, "missing", max_score,
                              detail="no notebook handed in"))
                continue
            future = client.submit(grade_remote, s.student, s.notebook, Path(s.path).read_bytes(),
                                   seed_of[(s.student, s.notebook)], settings, hashes[s.notebook],
                                   pure=False, retries=2)
            futures.append(future)
            owner[future.key] = (s, max_score)
        try:
            for future in as_completed(futures):
                s, max_score = owner[future.key]
                try:
                    grade = future.result()
                except Exception as exc:  # noqa: BLE001 - one bad row must not stop the class
                    grade = Grade(s.student, s.notebook, GRADER_ERROR, max_score,
                                  detail=f"on the cluster: {type(exc).__name__}: {exc}"[:300])
                deliver(grade)
        except KeyboardInterrupt:
            client.cancel(futures)
            raise Interrupted(list(grades)) from None
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()
    return grades
