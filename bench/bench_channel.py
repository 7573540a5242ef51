"""Grading time and grader-side work per notebook through the channel.

    .venv/bin/python bench/bench_channel.py [--repeats 3] [--catalogue] [--notebooks 01_derivatives,...]

Grades the instructor's solution of each notebook (hidden tests removed, as a
learner hands it in) in the real sandbox, ``--repeats`` times, and prints per
notebook: the median and minimum wall time, the seconds charged to the
submission (channel.Clock: waits for the sandbox plus the grading thread's
CPU time), the requests in the whole notebook and in its busiest cell or case
(callbacks included). These counts are what the request caps
(channel.REQUESTS_CASE, REQUESTS_NOTEBOOK) are chosen from.

``--catalogue`` also grades, once each, every entry of
tests/fixtures/wrong_answers (realistic wrong answers and correct answers
written differently) and prints the largest counts per notebook: a learner's
honest mistake must stay far below the caps too.

Prints figures; asserts only that each honest run is graded full marks and
each catalogue run is graded. Run it on an idle machine: every request is a
round trip between two processes, so a busy machine shows up in these figures.
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
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

from test_grader import honest, write  # noqa: E402
from wrong_answers import load_catalogue, load_correct  # noqa: E402

from microgradlab import checking  # noqa: E402
from microgradlab_grader import batch, channel, grading, sandbox  # noqa: E402

NOTEBOOKS = ["01_derivatives", "02_value", "03_operations", "04_backward", "05_tanh_neuron",
             "06_mlp"]


def planted(entry):
    notebook = honest(entry.notebook)
    cells = entry.cells()
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in cells:
            cell.source = cells[grade_id]
    return notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--catalogue", action="store_true")
    parser.add_argument("--notebooks", default=",".join(NOTEBOOKS))
    args = parser.parse_args()
    notebooks = args.notebooks.split(",")
    run_sandboxed = grading.run_sandboxed

    def counting(notebook, plan, *rest, **kw):  # keep the figures of each run
        outcome = run_sandboxed(notebook, plan, *rest, **kw)
        counting.last = outcome
        return outcome
    grading.run_sandboxed = counting
    print(f"caps: {channel.REQUESTS_CASE} requests per cell or case, "
          f"{channel.REQUESTS_NOTEBOOK} per notebook")
    with tempfile.TemporaryDirectory(prefix="mglab-bench-") as work, \
            sandbox.allocate_uids(1) as (uid,):
        work = Path(work)
        os.chmod(work, 0o755)
        plans = batch.make_plans(notebooks, ROOT / "solutions", 1, work, checking.expected)

        def grade(name, notebook, label):
            path = work / f"{label}.ipynb"
            write(notebook, path)
            start = time.perf_counter()
            result = grading.grade_submission(label, name, path, plans[name], grading.Settings(),
                                              uid=uid)
            return result, time.perf_counter() - start, counting.last

        every = []
        for name in notebooks:
            times, charged = [], []
            for _ in range(args.repeats):
                result, seconds, outcome = grade(name, honest(name), "honest")
                assert result.status == "graded" and result.score == result.max_score, result
                times.append(seconds)
                charged.append(outcome.charged)
            every += times
            print(f"{name:16s} median {statistics.median(times):5.2f} s   min {min(times):5.2f} s"
                  f"   charged {statistics.median(charged):5.2f} s (longest case {outcome.longest:4.2f} s)"
                  f"   {outcome.requests:6d} requests, busiest case {outcome.busiest:6d}")
        print(f"mean over all runs: {statistics.mean(every):.2f} s a notebook")
        if not args.catalogue:
            return
        print("the catalogue (wrong and correct-but-different answers), once each:")
        for name in notebooks:
            entries = [e for e in load_catalogue(name) + load_correct(name)]
            if not entries:
                continue
            most, busiest, charged = 0, 0, 0.0
            for entry in entries:
                result, _, outcome = grade(name, planted(entry), entry.id)
                assert result.status == "graded", (entry.id, result.status, result.detail)
                if outcome.requests > most:
                    most, most_id = outcome.requests, entry.id
                if outcome.busiest > busiest:
                    busiest, busiest_id = outcome.busiest, entry.id
                charged = max(charged, outcome.charged)
            print(f"{name:16s} {len(entries):2d} entries   most requests {most:6d} ({most_id})"
                  f"   busiest case {busiest:6d} ({busiest_id})   most charged {charged:5.2f} s")


if __name__ == "__main__":
    main()
