"""`make lab` starts JupyterLab on 127.0.0.1 and prints a URL that answers."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """Local IPv4/IPv6 addresses (hex, as the kernel prints them) listening on port."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for row in f:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                    found.add(address)
    return found


@pytest.mark.slow
def test_lab_starts_on_localhost_and_prints_its_url(repo_root, jupyter_env):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(repo_root / "scripts" / "lab.py"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=jupyter_env, start_new_session=True,
    )
    lines = []
    try:
        url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(rf"(http://127\.0\.0\.1:{port}/lab\?token=\w+)", line)
            if match:
                url = match.group(1)
        assert url, "JupyterLab printed no URL:\n" + "".join(lines)
        token = url.split("token=")[1]
        # The URL is printed as the server starts listening; on a loaded
        # machine the first request can still be refused for a moment.
        status, deadline = None, time.monotonic() + 30
        while status is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/status?token={token}", timeout=10
                ) as response:
                    status = response.status
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert status == 200
        # It must listen on the loopback address only (0100007F is 127.0.0.1).
        assert _listening_addresses(port) == {"0100007F"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def _page_config(port: int, token: str) -> dict:
    """The page config JupyterLab hands the browser (the JSON in its /lab page)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}",
                                        timeout=10) as response:
                page = response.read().decode("utf-8")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page, re.S)
    assert found, "no jupyter-config-data in the /lab page"
    import json
    return json.loads(found.group(1))


@pytest.mark.slow
@pytest.mark.parametrize("instructor", [False, True], ids=["make lab", "make instructor"])
def test_learners_do_not_get_the_instructor_tools(repo_root, jupyter_env, instructor):
    sys.path.insert(0, str(repo_root / "scripts"))
    try:
        import lab
    finally:
        sys.path.pop(0)
    port = _free_port()
    command = [sys.executable, str(repo_root / "scripts" / "lab.py"), "--port", str(port)]
    proc = subprocess.Popen(command + (["--instructor"] if instructor else []),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=jupyter_env, start_new_session=True)
    lines = []
    try:
        token, deadline = None, time.monotonic() + 90
        while time.monotonic() < deadline and token is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)", line)
            token = match.group(1) if match else None
        assert token, "JupyterLab printed no URL:\n" + "".join(lines)
        disabled = _page_config(port, token).get("disabledExtensions", [])
        disabled = set(disabled if isinstance(disabled, list) else
                       [k for k, v in disabled.items() if v])
        for plugin in lab.INSTRUCTOR_PLUGINS:
            assert (plugin in disabled) != instructor, (plugin, disabled)
        assert "@jupyter/nbgrader:assignment-list" not in disabled
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
