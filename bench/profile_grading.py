"""Where one submission's grading time goes, per notebook, from start to gradebook row.

    .venv/bin/python bench/profile_grading.py [--per-notebook 3] [--seed 0] [--json FILE]
        [--no-read-ahead] [--cold]

Grades the instructor's solution of each notebook (hidden tests removed, as a
learner hands it in) with the real `microgradlab grade` command, run in this
process with one worker (`-j 1`, one submission at a time), and times the
grader's own functions by wrapping them here (nothing in the grader is edited):

* sandbox start: the submission's cgroup (``sandbox.Confinement``), bubblewrap
  (``bwrap`` alone, measured apart), the wait until the uid is empty after the run;
* interpreter start and imports: measured apart, in the same sandbox, by running
  ``python -c`` with each import instead of the runner, and subtracting;
* the warm runner's start (once per grading thread and notebook: its submissions share it;
  ``--cold`` starts every submission in a sandbox of its own instead);
* the first reply (the runner's start-up, IPython included, and the first cell);
* the learner's cells (each ``run_cell`` request after the first);
* round trips: every other request (count, and the wall time from send to reply);
* the grader's producer work: the graded cells' time less their requests' time;
* PyTorch's expected values (``batch.draw_cases``: once per notebook and run, shown
  per run and divided over the class);
* the judge (``score``: ``checking.verdict`` over the cases), the feedback page, the
  gradebook row, and the process's kill and the cgroup's removal;
* CPU seconds, which a loaded machine inflates far less than wall time: the
  sandbox's (every process in it, user and system, read just before the kill)
  and the grading thread's own (``time.thread_time``);
* requests (every read and call the producers make) and how many of them were
  written to the sandbox (the rest were read ahead: channel.py).

``--no-read-ahead`` is the control: the same run with no read asked ahead.

Prints a table and (with --json) writes the figures. Figures of a loaded machine
are inflated; the shares are what to read.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

NOTEBOOKS = ["01_derivatives", "02_value", "03_operations", "04_backward", "05_tanh_neuron",
             "06_mlp"]
IMPORTS = {  # what the calibration runs inside the sandbox, in place of the runner
    "bwrap": None,
    "python": "pass",
    "IPython shell": ("from IPython.core.interactiveshell import InteractiveShell;"
                      "InteractiveShell.instance()"),
    "numpy": "import numpy",
    "matplotlib": "import matplotlib.pyplot",
    # The runner puts the generated package's parent first on sys.path (-I leaves it off).
    "microgradlab": "import sys; sys.path.insert(0, {package_parent!r}); import microgradlab",
}


# ------------------------------------------------------------------ timers
class Timers:
    """Seconds and counts per (submission, what), from wrapped functions, per thread."""

    def __init__(self):
        self.seconds = collections.defaultdict(float)
        self.counts = collections.defaultdict(int)
        self.local = threading.local()
        self.once = collections.defaultdict(float)   # per run, not per submission
        self.expected = collections.defaultdict(float)  # notebook -> draw_cases seconds

    def key(self):
        return getattr(self.local, "submission", None)

    def add(self, what, seconds, count=1):
        submission = self.key()
        if submission is None:
            self.once[what] += seconds
            return
        self.seconds[(submission, what)] += seconds
        self.counts[(submission, what)] += count

    def wrap(self, owner, name, what, around=None):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(what, time.perf_counter() - start)
        timed.__wrapped__ = original
        setattr(owner, name, timed)
        return original


def install(timers: Timers):
    """Wrap the grader's functions (returns a function that unwraps them)."""
    from microgradlab_grader import (batch, channel, classrun, gradebook, grading, sandbox,
                                     withholding)
    undo = []

    def keep(owner, name):
        undo.append((owner, name, getattr(owner, name)))

    draw_cases = batch.draw_cases
    keep(batch, "draw_cases")

    def drawing(source, *args, **kwargs):  # once per notebook and run, in the main thread
        start = time.perf_counter()
        try:
            return draw_cases(source, *args, **kwargs)
        finally:
            timers.expected[source.name] += time.perf_counter() - start
    batch.draw_cases = drawing

    for owner, name, what in [
            (withholding, "build_package", "generated package (per run)"),
            (sandbox, "build_matplotlib_cache", "matplotlib font cache (per run)"),
            (sandbox, "wait_until_uid_is_empty", "uid empty after the run"),
            (grading, "score", "judge (compare, every case)"),
            (grading, "read_notebook", "read the submission"),
            (grading, "tampering", "read the submission"),
            (classrun, "write_page", "feedback page"),
            (gradebook.Gradebook, "save", "gradebook row")]:
        keep(owner, name)
        timers.wrap(owner, name, what)

    # The submission a thread is grading: every timer below is charged to it.
    grade_submission = grading.grade_submission

    def graded(student, notebook, *args, **kwargs):
        timers.local.submission = (student, notebook)
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return grade_submission(student, notebook, *args, **kwargs)
        finally:
            timers.add("submission, sandbox to score", time.perf_counter() - start)
            timers.add("CPU: the grading thread", time.thread_time() - cpu)
    for owner in (grading, batch):
        keep(owner, "grade_submission")
        owner.grade_submission = graded

    # on_graded (cli) runs in the main thread: charge it to the grade it writes.
    save, page = gradebook.Gradebook.save, classrun.write_page

    def saving(self, grade, *args, **kwargs):
        timers.local.submission = (grade.student, grade.notebook)
        return save(self, grade, *args, **kwargs)
    gradebook.Gradebook.save = saving

    def paging(grade, *args, **kwargs):
        timers.local.submission = (grade.student, grade.notebook)
        try:
            return page(grade, *args, **kwargs)
        finally:
            timers.local.submission = None
    classrun.write_page = paging

    kill = grading._kill
    keep(grading, "_kill")

    def killing(process):  # the sandbox's CPU, every process in it, just before the kill
        import psutil
        try:
            tree = psutil.Process(process.pid)
            used = 0.0
            for member in [tree, *tree.children(recursive=True)]:
                times = member.cpu_times()
                used += times.user + times.system
            timers.add("CPU: the sandbox's processes", used)
        except psutil.Error:
            pass
        start = time.perf_counter()
        try:
            return kill(process)
        finally:
            timers.add("kill the sandbox", time.perf_counter() - start)
    grading._kill = killing

    send = channel.Connection._send
    keep(channel.Connection, "_send")

    def sending(self, message):
        if message.get("op") not in (None, "run_cell"):  # as "requests": cells aside
            timers.add("requests written to the sandbox (count)", 0.0)
        return send(self, message)
    channel.Connection._send = sending

    from microgradlab_grader import warm
    start_runner = warm.WarmRunner._start
    keep(warm.WarmRunner, "_start")

    def starting(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return start_runner(self, *args, **kwargs)
        finally:
            timers.add("warm runner start (its submissions share it)", time.perf_counter() - start)
    warm.WarmRunner._start = starting

    confinement_init, confinement_close = sandbox.Confinement.__init__, sandbox.Confinement.close
    keep(sandbox.Confinement, "__init__")
    keep(sandbox.Confinement, "close")

    def init(self, *args, **kwargs):
        start = time.perf_counter()
        confinement_init(self, *args, **kwargs)
        timers.add("cgroup: make", time.perf_counter() - start)

    def close(self):
        start = time.perf_counter()
        confinement_close(self)
        timers.add("cgroup: kill all and remove", time.perf_counter() - start)
    sandbox.Confinement.__init__, sandbox.Confinement.close = init, close

    # Requests: the first reply (runner start-up + first cell), the learner's cells,
    # and every other request (a round trip), each from send to reply.
    request = channel.Connection.request
    keep(channel.Connection, "request")

    def timed_request(self, op, **fields):
        # Requests nest (a callback of ours may ask the sandbox again): time the
        # outermost one only, count every one.
        depth = getattr(timers.local, "depth", 0)
        first = not getattr(self, "_bench_started", False)
        self._bench_started = True
        timers.local.depth = depth + 1
        start = time.perf_counter()
        try:
            return request(self, op, **fields)
        finally:
            timers.local.depth = depth
            took = time.perf_counter() - start if depth == 0 else 0.0
            if first:
                timers.add("first reply (runner start-up + first cell)", took)
            elif op == "run_cell":
                timers.add("learner's cells", took)
            else:
                timers.add("round trips", took)
                timers.local.in_requests = getattr(timers.local, "in_requests", 0.0) + took
    channel.Connection.request = timed_request

    sync = channel.Connection.sync
    keep(channel.Connection, "sync")

    def timed_sync(self):  # the replies of deferred requests (setattr), read at a case's end
        start = time.perf_counter()
        try:
            return sync(self)
        finally:
            took = time.perf_counter() - start
            timers.add("round trips", took, count=0)
            timers.local.in_requests = getattr(timers.local, "in_requests", 0.0) + took
    channel.Connection.sync = timed_sync

    grade_here = grading.grade_here
    keep(grading, "grade_here")

    def timed_grade_here(*args, **kwargs):
        timers.local.in_requests = 0.0
        start = time.perf_counter()
        try:
            return grade_here(*args, **kwargs)
        finally:
            whole = time.perf_counter() - start
            timers.add("grader's producer work", whole - timers.local.in_requests, count=0)
    grading.grade_here = timed_grade_here

    def restore():
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)
    return restore


