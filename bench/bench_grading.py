"""Grading a synthetic class, every comparison from ONE run, saved in bench/results/.

    .venv/bin/python bench/bench_grading.py [--students 100] [--seed 0] [--notebooks A,B]
        [--workers N] [--skip nbgrader,dask-local,scaling,noop,incremental,profile]
        [--nbgrader-only --nbgrader-save FILE | --nbgrader-from FILE] [--no-save]

Builds a class with tests/fixtures/class_builder.py (honest, wrong and broken
submissions) and grades it with `microgradlab grade` (sandboxed, the default
thread pool), then, unless skipped:

* ``nbgrader``: plain `nbgrader autograde`, sequentially, in a temporary copy of the
  course; the speed-up (target 10x) and whether the two agree on every honest and
  wrong submission (broken ones are reported differently by design);
* ``dask-local``: the same class with ``--scheduler local:2`` (a LocalCluster of two
  single-threaded worker processes, over TLS) against the thread pool (target: within
  15% of its time), and whether every row is the same;
* ``scaling``: a real TLS `dask scheduler` with 1, then 2, `dask worker` processes
  (one thread each), each worker pinned to one core of its own with
  ``sched_setaffinity`` (inherited by the sandboxes it starts); the speed-up of 2
  over 1 (target >= 1.8x);
* ``noop``: the same command again with nothing new (no grading work), the whole
  process's wall time, median of 3, beside the full run's (target under 2 s);
* ``incremental``: 5 students hand one graded notebook in again; the re-run's time;
* ``profile``: where one honest submission's time goes, per notebook
  (bench/profile_grading.py).

Prints figures and asserts nothing. Everything printed is also saved, with the
date, the commit and the machine's load (``os.getloadavg()`` before and after each
part), in bench/results/grading_<date>_<commit>_<students>students.txt. A full class
(100 students, six notebooks) takes over an hour with nbgrader alone; skip parts, or
use --students 6, while developing. nbgrader's half can run at another time on the
same class (rebuilt identically from --students, --seed and the notebooks):

    bench_grading.py --nbgrader-only --nbgrader-save nbg.json   # the long half
    bench_grading.py --nbgrader-from nbg.json                   # the rest, then compare
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
sys.path.insert(0, str(ROOT / "bench"))
VENV_BIN = Path(sys.executable).parent
PARTS = ("nbgrader", "dask-local", "scaling", "noop", "incremental", "profile")


def jupyter_home(base: Path) -> dict:
    """A private Jupyter/IPython/matplotlib home, so nothing touches the user's."""
    env = dict(os.environ)
    for key, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "mpl")]:
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[key] = str(base / sub)
    env["MPLBACKEND"] = "Agg"
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_microgradlab(class_dir: Path, out: Path, notebooks: list[str], workers: int | None,
                     env: dict, extra=()) -> tuple[float, dict]:
    cmd = [str(VENV_BIN / "microgradlab"), "grade", str(class_dir), "--out", str(out),
           "--notebooks", ",".join(notebooks), "--no-progress", *extra]
    if workers:
        cmd += ["--workers", str(workers)]
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    with open(out / "grades.csv", newline="") as handle:
        rows = {(r["student"], r["notebook"]): r for r in csv.DictReader(handle)}
    return seconds, rows


def against_the_manifest(manifest: dict, ours: dict) -> list[str]:
    """Rows of ours that differ from what the class builder meant: the status, and for
    a graded row every exercise that must pass (points > 0) or fail (0 points)."""
    differ = []
    for student, per_notebook in manifest.items():
        for name, facts in per_notebook.items():
            row = ours.get((student, name), {})
            what = f"{student} {name} ({facts['kind']} {facts['detail']})".replace(" )", ")")
            if row.get("status") != facts["status"]:
                differ.append(f"{what}: status {row.get('status')}, meant {facts['status']}")
                continue
            if facts["status"] != "graded":
                continue
            for exercise in facts["passes"]:
                if not float(row.get(exercise) or 0) > 0:
                    differ.append(f"{what}: {exercise} should pass")
            for exercise in facts["fails"]:
                if float(row.get(exercise) or 0) != 0:
                    differ.append(f"{what}: {exercise} should fail")
    return differ


