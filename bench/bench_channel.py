"""Grading time per notebook through the channel, one honest submission at a time.

    .venv/bin/python bench/bench_channel.py [--repeats 3]

Grades the instructor's solution of each notebook (hidden tests removed, as a
learner hands it in) in the real sandbox, ``--repeats`` times, and prints the
median and minimum wall time per notebook and the number of requests the
grader sent. Prints figures; asserts only that each run is graded full marks.
Run it on an idle machine: every request is a round trip between two
processes, so a busy machine shows up directly in these figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_grader import honest, write  # noqa: E402

from microgradlab import checking  # noqa: E402
from microgradlab_grader import batch, grading, sandbox  # noqa: E402

NOTEBOOKS = ["01_derivatives", "02_value", "03_operations", "04_backward", "05_tanh_neuron",
             "06_mlp"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    run_sandboxed = grading.run_sandboxed

    def counting(notebook, plan, *rest, **kw):  # keep the request count of each run
        outcome = run_sandboxed(notebook, plan, *rest, **kw)
        counting.last = outcome.requests
        return outcome
    grading.run_sandboxed = counting
    with tempfile.TemporaryDirectory(prefix="mglab-bench-") as work:
        work = Path(work)
        os.chmod(work, 0o755)
        plans = batch.make_plans(NOTEBOOKS, ROOT / "solutions", 1, work, checking.expected,
                                 sandbox.package_mount_point())
        uid = batch.SANDBOX_UID_BASE + 990 if os.geteuid() == 0 else None
        every = []
        for name in NOTEBOOKS:
            path = work / f"{name}.ipynb"
            write(honest(name), path)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                grade = grading.grade_submission("bench", name, path, plans[name],
                                                 grading.Settings(), uid=uid)
                times.append(time.perf_counter() - start)
                assert grade.status == "graded" and grade.score == grade.max_score, grade
            every += times
            print(f"{name:16s} median {statistics.median(times):5.2f} s   min {min(times):5.2f} s"
                  f"   {counting.last:6d} requests")
        print(f"mean over all runs: {statistics.mean(every):.2f} s a notebook")


if __name__ == "__main__":
    main()
