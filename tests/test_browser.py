"""A learner's view, for real: JupyterLab in headless Chromium.

Starts JupyterLab on 127.0.0.1 (free port, no token, private Jupyter dirs),
opens a notebook, waits for the kernel, runs every cell, clicks "Check my
answer" and reads the result that appears in the page. A screenshot lands in
test-artifacts/. The server log is attached to any failure.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
STATE_LINES = ("○ Not attempted yet", "✓ Correct", "✗ Not yet")
MINUTE = 60_000  # Playwright timeouts are in milliseconds
GENERATED = "check_panel_demo.ipynb"
STUDENT = "04_backward.ipynb"

KERNEL_CONNECTED = """() => {
    const app = window.jupyterapp;
    const panel = app && app.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
                   && panel.sessionContext.session.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""

KERNEL_IDLE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel.sessionContext.session.kernel;
    return kernel.status === 'idle';
}"""


def checking_ready() -> bool:
    """True once microgradlab.checking provides check() (another part of the project)."""
    done = subprocess.run([sys.executable, "-c", "from microgradlab.checking import check"],
                          capture_output=True, timeout=120)
    return done.returncode == 0


def generated_notebook() -> nbformat.NotebookNode:
    """A small notebook in the course's style: a graph, a learner's backward with the
    classic `=` instead of `+=` bug, and a check panel that finds it."""
    cells = [
        "from microgradlab import Value\n"
        "from microgradlab.widgets import BackwardStepper, check_panel, draw_dot\n"
        "from types import SimpleNamespace",
        "a = Value(2.0, label='a')\nb = Value(3.0, label='b')\n"
        "c = a * b + a  # a is used twice\nc.label = 'c'\ndraw_dot(c)",
        "def backward(root):  # the learner's version, with a bug\n"
        "    root.grad = 1.0\n"
        "    product, _ = root._prev\n"
        "    product.grad = root.grad\n"
        "    a.grad = product.grad * b.data\n"
        "    a.grad = root.grad          # overwrites instead of adding: should be +=\n"
        "    b.grad = product.grad * a.data",
        "def make_report():\n"
        "    backward(c)\n"
        "    expected_a = b.data + 1\n"
        "    if a.grad == expected_a:\n"
        "        return SimpleNamespace(state='correct', text='a.grad matches', "
        "graph_root=None, highlight={})\n"
        "    return SimpleNamespace(\n"
        "        state='wrong',\n"
        "        text=f'a.grad is {a.grad} but a is used twice: each use must add its share',\n"
        "        graph_root=c, highlight={a: 'used twice'})\n\n"
        "check_panel('ex04_backward', make_report, lambda: 'use += in every _backward')",
        "BackwardStepper(c)",
    ]
    notebook = nbformat.v4.new_notebook()
    for source in cells:
        notebook.cells.append(nbformat.v4.new_markdown_cell("A step of the demo."))
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    return notebook


def student_notebook(path: Path) -> nbformat.NotebookNode:
    """The real student notebook, with every graded cell tagged `raises-exception` so
    Run All goes on past the unfinished exercises (JupyterLab honours that tag)."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and (grading.get("solution") or grading.get("grade")):
            tags = cell.metadata.setdefault("tags", [])
            if "raises-exception" not in tags:
                tags.append("raises-exception")
    return notebook


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab_server(jupyter_env, tmp_path_factory):
    """A JupyterLab server with the notebooks in its root; yields (url, notebook names, log).

    The generated notebook is always there; the real student notebook 04 joins it once it
    and microgradlab.checking exist."""
    config_dir = Path(jupyter_env["JUPYTER_CONFIG_DIR"])
    news = config_dir / "lab/user-settings/@jupyterlab/apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))

    tmp_path = tmp_path_factory.mktemp("lab")
    root = tmp_path / "lab-root"
    root.mkdir()
    names = [GENERATED]
    nbformat.write(generated_notebook(), root / GENERATED)
    real = REPO / "notebooks" / STUDENT
    if real.exists() and checking_ready():
        nbformat.write(student_notebook(real), root / STUDENT)
        names.append(STUDENT)
    # Every student notebook as built (its own tags, nothing added), in a folder of its own.
    (root / "course").mkdir()
    for path in sorted((REPO / "notebooks").glob("0*.ipynb")):
        (root / "course" / path.name).write_bytes(path.read_bytes())

    port = free_port()
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--IdentityProvider.token=", "--ServerApp.password=",
               f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
               "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_path = tmp_path / "jupyter-server.log"
    log = open(log_path, "w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=jupyter_env,
                              cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer in 90 s:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield url, names, log_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def run_all_and_click(page, url: str, name: str, workspace: str, artifacts: Path):
    """Open ``name`` in a fresh workspace, run every cell, click the first "Check my answer"
    and the first stepper's "Next"; return the texts that appeared."""
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{name}")
    page.wait_for_selector(".jp-Notebook")
    # "Run All" before the kernel is connected hangs: wait for it explicitly.
    page.wait_for_function(KERNEL_CONNECTED, timeout=2 * MINUTE, polling=250)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    # Every cell has run when every prompt shows an execution count.
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""", timeout=3 * MINUTE, polling=500)
    page.wait_for_function(KERNEL_IDLE, timeout=2 * MINUTE, polling=250)

    notebook.locator("button.mgl-check-button").first.click()
    result = notebook.locator(".mgl-check-result").first
    result.locator(".mgl-check-state").filter(
        has_text=re.compile("|".join(STATE_LINES))).wait_for()
    result.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"browser_{Path(name).stem}_check.png"))
    check_text = result.inner_text()

    notebook.locator("button", has_text="Next ▶").first.click()
    caption = notebook.locator(".mgl-stepper-text").first
    caption.filter(has_text="step 1/").wait_for()
    caption.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"browser_{Path(name).stem}_stepper.png"))
    return check_text, caption.inner_text()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed "
                    "(Debian: apt-get install chromium)")
def test_check_button_and_stepper_answer_clicks_in_jupyterlab(lab_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, names, log_path = lab_server
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)

    seen = {}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(2 * MINUTE)
        try:
            for k, name in enumerate(names):
                seen[name] = run_all_and_click(page, url, name, f"test{k}", artifacts)
        except Exception:
            page.screenshot(path=str(artifacts / "browser_failure.png"))
            print("---- JupyterLab server log ----\n" + log_path.read_text())
            raise
        finally:
            browser.close()

    # The generated notebook: the learner's `=` bug is found, explained and drawn.
    check_text, stepper_text = seen[GENERATED]
    assert "✗ Not yet" in check_text
    assert "a.grad is 1.0 but a is used twice" in check_text
    assert "✗ a" in check_text.replace("\u00a0", " ") and "used twice" in check_text
    assert stepper_text.startswith("step 1/4: c = ")

    if STUDENT in seen:  # the real notebook, exercises unfinished: "not attempted"
        check_text, stepper_text = seen[STUDENT]
        assert "○ Not attempted yet" in check_text, check_text
        assert stepper_text.startswith("step 1/7: L = d * f"), stepper_text


@pytest.fixture(scope="module")
def browser_page():
    """One headless Chromium for the module; a fresh page per test."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


ALL_RAN = """() => {
    const prompts = [...document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""

# Output areas wider than they are shown: a drawing cut off at the right.
OVERFLOWING = """() => [...document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')]
    .filter(o => o.scrollWidth > o.clientWidth + 1)
    .map(o => `${o.scrollWidth} > ${o.clientWidth}: ` + o.textContent.slice(0, 60))"""

SMALLEST_TEXT = """() => {
    const sizes = [...document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .mgl-drawing svg')].map(svg => {
        const box = svg.getBoundingClientRect();
        const view = svg.viewBox.baseVal;
        const text = svg.querySelector('text');
        if (!text || !view || !view.width) return null;
        const size = parseFloat(text.getAttribute('font-size')
                                || getComputedStyle(text).fontSize || '14');
        return size * box.width / view.width;
    }).filter(x => x !== null);
    return sizes.length ? Math.min(...sizes) : null;
}"""


def open_and_run_all(page, url, path, workspace):
    started = time.monotonic()
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{path}")
    page.wait_for_selector(".jp-Notebook")
    page.wait_for_function(KERNEL_CONNECTED, timeout=3 * MINUTE, polling=250)
    ready = time.monotonic() - started
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(ALL_RAN, timeout=15 * MINUTE, polling=1000)
    page.wait_for_function(KERNEL_IDLE, timeout=15 * MINUTE, polling=500)
    return ready


def test_every_notebook_runs_to_the_end_and_its_drawings_fit(lab_server, browser_page):
    url, _, log_path = lab_server
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page = browser_page.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(2 * MINUTE)
    names = sorted(p.name for p in (REPO / "notebooks").glob("0*.ipynb"))
    problems = []
    try:
        for k, name in enumerate(names):
            ready = open_and_run_all(page, url, f"course/{name}", f"all{k}")
            print(f"{name}: page open to idle kernel {ready:.1f} s")
            overflowing = page.evaluate(OVERFLOWING)
            if overflowing:
                problems.append(f"{name}: {overflowing}")
            smallest = page.evaluate(SMALLEST_TEXT)
            if smallest is not None and smallest < 10 - 0.5:
                problems.append(f"{name}: drawing text {smallest:.1f} px")
            drawing = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mgl-drawing")
            if drawing.count():
                drawing.last.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts / f"browser_runall_{Path(name).stem}.png"))
            if name.startswith("06"):
                more_steps(page, artifacts)
            if name.startswith("01"):
                print_cards(page, browser_page, artifacts, url)
    except Exception:
        page.screenshot(path=str(artifacts / "browser_failure.png"))
        print("---- JupyterLab server log ----\n" + log_path.read_text()[-5000:])
        raise
    finally:
        page.close()
    assert not problems, "\n".join(problems)


def more_steps(page, artifacts):
    """06: the capstone finished in the cell; "Train 10 more steps" goes on from there."""
    status = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mgl-train-status").last
    status.filter(has_text="(finished)").wait_for(timeout=2 * MINUTE)
    assert "100/100 steps" in status.inner_text()
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) button.mgl-train-more").last.click()
    status.filter(has_text="110/110 steps").wait_for(timeout=5 * MINUTE)
    view = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mgl-training-view").last
    view.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "browser_06_training_more.png"))
    output = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output",
                          has_text="points on the right side").last
    assert "100 of 100 points on the right side" in output.inner_text()


def print_cards(page, browser, artifacts, url):
    """01: the print button links to the raw page in a new tab; printed, one card a page."""
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) button.mgl-flashcards-print").last.click()
    link = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) a.mgl-print-page").last
    link.wait_for()
    assert link.get_attribute("target") == "_blank"
    href = link.get_attribute("href")
    assert "/files/" in href and href.startswith("http"), href
    printable = browser.new_page()
    try:
        # A click sends the notebook page as Referer; a server without a token checks it.
        printable.goto(href, referer=f"{url}/lab")
        cards = printable.locator(".mgl-card").count()
        printable.screenshot(path=str(artifacts / "browser_flashcards_page.png"), full_page=True)
        pdf = printable.pdf(path=str(artifacts / "flashcards_01.pdf"))
    finally:
        printable.close()
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert cards > 1 and pages == cards, f"{cards} cards printed on {pages} pages"


def test_drawings_stay_legible_in_a_laptop_column(lab_server, browser_page):
    """04 at a laptop's 1024 px window, file browser open: the drawings shrink to the column,
    their text stays 10 px or more, and nothing is cut off."""
    url, _, log_path = lab_server
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page = browser_page.new_page(viewport={"width": 1024, "height": 768})
    page.set_default_timeout(2 * MINUTE)
    try:
        open_and_run_all(page, url, "course/04_backward.ipynb", "laptop")
        smallest = page.evaluate(SMALLEST_TEXT)
        overflowing = page.evaluate(OVERFLOWING)
        drawing = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mgl-drawing").first
        drawing.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "browser_laptop_04_drawing.png"))
    finally:
        page.close()
    assert smallest is not None and smallest >= 10 - 0.5, smallest
    assert not overflowing, overflowing