def resubmit(class_dir: Path, count: int, rows: dict) -> list[str]:
    """``count`` students hand one graded notebook in again (a markdown cell added: new
    content). Graded ones, as a resubmission usually is: one that waits out a timeout
    would cost its 60 s whatever the gradebook does."""
    import nbformat
    changed = []
    for student in sorted(p for p in class_dir.iterdir() if p.is_dir()):
        notebook = next((p for p in sorted(student.glob("*.ipynb"))
                         if _readable_notebook(p)
                         and rows.get((student.name, p.stem), {}).get("status") == "graded"),
                        None)
        if notebook is None:
            continue
        nb = nbformat.read(str(notebook), as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell("Resubmitted."))
        nbformat.write(nb, str(notebook))
        changed.append(f"{student.name}/{notebook.name}")
        if len(changed) == count:
            break
    return changed


def _readable_notebook(path: Path) -> bool:
    try:
        return json.loads(path.read_text()).get("nbformat") == 4
    except (ValueError, AttributeError, UnicodeDecodeError):
        return False


def same_grades(a: dict, b: dict) -> int:
    """How many rows differ in status, score or any exercise's points."""
    return sum(1 for key in set(a) | set(b)
               if {k: v for k, v in a.get(key, {}).items() if k != "timestamp"}
               != {k: v for k, v in b.get(key, {}).items() if k != "timestamp"})


def run_nbgrader(class_dir: Path, work: Path, notebooks: list[str], env: dict) -> tuple[float, dict]:
    """Sequential nbgrader in a temporary copy of the course; returns (seconds, scores)."""
    course = work / "course"
    (course / "autograder").mkdir(parents=True)
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", course / "autograder")
    for name in notebooks:
        shutil.copytree(ROOT / "solutions" / name, course / "solutions" / name)
    for student in sorted(p for p in class_dir.iterdir() if p.is_dir()):
        for name in notebooks:
            src = student / f"{name}.ipynb"
            if src.exists():
                dest = course / "autograder" / "submitted" / student.name / name / f"{name}.ipynb"
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dest)
    nbgrader = str(VENV_BIN / "nbgrader")
    cwd = course / "autograder"
    quiet = {"cwd": cwd, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    # Set-up (not timed): the assignments and their cells enter the gradebook.
    for name in notebooks:
        subprocess.run([nbgrader, "generate_assignment", name, "--force"], check=True, **quiet)
    start = time.perf_counter()
    for name in notebooks:  # nbgrader exits 1 when some submission fails; keep going
        subprocess.run([nbgrader, "autograde", name, "--create", "--force"], **quiet)
    seconds = time.perf_counter() - start
    export = work / "nbgrader_grades.csv"
    subprocess.run([nbgrader, "export", "--to", str(export)], check=True, **quiet)
    with open(export, newline="") as handle:
        rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(handle)}
    return seconds, rows


def compare_with_nbgrader(manifest, ours, ours_s, theirs, theirs_s) -> None:
    """Print the speed-up and the agreement on every honest and wrong submission."""
    print(f"speed-up: {theirs_s / ours_s:.2f}x")
    compared, disagree = 0, []
    for student, per_notebook in manifest.items():
        for name, facts in per_notebook.items():
            if facts["kind"] not in ("correct", "wrong"):
                continue
            compared += 1
            mine = ours.get((student, name), {})
            other = theirs.get((student, name), {})
            a, b = mine.get("score", ""), other.get("score", "")
            if a == "" or b == "" or abs(float(a) - float(b)) > 1e-9:
                disagree.append(f"{student} {name}: microgradlab {a or mine.get('status')} "
                                f"nbgrader {b or '(none)'} ({facts['kind']} {facts['detail']})")
    print(f"agreement on honest and wrong submissions: {compared - len(disagree)}/{compared}")
    for line in disagree[:20]:
        print("  differs:", line)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


