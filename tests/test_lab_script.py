"""`make lab` starts JupyterLab on 127.0.0.1 and prints one URL that opens the course.

The learner's view: a token in the URL, notebook 01 open, a file browser holding the
student notebooks only, no instructor tools, no "Jupyter news" prompt. The instructor's
view (`make instructor`): the whole repository and every nbgrader tool.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

URL = re.compile(r"https?://\S+")


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


def _lab_module(repo_root):
    sys.path.insert(0, str(repo_root / "scripts"))
    try:
        import lab
    finally:
        sys.path.pop(0)
    return lab


@contextlib.contextmanager
def running_lab(repo_root, env, instructor=False):
    """scripts/lab.py as `make lab` runs it; yields (port, url it printed, every line so far)."""
    port = _free_port()
    command = [sys.executable, str(repo_root / "scripts" / "lab.py"), "--port", str(port)]
    proc = subprocess.Popen(command + (["--instructor"] if instructor else []),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 120
        url = None
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("[lab] open "):
                url = line.split("[lab] open ", 1)[1].strip()
        assert url, "scripts/lab.py printed no URL:\n" + "".join(lines)
        yield port, url, lines
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=20) as reply:
            return reply.status, reply.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, ""


def _page_config(page: str) -> dict:
    """The page config JupyterLab hands the browser (the JSON in its /lab page)."""
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page, re.S)
    assert found, "no jupyter-config-data in the /lab page"
    return json.loads(found.group(1))


@pytest.mark.slow
def test_make_lab_prints_one_url_that_opens_notebook_01(repo_root, jupyter_env):
    with running_lab(repo_root, jupyter_env) as (port, url, lines):
        urls = [u for line in lines for u in URL.findall(line)]
        assert urls == [url], f"the output should hold exactly one URL:\n{''.join(lines)}"
        match = re.fullmatch(rf"http://127\.0\.0\.1:{port}/lab/tree/01_derivatives\.ipynb"
                             r"\?token=([0-9a-f]{48})", url)
        assert match, url
        token = match.group(1)
        # The printed URL itself answers: it logs in with its token and opens notebook 01.
        status, page = _get(url)
        assert status == 200
        config = _page_config(page)
        assert config.get("treePath") == "01_derivatives.ipynb", config.get("treePath")
        # Without the token the server answers nothing but a login page.
        assert _get(f"http://127.0.0.1:{port}/api/contents")[0] == 403
        # Its root is notebooks/: the learner sees the six notebooks and nothing else.
        status, listing = _get(f"http://127.0.0.1:{port}/api/contents", token)
        assert status == 200
        names = sorted(item["name"] for item in json.loads(listing)["content"])
        assert names == sorted(p.name for p in (repo_root / "notebooks").glob("*.ipynb")), names
        # No "Jupyter news" question and no update check: both default to off.
        status, settings = _get(f"http://127.0.0.1:{port}/lab/api/settings/"
                                "@jupyterlab/apputils-extension:notification", token)
        properties = json.loads(settings)["schema"]["properties"]
        assert properties["fetchNews"]["default"] == "false"
        assert properties["checkForUpdates"]["default"] is False
        # It listens on the loopback address only (0100007F is 127.0.0.1).
        assert _listening_addresses(port) == {"0100007F"}


@pytest.mark.slow
@pytest.mark.parametrize("instructor", [False, True], ids=["make lab", "make instructor"])
def test_learners_do_not_get_the_instructor_tools(repo_root, jupyter_env, instructor):
    lab = _lab_module(repo_root)
    with running_lab(repo_root, jupyter_env, instructor) as (port, url, lines):
        token = url.split("token=")[1]
        status, page = _get(url)
        assert status == 200
        disabled = _page_config(page).get("disabledExtensions", [])
        disabled = set(disabled if isinstance(disabled, list) else
                       [k for k, v in disabled.items() if v])
        for plugin in lab.INSTRUCTOR_PLUGINS:
            assert (plugin in disabled) != instructor, (plugin, disabled)
        assert "@jupyter/nbgrader:assignment-list" not in disabled
        # The formgrader's server side runs for instructors only.
        formgrader = _get(f"http://127.0.0.1:{port}/formgrader", token)[0]
        assert (formgrader == 200) == instructor, formgrader
        # The instructor keeps the whole repository; the learner has notebooks/ only.
        listing = json.loads(_get(f"http://127.0.0.1:{port}/api/contents", token)[1])
        names = {item["name"] for item in listing["content"]}
        assert ({"solutions", "autograder", "tests"} <= names) == instructor, names
        if instructor:
            assert url.endswith(f"/lab/tree/notebooks?token={token}"), url


def test_the_config_folders_leave_the_users_settings_alone(repo_root, tmp_path):
    """The views' settings live in their own folders, first on JUPYTER_CONFIG_PATH."""
    lab = _lab_module(repo_root)
    folder = lab.write_config(False, tmp_path / "learner")
    overrides = json.loads((folder / "labconfig" / "default_setting_overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    server = json.loads((folder / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"] == {
        name: False for name in lab.INSTRUCTOR_SERVER_EXTENSIONS}
    env = lab.lab_environment(False, {"JUPYTER_CONFIG_PATH": "/elsewhere"}, token="abc")
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(lab.LEARNER_CONFIG), "/elsewhere"]
    assert env["JUPYTER_TOKEN"] == "abc"
    assert "abc" not in " ".join(lab.server_command(8888, False))  # never on the command line


@pytest.mark.slow
@pytest.mark.browser
def test_the_printed_url_opens_the_course_in_a_browser(repo_root, jupyter_env):
    """Chromium at the printed URL: notebook 01 open, the file browser on the six student
    notebooks, and no prompt on top (the news question would appear within seconds)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("/usr/bin/chromium is not installed (Debian: apt-get install chromium)")
    from test_browser import CHROMIUM_FLAGS, MINUTE

    artifacts = repo_root / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with running_lab(repo_root, jupyter_env) as (port, url, lines), \
            sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(2 * MINUTE)
            page.goto(url)
            page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for()
            title = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel").first
            assert title.inner_text() == "01_derivatives.ipynb"
            page.locator(".jp-DirListing-item").first.wait_for()
            time.sleep(5)  # JupyterLab asks about news a few seconds after it starts
            listed = sorted(page.locator(".jp-DirListing-itemName").all_inner_texts())
            page.screenshot(path=str(artifacts / "make_lab_first_screen.png"))
            toasts = page.locator(".Toastify__toast").all_inner_texts()
            body = page.locator("body").inner_text()
        finally:
            browser.close()
    assert listed == sorted(p.name for p in (repo_root / "notebooks").glob("*.ipynb")), listed
    assert not toasts, toasts
    assert "Jupyter news" not in body
