"""How fast and how lean is microgradlab.Value? One run prints a table.

Three engines do the same work:

* ``ours``  -- microgradlab.Value
* ``plain`` -- bench/closure_engine.py, micrograd's design: every node stores
  a closure for its backward step and a *set* of inputs, backward sorts the
  graph with a recursive depth-first search, sums are chains of '+'.
* ``torch`` -- PyTorch with one 0-d float64 tensor per scalar (sections 2, 3).

Sections:
  1. micrograd's two-moons demo loop as the demo writes it (Python sum, p*p,
     the max-margin loss, its learning-rate schedule): MLP(2, [16, 16, 1]),
     100 samples, 100 SGD steps from the same starting weights, ours against
     plain: wall and CPU time, accuracy, and how far the loss curves are apart.
     The speed-up target is judged on CPU time, which other work on a shared
     machine disturbs far less than wall time;
  2. a chain of 1,000,000 nodes: does backward work, and how long does it take;
  3. the sum of n products a_i * b_i of leaves: forward and backward time and
     peak memory (ru_maxrss), each measured in a fresh process.

Usage:  python bench/bench_engine.py [--quick] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

# Targets the engine is held to.
DEMO_SPEEDUP_TARGET = 50.0  # ours vs plain, the whole demo (100 samples, 100 steps), CPU time
# --quick trains 20 samples for 3 steps: the closure engine's collector has far
# less to scan in a graph that small, so the honest ratio there is lower.
QUICK_DEMO_SPEEDUP_TARGET = 10.0
LOSS_CURVE_TOLERANCE = 1e-9
PRODUCTS_TIME_TARGET = 3.0  # seconds, forward + backward of 1e6 products
PRODUCTS_MEMORY_TARGET = 400.0  # MB added by forward + backward of 1e6 products


# ======================================================================
# The yardstick (bench/closure_engine.py) and micrograd's demo loop
# ======================================================================
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from closure_engine import ClosureMLP, ClosureValue, copy_weights, demo_training  # noqa: E402

PlainValue = ClosureValue  # the name the rest of this file uses


def _engine(name):
    """(make a scalar, neuron pre-activation, sum of many, read a float) for one engine."""
    if name == "ours":
        from microgradlab import Value

        return Value, lambda w, b, x: Value.linear(w, x, b), Value.sum, lambda v: v.data
    if name == "plain":
        return (
            PlainValue,
            lambda w, b, x: sum((wi * xi for wi, xi in zip(w, x)), b),
            lambda values: sum(values),
            lambda v: v.data,
        )
    import torch

    torch.set_num_threads(1)

    def scalar(x):
        return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)

    return (
        scalar,
        lambda w, b, x: sum((wi * xi for wi, xi in zip(w, x)), b),
        lambda values: sum(values),
        lambda t: t.item(),
    )


def run_demo(engine, n_samples, steps):
    """micrograd's demo as the demo writes it (closure_engine.demo_training):
    seeds 1337, make_moons(n_samples, noise=0.1), y*2-1, MLP(2, [16, 16, 1]).

    ``ours`` is microgradlab's MLP and Value; ``plain`` the closure engine's,
    with ours's starting weights copied in. Times the training loop only.
    """
    import random

    import numpy as np

    from microgradlab import Value
    from microgradlab.data import make_moons
    from microgradlab.nn import MLP

    np.random.seed(1337)
    random.seed(1337)
    X, y = make_moons(n_samples=n_samples, noise=0.1)
    y = y * 2 - 1
    model = MLP(2, [16, 16, 1])
    if engine == "plain":
        plain = ClosureMLP(2, [16, 16, 1])
        copy_weights(model, plain)
        model, Value = plain, ClosureValue
    wall, cpu = time.perf_counter(), time.process_time()
    losses, accuracies = demo_training(Value, model, X, y, steps)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"seconds": wall, "cpu_seconds": cpu, "losses": losses, "accuracy": accuracies[-1],
            "load_average": os.getloadavg()[0]}


# ======================================================================
# Deep chain and many products (each in its own process)
# ======================================================================
def run_chain(engine, n):
    make, _, _, read = _engine(engine)
    x = make(0.5)
    node = x
    t0 = time.perf_counter()
    for _ in range(n // 2):  # two nodes per round
        node = (node + 0.25) * 1.0
    built = time.perf_counter()
    try:
        node.backward()
    except RecursionError as err:
        return {"ok": False, "error": f"RecursionError: {err}", "forward_s": built - t0,
                "recursion_limit": sys.getrecursionlimit()}
    done = time.perf_counter()
    grad = float(x.grad)  # float() reads a Python float and a 0-d tensor alike
    return {"ok": grad == 1.0, "grad": grad, "forward_s": built - t0, "backward_s": done - built,
            "recursion_limit": sys.getrecursionlimit()}


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_products(engine, n, raise_limit=False):
    """sum(a_i * b_i) for n pairs of leaves: time and peak memory."""
    import random

    make, _, total, read = _engine(engine)
    rng = random.Random(0)
    a = [make(rng.uniform(-1, 1)) for _ in range(n)]
    b = [make(rng.uniform(-1, 1)) for _ in range(n)]
    leaves_mb = _peak_mb()
    t0 = time.perf_counter()
    if engine == "torch":
        import torch

        out = torch.stack([ai * bi for ai, bi in zip(a, b)]).sum()
    else:
        out = total([ai * bi for ai, bi in zip(a, b)])
    t1 = time.perf_counter()
    try:
        out.backward()
    except RecursionError as err:
        return {"ok": False, "error": f"RecursionError: {str(err)[:60]}", "forward_s": t1 - t0,
                "leaves_mb": leaves_mb, "peak_mb": _peak_mb()}
    t2 = time.perf_counter()
    ok = math.isclose(float(a[7].grad), read(b[7]), rel_tol=1e-12)  # d(sum)/da_i = b_i
    return {"ok": ok, "forward_s": t1 - t0, "backward_s": t2 - t1, "leaves_mb": leaves_mb,
            "peak_mb": _peak_mb(), "added_mb": _peak_mb() - leaves_mb}


def _worker(task, engine, n, raise_limit):
    if raise_limit:
        # What users of a recursive engine are told to do: a high recursion
        # limit, and a thread with a big stack so the deep recursion fits.
        import threading

        sys.setrecursionlimit(10 * n + 1000)
        threading.stack_size(1 << 30)
        box = {}
        thread = threading.Thread(target=lambda: box.update(_worker(task, engine, n, False)))
        thread.start()
        thread.join()
        return box
    if task == "demo":
        steps, samples = divmod(n, 1_000_000)
        return run_demo(engine, samples, steps)
    if task == "chain":
        return run_chain(engine, n)
    return run_products(engine, n)


def in_fresh_process(task, engine, n, raise_limit=False, timeout=1800):
    """Run one measurement in a new Python, so memory figures start from zero."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", task, engine, str(n)]
    if raise_limit:
        cmd.append("--raise-limit")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"ok": False, "error": f"exit {proc.returncode}: {tail[:80]}"}
    return json.loads(lines[-1])