class Log:
    """print(), and keep every line for the saved results."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


@contextlib.contextmanager
def part(log: Log, name: str):
    log(f"--- {name} (load before: {load()})")
    start = time.perf_counter()
    yield
    log(f"    (load after: {load()}; the part took {time.perf_counter() - start:.0f} s)")


def commit() -> str:
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def tls_cluster(work: Path, env: dict, cores: list[int]):
    """A TLS `dask scheduler` and one single-threaded `dask worker` per entry of
    ``cores``, each pinned to that core (every process it starts inherits the
    affinity). Yields the address and the certificate folder."""
    from distributed import Client

    from microgradlab_grader.certs import files_for, make_certificates, security_for
    certs = work / f"certs-{len(cores)}"
    make_certificates(certs, ["127.0.0.1"])
    port = free_port()
    address = f"tls://127.0.0.1:{port}"

    def flags(role):
        files = files_for(certs, role)
        return ["--tls-ca-file", str(files.ca), "--tls-cert", str(files.cert),
                "--tls-key", str(files.key)]
    logs = work / "dask-logs"
    logs.mkdir(exist_ok=True)
    processes = [subprocess.Popen(
        [str(VENV_BIN / "dask"), "scheduler", "--protocol", "tls", "--host", "127.0.0.1",
         "--port", str(port), "--no-dashboard", *flags("scheduler")],
        env=env, stdout=subprocess.DEVNULL, stderr=open(logs / f"scheduler-{port}.log", "w"),
        start_new_session=True)]
    for core in cores:
        processes.append(subprocess.Popen(
            [str(VENV_BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
             "--no-dashboard", "--host", "127.0.0.1", "--name", f"core{core}", *flags("worker")],
            env=env, stdout=subprocess.DEVNULL,
            stderr=open(logs / f"worker-{port}-{core}.log", "w"), start_new_session=True,
            preexec_fn=lambda core=core: os.sched_setaffinity(0, {core})))
    try:
        with Client(address, timeout="60s", security=security_for(certs)) as client:
            client.wait_for_workers(len(cores), timeout=180)
        yield address, certs
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, 9)
                except ProcessLookupError:
                    pass
            process.wait(timeout=30)


def whole_command_seconds(cmd: list[str], env: dict, runs: int = 3) -> list[float]:
    """Wall time of ``cmd`` as a whole process, ``runs`` times (one warm-up first)."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if i:
            times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> int:
    from class_builder import available_notebooks, build_class

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--notebooks", default=None, help="comma-separated (default: all built)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--skip", default="", metavar="PARTS",
                        help=f"comma-separated parts to leave out: {', '.join(PARTS)}")
    parser.add_argument("--skip-nbgrader", action="store_true", help="the same as --skip nbgrader")
    parser.add_argument("--nbgrader-only", action="store_true",
                        help="time nbgrader alone (with --nbgrader-save to keep the figures)")
    parser.add_argument("--nbgrader-save", type=Path, default=None,
                        help="write nbgrader's time and scores to this JSON file")
    parser.add_argument("--nbgrader-from", type=Path, default=None,
                        help="take nbgrader's time and scores from a --nbgrader-save file "
                             "instead of running it (same --students, --seed, notebooks)")
    parser.add_argument("--profile-per-notebook", type=int, default=3,
                        help="honest submissions per notebook in the profile (default 3)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results",
                        help="where the printed figures are saved")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    unknown = skip - set(PARTS)
    if unknown:
        parser.error(f"--skip {', '.join(sorted(unknown))}: the parts are {', '.join(PARTS)}")
    if args.skip_nbgrader:
        skip.add("nbgrader")
    if args.nbgrader_only:
        skip |= set(PARTS) - {"nbgrader"}
    notebooks = args.notebooks.split(",") if args.notebooks else available_notebooks()
    same_class = {"students": args.students, "seed": args.seed, "notebooks": notebooks}
    saved = None
    if args.nbgrader_from:
        saved = json.loads(args.nbgrader_from.read_text())
        if saved["class"] != same_class:
            parser.error(f"{args.nbgrader_from} is for another class: {saved['class']}")
    log = Log()
    began = time.perf_counter()
    summary: list[str] = []
    log(f"bench_grading.py at {commit()} on {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; "
        f"{os.cpu_count()} cores; load average {load()}")

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        work = Path(tmp)
        env = jupyter_home(work / "home")
        manifest = build_class(work / "class", args.students, args.seed, notebooks=notebooks)
        n = sum(len(v) for v in manifest.values())
        log(f"class: {args.students} students x {len(notebooks)} notebooks = {n} submissions "
            f"({', '.join(notebooks)}), seed {args.seed}")
        seed = ["--seed", str(args.seed)]
        ours_s = ours = None
        if not args.nbgrader_only:
            with part(log, "microgradlab grade, the default thread pool"):
                ours_s, ours = run_microgradlab(work / "class", work / "out", notebooks,
                                                args.workers, env, seed)
                log(f"microgradlab grade: {ours_s:8.1f} s  ({ours_s / n:.2f} s per notebook)")
                statuses = {}
                for per_notebook in manifest.values():
                    for facts in per_notebook.values():
                        statuses[facts["status"]] = statuses.get(facts["status"], 0) + 1
                log("  the class as built: " + ", ".join(f"{k} {v}"
                                                         for k, v in sorted(statuses.items())))
                differ = against_the_manifest(manifest, ours)
                log(f"  rows as the class builder meant them (status, and each exercise "
                    f"pass/fail): {n - len({d.split(':')[0] for d in differ})}/{n}")
                for line in differ[:20]:
                    log(f"  differs: {line}")
            summary.append(f"full run (thread pool): {ours_s:.1f} s for {n} submissions")

        if "noop" not in skip:
            with part(log, "a re-run with nothing new"):
                cmd = [str(VENV_BIN / "microgradlab"), "grade", str(work / "class"), "--out",
                       str(work / "out"), "--notebooks", ",".join(notebooks), "--no-progress"]
                times = whole_command_seconds(cmd, env)
                noop_s = statistics.median(times)
                log(f"no-op re-run, whole command: median {noop_s:.2f} s of "
                    f"{', '.join(f'{t:.2f}' for t in times)} (the full run: {ours_s:.1f} s)")
            summary.append(f"no-op re-run: {noop_s:.2f} s, beside the full run's {ours_s:.1f} s "
                           f"(target under 2 s)")

        if "dask-local" not in skip:
            with part(log, "the thread pool against --scheduler local:2"):
                dask_s, on_dask = run_microgradlab(work / "class", work / "out-dask", notebooks,
                                                   None, env, [*seed, "--scheduler", "local:2"])
                differing = same_grades(ours, on_dask)
                log(f"Dask LocalCluster (2 workers, TLS): {dask_s:8.1f} s  "
                    f"({dask_s / ours_s:.2f}x the thread pool's {ours_s:.1f} s); rows differing "
                    f"from the thread pool: {differing}")
            summary.append(f"local:2 / thread pool: {dask_s / ours_s:.2f} (target <= 1.15); "
                           f"rows differing: {differing}")

        if "scaling" not in skip:
            cores = sorted(os.sched_getaffinity(0))
            with part(log, "1 and 2 Dask workers, one core each (TLS, pinned)"):
                if len(cores) < 2:
                    log(f"  skipped: this process may use {len(cores)} core(s)")
                else:
                    seconds = {}
                    for count in (1, 2):
                        with tls_cluster(work, env, cores[:count]) as (address, certs):
                            seconds[count], rows = run_microgradlab(
                                work / "class", work / f"out-{count}w", notebooks, None, env,
                                [*seed, "--scheduler", address, "--cluster-certs", str(certs)])
                        log(f"{count} worker(s) on core(s) {cores[:count]}: "
                            f"{seconds[count]:8.1f} s; rows differing from the thread pool: "
                            f"{same_grades(ours, rows)}")
                    ratio = seconds[1] / seconds[2]
                    log(f"speed-up of 2 workers over 1: {ratio:.2f}x")
                    summary.append(f"2 vs 1 pinned Dask workers: {ratio:.2f}x (target >= 1.8x)")

        if "incremental" not in skip:
            with part(log, "5 students resubmit one notebook"):
                changed = resubmit(work / "class", 5, ours)
                again_s, again = run_microgradlab(work / "class", work / "out", notebooks,
                                                  args.workers, env)
                log(f"re-run after {len(changed)} resubmissions: {again_s:8.1f} s "
                    f"({100 * again_s / ours_s:.1f}% of the full run); rows: {len(again)}")
            summary.append(f"re-run after {len(changed)} resubmissions: {again_s:.1f} s "
                           f"({100 * again_s / ours_s:.1f}% of the full run)")

        if "profile" not in skip:
            import profile_grading
            with part(log, "profile"):
                figures = profile_grading.profile(args.profile_per_notebook, args.seed,
                                                  notebooks, class_size=args.students)
                for line in profile_grading.render(figures).splitlines():
                    log(line)

        if saved is not None and ours is not None:
            log(f"(nbgrader figures from {args.nbgrader_from}, measured {saved['when']})")
            log(f"nbgrader autograde: {saved['seconds']:8.1f} s  "
                f"({saved['seconds'] / n:.2f} s per notebook, sequential)")
            log_lines = capture(compare_with_nbgrader, manifest, ours, ours_s,
                                {(r["student_id"], r["assignment"]): r for r in saved["rows"]},
                                saved["seconds"])
            for line in log_lines:
                log(line)
            summary.append(f"ours vs sequential nbgrader: {saved['seconds'] / ours_s:.2f}x "
                           "(target 10x; nbgrader's figures from a saved run)")
        elif "nbgrader" not in skip:
            with part(log, "sequential nbgrader autograde"):
                theirs_s, theirs = run_nbgrader(work / "class", work / "nbg", notebooks, env)
                if args.nbgrader_save:
                    args.nbgrader_save.write_text(json.dumps({
                        "class": same_class, "seconds": theirs_s,
                        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
                        "rows": list(theirs.values())}, indent=1))
                log(f"nbgrader autograde: {theirs_s:8.1f} s  ({theirs_s / n:.2f} s per "
                    "notebook, sequential, gradebook set-up not counted)")
                if ours is not None:
                    for line in capture(compare_with_nbgrader, manifest, ours, ours_s,
                                        theirs, theirs_s):
                        log(line)
                    summary.append(f"ours vs sequential nbgrader: {theirs_s / ours_s:.2f}x "
                                   "(target 10x)")

    log("")
    log(f"summary ({n} submissions; load average now {load()}; this bench run took "
        f"{(time.perf_counter() - began) / 60:.1f} min):")
    for line in summary:
        log(f"  {line}")
    if not args.no_save:
        args.results.mkdir(parents=True, exist_ok=True)
        name = (f"grading_{time.strftime('%Y-%m-%d_%H%M')}_{commit()}_"
                f"{args.students}students.txt")
        (args.results / name).write_text("\n".join(log.lines) + "\n")
        print(f"saved in {args.results / name}")
    return 0


def capture(function, *args) -> list[str]:
    """The lines ``function`` prints."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        function(*args)
    return buffer.getvalue().splitlines()


if __name__ == "__main__":
    sys.exit(main())
