"""Grading past one machine: each submission is a task on a Dask distributed cluster.

    microgradlab grade SUBMISSIONS --scheduler tls://HOST:8786 --cluster-certs DIR

The client (the machine running ``microgradlab grade``) draws every
(seed, notebook)'s cases and computes PyTorch's answers *once*, and hands them
to the workers through the scheduler (``Client.scatter``, broadcast): a worker
never imports PyTorch. Each task is one submission's bytes; the worker runs it
in its own bubblewrap sandbox and cgroup exactly as a local run does, judges the
numbers against the shared answers, and sends the Grade back. Only the client
writes the gradebook, so a worker that dies mid-run loses nothing: the scheduler
hands its unfinished tasks to another worker.

A task whose cell has run ``Settings.lend_after`` seconds (a learner's endless
loop, waiting out its timeout) *lends* its worker's slot, as the thread pool
does: it leaves the worker's thread pool (Dask's ``secede``), the scheduler
gives that worker another task, and the lender finishes beside it. At most as
many tasks lend at once as the worker has threads, so a worker has at most
twice its threads' sandboxes alive; the timeouts themselves do not change.

Addresses (:func:`connect`):

* ``tls://HOST:PORT`` with ``--cluster-certs DIR`` (made by ``microgradlab
  cluster-certs``): mutual TLS, the documented path;
* ``tcp://HOST:PORT`` only with ``--insecure``: whoever reaches a plain Dask
  scheduler runs code on every worker, as root;
* ``local`` or ``local:N``: a LocalCluster of N single-threaded worker processes
  on this machine, speaking TLS with a throw-away certificate
  (``Security.temporary()``), for comparison with the default thread pool.

Each worker needs what a local run needs: this repository (at any path, at the
same commit: a worker whose course code differs from the client's refuses the
task), its ``.venv`` and bubblewrap.
"""

from __future__ import annotations

import pickle
import queue
import tempfile
import threading
from pathlib import Path

from microgradlab.exercises import NOTEBOOKS, get

from .batch import Interrupted, claim_uid, draw_cases, preset_grade
from .fingerprints import course_fingerprint, source_hash  # noqa: F401 - cli imports it here
from .grading import GRADER_ERROR, Grade, Plan, Settings

DEFAULT_SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"


class ClusterError(ValueError):
    """The scheduler cannot be reached, or may not be used as given."""


# ------------------------------------------------------------------ on a worker
class WorkerState:
    """What one worker process keeps between tasks: the support files and the
    generated package per notebook (built once), the plans per (seed, notebook),
    the sandbox uids it has leased, and how many of its tasks are lending."""

    def __init__(self):
        self.lock = threading.Lock()
        self.workdir = None
        self.support = None                 # (torch_stub, runner, matplotlib_cache)
        self.packages: dict[str, Path] = {}
        self.sources: dict[str, object] = {}
        self.plans: dict[tuple[int, str], Plan] = {}
        self.uids: queue.SimpleQueue = queue.SimpleQueue()
        self.leases: list = []              # kept open for the process's lifetime
        self.lending = 0

    def prepare(self, notebook: str) -> None:
        """Build what every plan of ``notebook`` shares: the support files (runner, torch
        blocker, matplotlib's font list), the generated package, the graded cells (with
        nbformat and nbgrader imported)."""
        from . import builds, sandbox
        from .source import load_source
        with self.lock:
            if self.workdir is None:
                self.workdir = tempfile.TemporaryDirectory(prefix="mglab-worker-")
                Path(self.workdir.name).chmod(0o755)
            work = Path(self.workdir.name)
            if self.support is None:
                torch_stub, runner = sandbox.write_support_files(work)
                self.support = (torch_stub, runner, builds.matplotlib_fonts(work))
            if notebook not in self.packages:
                self.sources[notebook] = load_source(DEFAULT_SOLUTIONS, notebook)
                self.packages[notebook] = builds.package(
                    notebook, work / f"package-{notebook}" / "microgradlab")

    def plan(self, seed: int, notebook: str, shared: dict) -> Plan:
        self.prepare(notebook)
        with self.lock:
            plan = self.plans.get((seed, notebook))
            if plan is None:
                cases, answers = shared[(seed, notebook)]
                exercises = {grade_id: get(grade_id) for grade_id in cases}
                remember_shown_answers(exercises, cases, answers)
                torch_stub, runner, matplotlib_cache = self.support
                plan = Plan(source=self.sources[notebook], exercises=exercises, cases=cases,
                            expected=answers, package_copy=self.packages[notebook],
                            torch_stub=torch_stub, runner=runner,
                            matplotlib_cache=matplotlib_cache)
                self.plans[(seed, notebook)] = plan
            return plan

    def take_uid(self):
        try:
            return self.uids.get_nowait()
        except queue.Empty:
            uid, lease = claim_uid()
            with self.lock:
                self.leases.append(lease)
            return uid

    def give_back(self, uid) -> None:
        self.uids.put(uid)

    def try_to_lend(self, limit: int) -> bool:
        with self.lock:
            if self.lending >= limit:
                return False
            self.lending += 1
            return True

    def lent_back(self) -> None:
        with self.lock:
            self.lending -= 1