# ------------------------------------------------------------------ calibration
def calibrate(work: Path, repeats: int) -> dict[str, float]:
    """Median seconds of each IMPORTS entry run in a fresh sandbox like a learner's
    (same bwrap command, same uid, the same read-only package and font cache)."""
    from microgradlab_grader import sandbox, withholding
    torch_stub, runner = sandbox.write_support_files(work)
    cache = sandbox.build_matplotlib_cache(work)
    package = withholding.build_package("02_value", work / "package" / "microgradlab")
    figures = {}
    with sandbox.allocate_uids(1) as (uid,):
        for what, code in IMPORTS.items():
            times = []
            for _ in range(repeats):
                scratch = Path(tempfile.mkdtemp(prefix="mglab-calibrate-"))
                if cache is not None:
                    shutil.copytree(cache, scratch / ".matplotlib")
                if uid is not None:
                    for path in (scratch, *scratch.glob(".matplotlib/**")):
                        os.chown(path, uid, uid)
                cmd = sandbox.bwrap_command(scratch, package, runner, torch_stub, "fds:0,1",
                                            uid=uid)
                tail = 5  # python -I /grader/runner.py JOB PACKAGE_PARENT
                cmd = cmd[:-tail] + (["/bin/true"] if code is None else [
                    sys.executable, "-I", "-c",
                    code.format(package_parent=sandbox.PACKAGE_PARENT)])
                start = time.perf_counter()
                subprocess.run(cmd, env=sandbox.clean_environment(), check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times.append(time.perf_counter() - start)
                shutil.rmtree(scratch, ignore_errors=True)
                if uid is not None:
                    sandbox.wait_until_uid_is_empty(uid)
            figures[what] = statistics.median(times)
    return figures


def torch_import_seconds(repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ------------------------------------------------------------------ the run
def profile(per_notebook: int, seed: int, notebooks=NOTEBOOKS, class_size: int | None = None,
            repeats: int = 3, read_ahead: bool = True, cold: bool = False) -> dict:
    """The figures: per notebook, seconds per submission of each part."""
    from test_grader import honest, write

    from microgradlab_grader import cli
    timers = Timers()
    with tempfile.TemporaryDirectory(prefix="mglab-profile-") as work:
        work = Path(work)
        os.chmod(work, 0o755)
        (work / "calibrate").mkdir()
        calibrated = calibrate(work / "calibrate", repeats)
        torch_s = torch_import_seconds(repeats)
        for name in notebooks:
            for i in range(per_notebook):
                write(honest(name), work / "class" / f"learner{i}" / f"{name}.ipynb")
        restore = install(timers)
        if not read_ahead:
            restore = without_read_ahead(restore)
        try:
            code = cli.main(["grade", str(work / "class"), "-o", str(work / "out"), "-j", "1",
                             "--seed", str(seed), "--notebooks", ",".join(notebooks),
                             "--no-progress", "-q", *(["--cold"] if cold else [])])
        finally:
            restore()
        if code != 0:
            raise RuntimeError(f"the profiled run exited {code}")
    return table(timers, calibrated, torch_s, notebooks, class_size or per_notebook)


def without_read_ahead(restore):
    """The control: no read is ever asked ahead (returns the function that undoes it)."""
    from microgradlab_grader import channel
    first, init = channel.FIRST_FOLLOW, channel.Connection.__init__

    def never(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.follow_size = 0
    channel.FIRST_FOLLOW, channel.Connection.__init__ = 0, never

    def undo():
        channel.FIRST_FOLLOW, channel.Connection.__init__ = first, init
        restore()
    return undo


def table(timers: Timers, calibrated: dict, torch_s: float, notebooks, class_size: int) -> dict:
    parts = ["cgroup: make", "warm runner start (its submissions share it)",
             "first reply (runner start-up + first cell)", "learner's cells",
             "round trips", "grader's producer work", "judge (compare, every case)",
             "kill the sandbox", "cgroup: kill all and remove", "uid empty after the run",
             "read the submission", "submission, sandbox to score", "feedback page",
             "gradebook row", "CPU: the sandbox's processes", "CPU: the grading thread"]
    per = {}
    for name in notebooks:
        keys = {s for (s, _what) in timers.seconds if s[1] == name}
        row = {}
        for part in parts:
            values = [timers.seconds.get((k, part), 0.0) for k in keys]
            row[part] = statistics.mean(values) if values else 0.0
        for what, label in (("round trips", "requests, cells aside (count)"),
                            ("requests written to the sandbox (count)",
                             "  written to the sandbox (count)")):
            counts = [timers.counts.get((k, what), 0) for k in keys]
            row[label] = statistics.mean(counts) if counts else 0
        per[name] = row
    start_up = {
        "bwrap alone": calibrated.get("bwrap", 0.0),
        "interpreter start": calibrated.get("python", 0.0) - calibrated.get("bwrap", 0.0),
        "IPython import and shell": calibrated.get("IPython shell", 0.0) - calibrated.get("python", 0.0),
        "numpy import": calibrated.get("numpy", 0.0) - calibrated.get("python", 0.0),
        "matplotlib.pyplot import": calibrated.get("matplotlib", 0.0) - calibrated.get("python", 0.0),
        "microgradlab import": calibrated.get("microgradlab", 0.0) - calibrated.get("python", 0.0),
    }
    for name in notebooks:
        per[name]["PyTorch's expected values, per run"] = timers.expected.get(name, 0.0)
        per[name]["  the same, shared by a class of this size"] = \
            timers.expected.get(name, 0.0) / max(1, class_size)
    return {"per_notebook": per, "start_up": start_up, "once": dict(timers.once),
            "torch_import": torch_s, "class_size": class_size}


def render(figures: dict) -> str:
    per, notebooks = figures["per_notebook"], list(figures["per_notebook"])
    once = figures["once"]
    lines = ["where one submission's time goes (mean milliseconds per honest submission, -j 1)",
             "  in a fresh sandbox, measured apart (median ms): " + ", ".join(
                 f"{k} {1000 * v:.0f}" for k, v in figures["start_up"].items()),
             f"  import torch (grader side, once per run): {figures['torch_import']:.2f} s",
             "  once per run: " + ", ".join(f"{k} {v:.2f} s" for k, v in once.items()),
             ""]
    head = f"  {'part':46s}" + "".join(f"{n[:8]:>9s}" for n in notebooks)
    lines.append(head)
    rows = [r for r in next(iter(per.values()))]
    for part in rows:
        scale = 1 if "(count)" in part else 1000
        lines.append(f"  {part:46s}" + "".join(f"{scale * per[n][part]:9.1f}" for n in notebooks))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-notebook", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--notebooks", default=",".join(NOTEBOOKS))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-read-ahead", action="store_true",
                        help="the control: every read is a request written to the sandbox")
    parser.add_argument("--cold", action="store_true",
                        help="every submission in a sandbox of its own (grade --cold)")
    args = parser.parse_args(argv)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    figures = profile(args.per_notebook, args.seed, args.notebooks.split(","),
                      read_ahead=not args.no_read_ahead, cold=args.cold)
    print(render(figures))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
