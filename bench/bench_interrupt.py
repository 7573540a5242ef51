"""How long Ctrl-C takes: from SIGINT to `microgradlab grade` exiting.

    .venv/bin/python bench/bench_interrupt.py [--repeats 5] [--workers 2]

A class of one quick honest student and several slow honest ones (each sleeps 30 s
in a cell, so their sandboxes are running when the signal comes) is graded with
``--workers N``; once the quick row is in the gradebook and every worker has a
sandbox running, the script sends SIGINT the way a terminal's Ctrl-C does (to the
whole process group) and times the exit. Prints, per repeat, the seconds, the exit
code, the rows kept and whether any sandbox outlived the command; then the median
and the worst. Prints figures; asserts nothing (the target: under 5 s).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

from bench_grading import jupyter_home  # noqa: E402


def build(course: Path, slow: int) -> None:
    from test_grader import honest, with_cell_before_test, write
    write(honest("02_value"), course / "a-quick" / "02_value.ipynb")
    for i in range(slow):
        write(with_cell_before_test("02_value", "ex02_value", "import time\ntime.sleep(30)\n"),
              course / f"slow-{i}" / "02_value.ipynb")


def rows(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("select count(*) from grades").fetchone()[0]
    except sqlite3.Error:
        return 0


def sandboxes(marker: str) -> int:
    import psutil
    count = 0
    for p in psutil.process_iter(["cmdline"]):
        line = " ".join(p.info["cmdline"] or [])
        if "bwrap" in line and marker in line:
            count += 1
    return count


def one_run(course: Path, work: Path, workers: int, env: dict) -> tuple[float, int, int, int]:
    out = work / "out"
    scratch = Path(tempfile.mkdtemp(prefix="mglab-int-", dir=work))
    env = dict(env, TMPDIR=str(scratch))
    exe = str(Path(sys.executable).with_name("microgradlab"))
    argv = [exe, "grade", str(course), "-o", str(out), "--notebooks", "02_value", "-j",
            str(workers), "--timeout-cell", "60", "--no-progress", "--seed", "5"]
    process = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        while process.poll() is None:
            if rows(out / "gradebook.db") >= 1 and sandboxes(str(scratch)) >= workers:
                break
            time.sleep(0.1)
        time.sleep(1.0)  # the slow cells are sleeping
        start = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        process.communicate(timeout=120)
        seconds = time.monotonic() - start
    finally:
        if process.poll() is None:
            process.kill()
    time.sleep(0.5)
    return seconds, process.returncode, rows(out / "gradebook.db"), sandboxes(str(scratch))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    times = []
    with tempfile.TemporaryDirectory(prefix="bench-interrupt-") as tmp:
        base = Path(tmp)
        env = jupyter_home(base / "home")
        build(base / "class", slow=args.workers + 1)
        for i in range(args.repeats):
            work = base / f"run-{i}"
            work.mkdir()
            seconds, code, kept, left = one_run(base / "class", work, args.workers, env)
            times.append(seconds)
            print(f"run {i + 1}: {seconds:5.2f} s from SIGINT to exit; exit code {code}; "
                  f"rows kept {kept}; sandboxes left running {left}", flush=True)
    print(f"Ctrl-C with {args.workers} sandboxes running: median {statistics.median(times):.2f} s, "
          f"worst {max(times):.2f} s, over {len(times)} runs; load average "
          f"{os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