_state = WorkerState()


def remember_shown_answers(exercises: dict, cases: dict, answers: dict) -> None:
    """Put PyTorch's answers to the shown cases, as the client computed them, where
    ``checking.expected`` looks first. ``compare`` asks for them to recognise numbers
    typed in from the notebook; with them remembered, a worker never imports torch
    (tests/test_dask.py checks that it does not)."""
    import importlib
    module = importlib.import_module("microgradlab.checking.expected")
    cache, key = getattr(module, "_CACHE", None), getattr(module, "_key", None)
    if cache is None or key is None:
        return
    for grade_id, drawn in cases.items():
        for case, answer in zip(drawn, answers[grade_id]):
            if case.get("shown"):
                cache[key(exercises[grade_id], case)] = answer


def _lender():
    """(lend, lent): ``lend()`` makes this task leave the worker's thread pool, if the
    worker has a lending place left; ``lent()`` says whether it did."""
    from distributed import get_worker, secede
    done = []

    def lend():
        try:
            limit = get_worker().state.nthreads
        except (ValueError, AttributeError):  # not on a worker (called directly)
            return
        if _state.try_to_lend(limit):
            secede()
            done.append(True)
    return lend, lambda: bool(done)


def prepare_worker(notebooks: list[str]) -> None:
    """Runs on a worker, first: everything the class's plans share but the cases and
    answers, while the client is still computing those."""
    for notebook in notebooks:
        _state.prepare(notebook)


def grade_remote(student: str, notebook: str, content: bytes, seed: int, settings: Settings,
                 fingerprint: str, shared: dict) -> Grade:
    """Runs on a worker: grade one submission given as bytes, in its own sandbox,
    against the cases and answers the client shared (``shared[(seed, notebook)]``)."""
    from .grading import grade_submission
    mine = course_fingerprint(DEFAULT_SOLUTIONS, notebook)
    if mine != fingerprint:
        raise RuntimeError(f"this worker's course code or solutions/{notebook} differs from "
                           "the client's: check out the same commit on every machine")
    plan = _state.plan(seed, notebook, shared)
    uid = _state.take_uid()
    lend, lent = _lender()
    try:
        with tempfile.TemporaryDirectory(prefix="mglab-task-") as folder:
            path = Path(folder) / f"{notebook}.ipynb"
            path.write_bytes(content)
            return grade_submission(student, notebook, path, plan, settings,
                                    uid=uid, on_long_cell=lend)
    finally:
        _state.give_back(uid)
        if lent():
            _state.lent_back()


# ------------------------------------------------------------------ on the client
PLAIN_REFUSED = (
    "refusing plain {address}: whoever can reach a Dask scheduler without a certificate "
    "runs code on every worker (as root, where the sandbox needs root). Start the cluster "
    "with TLS (`microgradlab cluster-certs DIR` prints the commands) and grade with "
    "--scheduler tls://HOST:PORT --cluster-certs DIR, or pass --insecure on a network "
    "nobody else can reach.")


def check_address(address: str, certs: Path | None, insecure: bool) -> str:
    """``address``'s kind ("local", "tls" or "tcp") once it may be used as given; else a
    ClusterError that says what to do. Reads the certificate folder, imports no Dask."""
    from .certs import CertificateError, check_role_files
    if address == "local" or address.startswith("local:"):
        count = address.split(":", 1)[1] if ":" in address else "2"
        if not count.isdigit() or int(count) < 1:
            raise ClusterError(f"--scheduler {address}: write local or local:N (N workers)")
        return "local"
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"
    if scheme == "tls":
        if certs is None:
            raise ClusterError(f"--scheduler {address} needs --cluster-certs DIR, the folder "
                               "`microgradlab cluster-certs` made (ca.pem, client.pem, "
                               "client.key)")
        try:
            check_role_files(certs, "client")
        except CertificateError as exc:
            raise ClusterError(f"--cluster-certs: {exc}") from None
        return "tls"
    if scheme == "tcp":
        if not insecure:
            raise ClusterError(PLAIN_REFUSED.format(address=address))
        return "tcp"
    raise ClusterError(f"--scheduler {address}: write tls://HOST:PORT (or tcp://HOST:PORT "
                       "with --insecure, or local[:N])")


