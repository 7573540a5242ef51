"""How long the in-kernel ``verify`` of each exercise takes, and on how many cases.

    .venv/bin/python bench/bench_verify.py [--runs 5]

Each exercise is verified with correct learner code (tests/test_exercises_learner.py's
CORRECT) in one fresh process: the first run pays for importing torch and for the fixed
cases' PyTorch values (cached from then on); later runs pay for producing every case and
for the random cases' PyTorch values. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r'''
import sys, time, json
sys.path.insert(0, "tests")
from test_exercises_learner import CORRECT
from microgradlab.checking import verify
from microgradlab.exercises import get
eid, runs = sys.argv[1], int(sys.argv[2])
cases = get(eid).cases(0)
times = []
for _ in range(runs):
    start = time.perf_counter()
    verify(eid, **CORRECT[eid])
    times.append(time.perf_counter() - start)
print(json.dumps({"times": times, "cases": len(cases),
                  "random": sum(not c.get("shown") for c in cases)
                            - sum(not c.get("shown") for c in get(eid).fixed())}))
'''


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    sys.path.insert(0, "src")
    from microgradlab.exercises import all_exercises

    print(f"{'exercise':24} {'cases':>5} {'random':>6} {'first':>8} {'later (mean)':>13} "
          f"{'later (max)':>12}")
    total = 0.0
    for exercise in all_exercises():
        out = subprocess.run([sys.executable, "-c", CHILD, exercise.id, str(args.runs)],
                             capture_output=True, text=True, check=True)
        found = json.loads(out.stdout.strip().splitlines()[-1])
        times, later = found["times"], found["times"][1:]
        mean = sum(later) / len(later)
        total += mean
        print(f"{exercise.id:24} {found['cases']:5} {found['random']:6} {times[0]:7.3f}s "
              f"{mean:12.3f}s {max(later):11.3f}s")
    print(f"sum of later means: {total:.3f} s")


if __name__ == "__main__":
    main()
