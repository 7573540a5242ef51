"""Grading a synthetic class: `microgradlab grade` against plain `nbgrader autograde`.

    .venv/bin/python bench/bench_grading.py [--students 100] [--notebooks 02_value,04_backward]
                                            [--seed 0] [--workers N] [--skip-nbgrader]

Builds a class with tests/fixtures/class_builder.py (honest, wrong and broken
submissions), grades it with `microgradlab grade` (sandboxed, N workers) and
with nbgrader's own `autograde` run sequentially in a temporary copy of the
course, then prints both wall times, the speed-up, and whether the two agree
on every honest and wrong submission (same score). Broken submissions are
left out of the agreement: the two tools report them differently by design
(nbgrader writes 0, microgradlab writes a status and no score).

Prints figures; asserts nothing. A full class (100 students, six notebooks)
takes well over an hour with nbgrader; use --students for a quick look. The
two halves can also run at different times on the same class (the class is
rebuilt from --students and --seed, identically):

    bench_grading.py --nbgrader-only --nbgrader-save nbg.json   # the long half
    bench_grading.py --nbgrader-from nbg.json                   # ours, then compare
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
VENV_BIN = Path(sys.executable).parent


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


def main(argv=None) -> int:
    from class_builder import available_notebooks, build_class

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--notebooks", default=None, help="comma-separated (default: all built)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--skip-nbgrader", action="store_true")
    parser.add_argument("--local-cluster", action="store_true",
                        help="also grade on a Dask LocalCluster of 2 worker processes "
                             "(--scheduler local:2) and compare with the default thread pool")
    parser.add_argument("--incremental", action="store_true",
                        help="then 5 students resubmit one notebook; time the re-run")
    parser.add_argument("--nbgrader-only", action="store_true",
                        help="time nbgrader alone (with --nbgrader-save to keep the figures)")
    parser.add_argument("--nbgrader-save", type=Path, default=None,
                        help="write nbgrader's time and scores to this JSON file")
    parser.add_argument("--nbgrader-from", type=Path, default=None,
                        help="take nbgrader's time and scores from a --nbgrader-save file "
                             "instead of running it (same --students, --seed, notebooks)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks.split(",") if args.notebooks else available_notebooks()
    same_class = {"students": args.students, "seed": args.seed, "notebooks": notebooks}
    saved = None
    if args.nbgrader_from:
        saved = json.loads(args.nbgrader_from.read_text())
        if saved["class"] != same_class:
            parser.error(f"{args.nbgrader_from} is for another class: {saved['class']}")

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        work = Path(tmp)
        env = jupyter_home(work / "home")
        manifest = build_class(work / "class", args.students, args.seed, notebooks=notebooks)
        n = sum(len(v) for v in manifest.values())
        print(f"class: {args.students} students x {len(notebooks)} notebooks = {n} submissions "
              f"({', '.join(notebooks)}); {os.cpu_count()} cores")
        if not args.nbgrader_only:
            ours_s, ours = run_microgradlab(work / "class", work / "out", notebooks,
                                            args.workers, env, ["--seed", str(args.seed)])
            print(f"microgradlab grade: {ours_s:8.1f} s  ({ours_s / n:.2f} s per notebook)")
            statuses = {}
            for per_notebook in manifest.values():
                for facts in per_notebook.values():
                    statuses[facts["status"]] = statuses.get(facts["status"], 0) + 1
            print("  the class as built: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
            differ = against_the_manifest(manifest, ours)
            print(f"  rows as the class builder meant them (status, and each exercise pass/fail): "
                  f"{n - len({d.split(':')[0] for d in differ})}/{n}")
            for line in differ[:20]:
                print("  differs:", line)
            if saved is not None:  # compare now: the runs below take long
                print(f"(nbgrader figures from {args.nbgrader_from}, measured {saved['when']})")
                print(f"nbgrader autograde: {saved['seconds']:8.1f} s  "
                      f"({saved['seconds'] / n:.2f} s per notebook, sequential)")
                compare_with_nbgrader(manifest, ours, ours_s,
                                      {(r["student_id"], r["assignment"]): r for r in saved["rows"]},
                                      saved["seconds"])
                sys.stdout.flush()
            if args.local_cluster:
                dask_s, on_dask = run_microgradlab(work / "class", work / "out-dask", notebooks,
                                                   None, env, ["--seed", str(args.seed),
                                                               "--scheduler", "local:2"])
                print(f"Dask LocalCluster (2 workers): {dask_s:8.1f} s  "
                      f"({dask_s / ours_s:.2f}x the default's time); rows differing from the "
                      f"default: {same_grades(ours, on_dask)}")
            if args.incremental:
                changed = resubmit(work / "class", 5, ours)
                again_s, again = run_microgradlab(work / "class", work / "out", notebooks,
                                                  args.workers, env)
                print(f"re-run after {len(changed)} resubmissions: {again_s:8.1f} s "
                      f"({100 * again_s / ours_s:.1f}% of the full run); rows: {len(again)}")
        if args.skip_nbgrader or saved is not None:
            return 0
        theirs_s, theirs = run_nbgrader(work / "class", work / "nbg", notebooks, env)
        if args.nbgrader_save:
            args.nbgrader_save.write_text(json.dumps({
                "class": same_class, "seconds": theirs_s,
                "when": time.strftime("%Y-%m-%d %H:%M:%S"),
                "rows": list(theirs.values())}, indent=1))
        print(f"nbgrader autograde: {theirs_s:8.1f} s  ({theirs_s / n:.2f} s per notebook, "
              "sequential, gradebook set-up not counted)")
        if args.nbgrader_only:
            return 0
        compare_with_nbgrader(manifest, ours, ours_s, theirs, theirs_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