def connect(address: str, certs: Path | None = None, insecure: bool = False):
    """A distributed Client for ``address`` (``local`` or ``local:N`` starts a LocalCluster)."""
    kind = check_address(address, certs, insecure)
    try:
        from distributed import Client, LocalCluster
        from distributed.security import Security
    except ImportError:
        raise ClusterError("--scheduler needs the dask and distributed packages "
                           "(pip install -r requirements.lock)") from None
    if kind == "local":
        count = int(address.split(":", 1)[1]) if ":" in address else 2
        try:
            security = Security.temporary()
        except ImportError as exc:
            raise ClusterError(f"--scheduler {address}: {exc}") from None
        cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                               dashboard_address=None, protocol="tls://", host="127.0.0.1",
                               security=security)
        return Client(cluster, security=security)
    if kind == "tls":
        from .certs import security_for
        security = security_for(certs, "client")
    else:
        security = None
    try:
        return Client(address, timeout="20s", security=security)
    except (OSError, TimeoutError, ValueError) as exc:
        hint = (" (is it a TLS scheduler, and is ca.pem the CA that signed its certificate?)"
                if kind == "tls" else "")
        raise ClusterError(f"cannot reach the Dask scheduler at {address}{hint}: "
                           f"{type(exc).__name__}: {exc}") from None


def unpack_plans(blob: bytes) -> dict:
    """Runs on a worker: the plans the client pickled (bytes, so Dask reads nothing in them)."""
    return pickle.loads(blob)


def shared_plans(keys, solutions_dir: Path) -> dict:
    """{(seed, notebook): (cases, PyTorch's answers)}, computed here once per key (plain
    data: it travels to the workers, which turn each grade id into its spec)."""
    from microgradlab import checking

    from .source import load_source
    sources, shared = {}, {}
    for seed, notebook in sorted(keys):
        if notebook not in sources:
            sources[notebook] = load_source(solutions_dir, notebook)
        _, cases, answers = draw_cases(sources[notebook], seed, checking.expected)
        shared[(seed, notebook)] = (cases, answers)
    return shared


def grade_on_cluster(submissions, notebooks, solutions_dir: Path, settings: Settings,
                     address: str, seed_of: dict, on_graded=None, progress=None,
                     certs: Path | None = None, insecure: bool = False) -> list[Grade]:
    """Every submission graded by the cluster at ``address``; ``on_graded(grade)`` runs
    here, in the client, as each arrives. Ctrl-C cancels what is left (tasks already
    running finish on their workers, up to their timeouts) and raises Interrupted."""
    from distributed import as_completed

    from .source import load_source
    sources = {n: load_source(solutions_dir, n) for n in notebooks}
    fingerprints = {n: course_fingerprint(solutions_dir, n) for n in notebooks}
    grades: list[Grade] = []

    def deliver(grade):
        grades.append(grade)
        if on_graded is not None:
            on_graded(grade)
        if progress is not None:
            progress.update(1)

    to_run = []
    for s in submissions:
        max_score = sources[s.notebook].max_score
        preset = preset_grade(s, max_score)
        if preset is not None:
            deliver(preset)
        elif s.path is None:
            deliver(Grade(s.student, s.notebook, "missing", max_score,
                          detail="no notebook handed in"))
        else:
            to_run.append((s, max_score))
    if not to_run:
        return grades
    # Notebook by notebook, as on one machine: a worker's warm runner (warm.py) is
    # built for one notebook and serves the submissions of it that follow.
    order = {n: i for i, n in enumerate(NOTEBOOKS)}
    to_run.sort(key=lambda item: order[item[0].notebook])
    client = connect(address, certs, insecure)
    preparing = []
    try:
        keys = {(seed_of[(s.student, s.notebook)], s.notebook) for s, _ in to_run}
        # Each worker builds its sandbox files while this process computes PyTorch's
        # answers (a worker that joins later does it with its first task).
        used = sorted({notebook for _, notebook in keys})
        preparing += [client.submit(prepare_worker, used, workers=[worker], pure=False,
                                    allow_other_workers=False)
                      for worker in client.scheduler_info(n_workers=-1)["workers"]]
        # Every plan in one task's result: each grading task then depends on one key,
        # so the scheduler still treats the class as a queue of root-like tasks. A task,
        # not scattered data: if the worker holding it dies, the scheduler recomputes it
        # elsewhere from the task itself (scattered data would be lost for good).
        blob = pickle.dumps(shared_plans(keys, solutions_dir), protocol=pickle.HIGHEST_PROTOCOL)
        shared = client.submit(unpack_plans, blob, pure=False)
        futures, owner = [], {}
        for s, max_score in to_run:
            future = client.submit(grade_remote, s.student, s.notebook, Path(s.path).read_bytes(),
                                   seed_of[(s.student, s.notebook)], settings,
                                   fingerprints[s.notebook], shared, pure=False, retries=2)
            futures.append(future)
            owner[future.key] = (s, max_score)
        futures = set(futures)
        try:
            for future in as_completed(list(futures)):
                s, max_score = owner[future.key]
                try:
                    grade = future.result()
                except Exception as exc:  # noqa: BLE001 - one bad row must not stop the class
                    grade = Grade(s.student, s.notebook, GRADER_ERROR, max_score,
                                  detail=f"on the cluster: {type(exc).__name__}: {exc}"[:300])
                deliver(grade)
                # Delivered: let the cluster forget it, so a worker lost later is not
                # asked to grade it again.
                futures.discard(future)
                future.release()
        except KeyboardInterrupt:
            client.cancel(list(futures))
            raise Interrupted(list(grades)) from None
    finally:
        del preparing[:]
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()
    return grades
