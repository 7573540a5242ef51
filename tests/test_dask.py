"""Grading on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on
127.0.0.1 grade a small class with the same grades as the local run (same seed), and
one worker killed mid-run loses nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from microgradlab_grader import sandbox
from microgradlab_grader.gradebook import Gradebook, default_url
from microgradlab_grader.report import read_csv
from test_grader import cell, honest, with_mistakes, write

pytestmark = pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bwrap is not installed")
BIN = Path(sys.executable).parent
WRONG_MUL = {"ex02_value_answer": ("self.data * other.data", "self.data + other.data")}
SEED = "21"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slowed(notebook):
    """The same work with a 3 s pause before the test: long enough to be caught mid-run."""
    test = cell(notebook, "ex02_value")
    notebook.cells.insert(notebook.cells.index(test),
                          nbformat.v4.new_code_cell("import time\ntime.sleep(3)\n"))
    return notebook


def build(folder: Path) -> None:
    write(honest("02_value"), folder / "ann" / "02_value.ipynb")
    write(with_mistakes("02_value", WRONG_MUL), folder / "ben" / "02_value.ipynb")
    write(slowed(honest("02_value")), folder / "cat" / "02_value.ipynb")
    write(slowed(with_mistakes("02_value", WRONG_MUL)), folder / "dan" / "02_value.ipynb")


def start(args, env, log: Path) -> subprocess.Popen:
    # A session of its own, so the worker's nanny and its worker process die together.
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"),
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, jupyter_env):
    logs = tmp_path_factory.mktemp("dask-logs")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                       str(port), "--no-dashboard"], jupyter_env, logs / "scheduler.log")
    workers = [start([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                      "--no-dashboard", "--name", f"w{i}", "--host", "127.0.0.1"],
                     jupyter_env, logs / f"worker{i}.log") for i in (1, 2)]
    from distributed import Client
    try:
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address, workers, logs
    finally:
        for process in [*workers, scheduler]:
            stop(process)


def grades_of(out: Path) -> dict:
    return {r["student"]: (r["status"], r["score"], r["ex02_value"])
            for r in read_csv(out / "grades.csv")}


def test_the_cluster_grades_like_this_machine_and_survives_a_dead_worker(tmp_path, cluster,
                                                                         jupyter_env):
    address, workers, logs = cluster
    build(tmp_path / "class")
    common = [str(tmp_path / "class"), "--notebooks", "02_value", "--seed", SEED,
              "--timeout-cell", "30", "--no-progress"]
    exe = str(BIN / "microgradlab")
    local = subprocess.run([exe, "grade", *common, "-o", str(tmp_path / "local"), "-j", "2"],
                           env=jupyter_env, capture_output=True, text=True)
    assert local.returncode == 0, local.stderr
    out = tmp_path / "cluster"
    run = subprocess.Popen([exe, "grade", *common, "-o", str(out), "--scheduler", address],
                           env=jupyter_env, stderr=subprocess.PIPE, text=True)
    try:
        killed = False
        while run.poll() is None and not killed:
            if (out / "gradebook.db").exists():
                book = Gradebook(default_url(out))
                done = len(book.rows())
                book.close()
                if done >= 1:
                    stop(workers[0])   # SIGKILL, mid-run: its task goes to the other worker
                    killed = True
            time.sleep(0.2)
        err = run.communicate(timeout=600)[1]
    finally:
        if run.poll() is None:
            run.kill()
    assert killed, "the run ended before a worker could be killed"
    assert run.returncode == 0, err
    assert grades_of(out) == grades_of(tmp_path / "local")
    assert set(grades_of(out)) == {"ann", "ben", "cat", "dan"}
    assert grades_of(out)["cat"][:2] == ("graded", "3")
    assert grades_of(out)["dan"][:2] == ("graded", "0")
