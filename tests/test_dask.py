"""Grading on a real Dask cluster that speaks mutual TLS: a `dask scheduler` and two
`dask worker` processes on 127.0.0.1, started with the certificates `microgradlab
cluster-certs` makes, grade a small class with the same grades as the local run (same
seed), without importing PyTorch on a worker, and one worker killed mid-run loses
nothing. Whoever comes without the course's certificate is refused."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from microgradlab_grader import cli, sandbox
from microgradlab_grader.certs import files_for, make_certificates, security_for
from microgradlab_grader.gradebook import Gradebook, default_url
from microgradlab_grader.report import read_csv
from test_grader import cell, honest, with_mistakes, write

needs_bwrap = pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bwrap is not installed")
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


def tls_flags(certs: Path, role: str) -> list[str]:
    files = files_for(certs, role)
    return ["--tls-ca-file", str(files.ca), "--tls-cert", str(files.cert),
            "--tls-key", str(files.key)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, jupyter_env):
    """A TLS scheduler and two single-threaded TLS workers, as docs/GRADING.md starts them."""
    logs = tmp_path_factory.mktemp("dask-logs")
    certs = tmp_path_factory.mktemp("certs") / "cluster-certs"
    make_certificates(certs, ["127.0.0.1"])
    port = free_port()
    address = f"tls://127.0.0.1:{port}"
    scheduler = start([str(BIN / "dask"), "scheduler", "--protocol", "tls", "--host", "127.0.0.1",
                       "--port", str(port), "--no-dashboard", *tls_flags(certs, "scheduler")],
                      jupyter_env, logs / "scheduler.log")
    workers = [start([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                      "--no-dashboard", "--name", f"w{i}", "--host", "127.0.0.1",
                      *tls_flags(certs, "worker")],
                     jupyter_env, logs / f"worker{i}.log") for i in (1, 2)]
    from distributed import Client
    try:
        with Client(address, timeout="60s", security=security_for(certs)) as client:
            client.wait_for_workers(2, timeout=120)
        yield address, workers, logs, certs, port
    finally:
        for process in [*workers, scheduler]:
            stop(process)


def grades_of(out: Path) -> dict:
    return {r["student"]: (r["status"], r["score"], r["ex02_value"])
            for r in read_csv(out / "grades.csv")}


@needs_bwrap
def test_the_cluster_grades_like_this_machine_and_survives_a_dead_worker(tmp_path, cluster,
                                                                         jupyter_env):
    address, workers, logs, certs, _ = cluster
    build(tmp_path / "class")
    common = [str(tmp_path / "class"), "--notebooks", "02_value", "--seed", SEED,
              "--timeout-cell", "30", "--no-progress"]
    exe = str(BIN / "microgradlab")
    local = subprocess.run([exe, "grade", *common, "-o", str(tmp_path / "local"), "-j", "2"],
                           env=jupyter_env, capture_output=True, text=True)
    assert local.returncode == 0, local.stderr
    out = tmp_path / "cluster"
    run = subprocess.Popen([exe, "grade", *common, "-o", str(out), "--scheduler", address,
                            "--cluster-certs", str(certs)],
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
    # The client computed PyTorch's answers; the worker that graded never imported torch.
    from distributed import Client
    with Client(address, timeout="30s", security=security_for(certs)) as client:
        assert set(client.run(lambda: "torch" in sys.modules).values()) == {False}


def tls_refused(port: int, context: ssl.SSLContext) -> str:
    """Why the scheduler at ``port`` refused a TLS connection made with ``context``, or ""
    when it accepted it and waits for us to speak. (Under TLS 1.3 the server's verdict
    on our certificate arrives after the client's side of the handshake, on a read.)"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw) as tls:
                tls.settimeout(3)
                if tls.recv(1) == b"":
                    return "closed"
    except TimeoutError:
        return ""
    except (ssl.SSLError, ConnectionError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def test_whoever_has_no_course_certificate_is_refused(cluster):
    from distributed import Client
    from distributed.security import Security
    address, _, _, certs, port = cluster
    # The control: the client's certificate gets in.
    with Client(address, timeout="30s", security=security_for(certs)) as client:
        assert len(client.scheduler_info()["workers"]) >= 1
    # Trusting the course CA but showing no certificate: the scheduler refuses. The
    # same connection with the client's certificate is accepted (the control).
    files = files_for(certs, "client")
    bare = ssl.create_default_context(cafile=str(files.ca))
    bare.check_hostname = False
    assert tls_refused(port, bare)
    bare.load_cert_chain(str(files.cert), str(files.key))
    assert tls_refused(port, bare) == ""
    # A certificate of another CA (Dask's own throw-away one): refused.
    with pytest.raises(Exception, match="(?i)certificate|closed|timed out"):
        Client(address, timeout="10s", security=Security.temporary())
    # Plain tcp:// to the TLS port: no Dask conversation at all.
    with pytest.raises((OSError, TimeoutError)):
        Client(f"tcp://127.0.0.1:{port}", timeout="10s")


def test_plain_tcp_and_a_shared_key_are_refused_by_the_command(tmp_path, capsys):
    (tmp_path / "class" / "ann").mkdir(parents=True)
    write(honest("02_value"), tmp_path / "class" / "ann" / "02_value.ipynb")
    common = [str(tmp_path / "class"), "-o", str(tmp_path / "out"), "--notebooks", "02_value"]
    assert cli.main(["grade", *common, "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--insecure" in capsys.readouterr().err
    assert cli.main(["grade", *common, "--scheduler", "tls://127.0.0.1:1"]) == 2
    assert "needs --cluster-certs" in capsys.readouterr().err
    certs = tmp_path / "certs"
    assert cli.main(["cluster-certs", str(certs), "--host", "127.0.0.1"]) == 0
    files = files_for(certs, "client")
    files.key.chmod(0o644)
    assert cli.main(["grade", *common, "--scheduler", "tls://127.0.0.1:1",
                     "--cluster-certs", str(certs)]) == 2
    assert f"chmod 600 {files.key}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()   # refused before anything was written


def test_cluster_certs_makes_a_course_ca_and_prints_the_commands(tmp_path, capsys):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID as Use
    certs = tmp_path / "certs"
    assert cli.main(["cluster-certs", str(certs), "--host", "grader.example.org",
                     "--host", "10.0.0.5", "--port", "9000"]) == 0
    printed = capsys.readouterr().out
    assert (certs.stat().st_mode & 0o777) == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in certs.glob("*.key")} == {
        "ca.key": 0o600, "scheduler.key": 0o600, "worker.key": 0o600, "client.key": 0o600}
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    uses = {}
    for role in ("scheduler", "worker", "client"):
        cert = x509.load_pem_x509_certificate(files_for(certs, role).cert.read_bytes())
        cert.verify_directly_issued_by(ca)          # raises unless the course CA signed it
        uses[role] = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert uses["client"] == {Use.CLIENT_AUTH}      # a client certificate cannot serve
    assert uses["scheduler"] == uses["worker"] == {Use.SERVER_AUTH, Use.CLIENT_AUTH}
    scheduler = x509.load_pem_x509_certificate(files_for(certs, "scheduler").cert.read_bytes())
    names = scheduler.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "grader.example.org" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    # The commands name the certificates of each role and the address workers dial.
    assert f"dask scheduler --protocol tls --host 0.0.0.0 --port 9000" in printed
    assert f"--tls-cert {certs}/scheduler.pem --tls-key {certs}/scheduler.key" in printed
    assert f"dask worker tls://grader.example.org:9000" in printed
    assert f"--scheduler tls://grader.example.org:9000 --cluster-certs {certs}" in printed
    # A second run would replace the CA every machine trusts: refused.
    assert cli.main(["cluster-certs", str(certs)]) == 2
    assert "already holds" in capsys.readouterr().err


@needs_bwrap
def test_a_task_waiting_out_its_timeout_lends_its_workers_slot(tmp_path, jupyter_env):
    """One worker with one thread, an endless loop first in the queue: the honest notebook
    behind it is graded while the loop waits for its timeout, not after (secede)."""
    from microgradlab_grader.cluster import DEFAULT_SOLUTIONS, grade_on_cluster
    from microgradlab_grader.grading import Settings
    from microgradlab_grader.submissions import find_submissions
    from test_grader import with_cell_before_test

    write(with_cell_before_test("02_value", "ex02_value", "import time\ntime.sleep(600)\n"),
          tmp_path / "class" / "a-sleeper" / "02_value.ipynb")
    write(honest("02_value"), tmp_path / "class" / "b-honest" / "02_value.ipynb")
    submissions = find_submissions(tmp_path / "class", ["02_value"])
    assert [s.student for s in submissions] == ["a-sleeper", "b-honest"]
    delivered = []
    settings = Settings(timeout_cell=20, timeout_notebook=60, lend_after=1)
    grades = grade_on_cluster(submissions, ["02_value"], DEFAULT_SOLUTIONS, settings, "local:1",
                              {(s.student, s.notebook): 1 for s in submissions},
                              on_graded=lambda grade: delivered.append(grade.student))
    by_student = {g.student: g for g in grades}
    assert by_student["a-sleeper"].status == "timeout"
    assert by_student["b-honest"].status == "graded"
    assert by_student["b-honest"].score == by_student["b-honest"].max_score
    assert delivered == ["b-honest", "a-sleeper"]
