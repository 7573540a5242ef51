"""How long a click of the "Check my answer" button takes, first and later, per exercise.

    .venv/bin/python bench/bench_check_click.py [--clicks 5]

Each exercise is checked with correct learner code (the reference solution
passed in as if it were the learner's, with the reference check switched off)
in one fresh process: the first click pays for importing torch and for the
fixed cases' PyTorch values (cached from then on), later clicks only for the
random cases. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

CHILD = r'''
import sys, time, json, random
sys.path.insert(0, "tests")
from test_exercises_learner import CORRECT
from microgradlab.checking import self_check
eid, clicks = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(clicks):
    start = time.perf_counter()
    state = self_check(eid, **CORRECT[eid]).state
    times.append(time.perf_counter() - start)
    assert state == "correct", (eid, state)
print(json.dumps(times))
'''


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=5)
    args = parser.parse_args(argv)
    sys.path.insert(0, "src")
    from microgradlab.exercises import all_exercises

    import json
    print(f"{'exercise':24} {'first click':>12} {'later (max)':>12} {'later (mean)':>13}")
    worst = 0.0
    for exercise in all_exercises():
        out = subprocess.run([sys.executable, "-c", CHILD, exercise.id, str(args.clicks)],
                             capture_output=True, text=True, check=True)
        times = json.loads(out.stdout.strip().splitlines()[-1])
        later = times[1:]
        worst = max(worst, max(later))
        print(f"{exercise.id:24} {times[0]:11.3f}s {max(later):11.3f}s {sum(later) / len(later):12.3f}s")
    print(f"slowest later click: {worst:.3f} s")


if __name__ == "__main__":
    main()