# ======================================================================
# The report
# ======================================================================
def _s(x):
    return "-" if x is None else f"{x:.3f}"


def verdict(ok):
    return "PASS" if ok else "FAIL"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test in seconds")
    parser.add_argument("--json", metavar="PATH", help="also save every figure as JSON")
    parser.add_argument("--worker", nargs=3, metavar=("TASK", "ENGINE", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--raise-limit", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        task, engine, n = args.worker
        print(json.dumps(_worker(task, engine, int(n), args.raise_limit)))
        return 0

    quick = args.quick
    samples, steps = (20, 3) if quick else (100, 100)
    chain_n = 5_000 if quick else 1_000_000
    product_sizes = [2_000, 5_000] if quick else [100_000, 1_000_000]
    figures = {"quick": quick, "python": sys.version.split()[0]}
    print(f"microgradlab engine benchmark ({'quick' if quick else 'full'}; Python {figures['python']})")

    # 1. the demo ----------------------------------------------------------
    print(f"\n[1] two-moons demo as micrograd's demo.ipynb writes it: make_moons({samples}, noise=0.1), "
          f"MLP(2,[16,16,1]), {steps} SGD steps")
    print(f"    (one fresh process per engine; load average before: {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores)")
    demo = {e: in_fresh_process("demo", e, steps * 1_000_000 + samples) for e in ("ours", "plain")}
    figures["demo"] = demo
    print(f"    {'engine':<8}{'wall s':>10}{'CPU s':>10}{'accuracy':>10}{'final loss':>14}"
          f"{'max |loss - ours|':>20}")
    ours_losses = demo["ours"].get("losses")
    for engine, r in demo.items():
        if "losses" not in r:
            print(f"    {engine:<8} failed: {r.get('error')}")
            continue
        gap = max(abs(a - b) for a, b in zip(r["losses"], ours_losses)) if ours_losses else None
        r["max_loss_gap"] = gap
        print(f"    {engine:<8}{r['seconds']:>10.2f}{r['cpu_seconds']:>10.2f}{r['accuracy']:>10.2f}"
              f"{r['losses'][-1]:>14.6f}{gap:>20.2e}")
    if all("losses" in r for r in demo.values()):
        speedup = demo["plain"]["cpu_seconds"] / demo["ours"]["cpu_seconds"]
        wall_speedup = demo["plain"]["seconds"] / demo["ours"]["seconds"]
        worst_gap = max(r["max_loss_gap"] for r in demo.values())
        target = QUICK_DEMO_SPEEDUP_TARGET if quick else DEMO_SPEEDUP_TARGET
        figures["demo_speedup"] = speedup
        figures["demo_wall_speedup"] = wall_speedup
        print(f"    speed-up ours vs plain: {speedup:.1f}x in CPU time, {wall_speedup:.1f}x in wall time "
              f"(target on CPU time >= {target:.0f}x): {verdict(speedup >= target)}")
        print(f"    loss curves agree within {worst_gap:.1e} (target <= {LOSS_CURVE_TOLERANCE:.0e}): "
              f"{verdict(worst_gap <= LOSS_CURVE_TOLERANCE)}")
    else:
        print("    FAIL: an engine did not finish the demo")

    # 2. the deep chain ----------------------------------------------------
    print(f"\n[2] a chain of {chain_n:,} nodes, then backward (default recursion limit)")
    chain = {e: in_fresh_process("chain", e, chain_n) for e in ("ours", "plain", "torch")}
    figures["chain"] = chain
    for engine, r in chain.items():
        if r.get("ok"):
            print(f"    {engine:<8}works: build {_s(r['forward_s'])} s, backward {_s(r['backward_s'])} s")
        else:
            print(f"    {engine:<8}fails: {r.get('error', '')[:70]}")
    print(f"    ours: {verdict(chain['ours'].get('ok'))}")

    # 3. many products -----------------------------------------------------
    print("\n[3] sum of n products a_i * b_i of leaves (fresh process each; memory = ru_maxrss)")
    print(f"    {'engine':<20}{'n':>10}{'forward s':>11}{'backward s':>12}{'leaves MB':>11}"
          f"{'peak MB':>9}{'added MB':>10}")
    products = []
    runs = [("ours", n, False) for n in product_sizes]
    runs += [("plain", product_sizes[0], False), ("plain", product_sizes[0], True)]
    runs += [("torch", n, False) for n in product_sizes]
    for engine, n, raise_limit in runs:
        r = in_fresh_process("products", engine, n, raise_limit)
        r.update(engine=engine, n=n, raised_recursion_limit=raise_limit)
        products.append(r)
        label = engine + (" (limit raised)" if raise_limit else "")
        if r.get("ok"):
            print(f"    {label:<20}{n:>10,}{r['forward_s']:>11.3f}{r['backward_s']:>12.3f}"
                  f"{r['leaves_mb']:>11.0f}{r['peak_mb']:>9.0f}{r['added_mb']:>10.0f}")
        else:
            print(f"    {label:<20}{n:>10,}  fails: {r.get('error', '')[:60]}")
    figures["products"] = products
    print("    (plain: builtin sum() builds an n-deep chain of '+'; the plain engine was run at the "
          "smaller n only)")
    biggest = [r for r in products if r["engine"] == "ours" and r["n"] == product_sizes[-1]][0]
    if biggest.get("ok"):
        fb = biggest["forward_s"] + biggest["backward_s"]
        figures["products_forward_backward_s"] = fb
        print(f"    ours at n={product_sizes[-1]:,}: forward+backward {fb:.2f} s "
              f"(target <= {PRODUCTS_TIME_TARGET:.0f} s): {verdict(fb <= PRODUCTS_TIME_TARGET)}; "
              f"memory added {biggest['added_mb']:.0f} MB, whole process {biggest['peak_mb']:.0f} MB "
              f"(target <= {PRODUCTS_MEMORY_TARGET:.0f} MB added): "
              f"{verdict(biggest['added_mb'] <= PRODUCTS_MEMORY_TARGET)}")

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=1)
        print(f"\nfigures saved to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
