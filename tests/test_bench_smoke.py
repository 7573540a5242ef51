"""bench/bench_engine.py --quick runs to the end and prints every section.

Only that it runs: the figures themselves are for people to read, not asserted.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow  # nine fresh Python processes, four of which import torch
def test_quick_benchmark_runs_and_reports_every_section(repo_root, tmp_path):
    out_json = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(repo_root / "bench" / "bench_engine.py"), "--quick", "--json", str(out_json)],
        capture_output=True, text=True, timeout=300, cwd=repo_root,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout
    for heading in ("[1] two-moons demo", "[2] a chain of", "[3] sum of n products"):
        assert heading in text, f"section {heading!r} missing from:\n{text}"
    for engine in ("ours", "plain", "torch"):
        assert f"    {engine} " in text, f"no row for engine {engine!r}"
    assert "speed-up ours vs plain" in text and "loss curves agree within" in text
    # the loss curves of the three engines must agree whatever the machine's speed
    assert "target <= 1e-09): PASS" in text
    # the yardstick's recursive backward fails on a deep chain, ours does not
    figures = json.loads(out_json.read_text())
    assert figures["chain"]["ours"]["ok"] is True
    assert figures["chain"]["plain"]["error"].startswith("RecursionError")
    assert {r["engine"] for r in figures["products"]} == {"ours", "plain", "torch"}
