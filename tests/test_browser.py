"""A learner's view, for real: JupyterLab in headless Chromium.

Starts JupyterLab on 127.0.0.1 (free port, no token, private Jupyter dirs),
opens a notebook, waits for the kernel, runs every cell, clicks "Check my
answer" and reads the result that appears in the page. Every notebook, with
its exercises done, is run and looked at in windows 1024 to 1920 px wide:
every graph drawing must fit its output area with text of 10 px or more.
Screenshots land in test-artifacts/. The server log is attached to any failure.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from lab_server import GENERATED, STUDENT

# One JupyterLab (conftest's session fixture lab_server) serves this module and
# test_browser_check.py: the group keeps them on one xdist worker.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
STATE_LINES = ("○ Not attempted yet", "✓ Correct", "✗ Not yet")
MINUTE = 60_000  # Playwright timeouts are in milliseconds

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
    failure = artifacts / "browser_check_failure.png"
    failure.unlink(missing_ok=True)  # a picture of an older run's failure misleads

    seen = {}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(2 * MINUTE)
        try:
            for k, name in enumerate(names):
                seen[name] = run_all_and_click(page, url, name, f"test{k}", artifacts)
        except Exception:
            page.screenshot(path=str(failure))
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


# The run is over: every code cell with code has run (the model holds its execution
# count, whether or not the cell is on screen), or a cell raised and the kernel is idle
# (JupyterLab then skips the cells after it; the test reports the traceback at once).
RUN_OVER = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.widgets.filter(cell => cell.model.type === 'code'
        && cell.model.sharedModel.getSource().trim() !== '');
    const ran = cells.every(cell => cell.model.executionCount !== null);
    const raised = cells.some(cell => cell.model.outputs.toJSON()
        .some(output => output.output_type === 'error'));
    return cells.length > 0 && (ran || (raised && panel.sessionContext.session.kernel.status === 'idle'));
}"""

#: Window widths a learner may use: the narrowest laptop window up to a wide screen.
WIDTHS = (1024, 1400, 1920)
SCREENSHOT_WIDTHS = (1024,)

# Output areas wider than they are shown: a figure or drawing cut off at the right.
OVERFLOWING = """() => [...document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')]
    .filter(o => o.scrollWidth > o.clientWidth + 1)
    .map(o => `${o.scrollWidth} > ${o.clientWidth}: ` + o.textContent.slice(0, 60))"""

SHOW_CELL = """async (index) => {
    const notebook = window.jupyterapp.shell.currentWidget.content;
    await notebook.scrollToItem(index, 'start');
    const widget = notebook.widgets[index];
    const cell = widget.node;
    (cell.querySelector('.jp-OutputArea-output') || cell).scrollIntoView({block: 'start'});
    // Settled: every output the model holds is in the page (a windowed notebook attaches
    // them when the cell comes into view), its images decoded, the fonts loaded, and two
    // frames drawn after that.
    const outputs = widget.model.outputs ? widget.model.outputs.length : 0;
    const deadline = performance.now() + 5000;
    while (cell.querySelectorAll('.jp-OutputArea-child').length < outputs
           && performance.now() < deadline) {
        await new Promise(resolve => setTimeout(resolve, 50));
    }
    await Promise.all([...cell.querySelectorAll('img')].map(img => img.decode().catch(() => null)));
    await document.fonts.ready;
    await new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}"""

# Every drawing of one cell: does it fit its box (no scroll bar, nothing past the output
# area's right edge), and how big is its smallest text on screen?
MEASURE_CELL = """(index) => {
    const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
    return [...cell.node.querySelectorAll('.mgl-drawing')].map(box => {
        const svg = box.querySelector('svg');
        const area = box.closest('.jp-OutputArea-output') || box.parentElement;
        const shown = svg.getBoundingClientRect();
        const limit = area.getBoundingClientRect();
        const view = svg.viewBox.baseVal;
        const sizes = [...svg.querySelectorAll('text')].map(text => parseFloat(
            text.getAttribute('font-size') || svg.getAttribute('font-size')
            || getComputedStyle(text).fontSize));
        const font = sizes.length ? Math.min(...sizes) : null;
        return {
            hidden: Math.max(0, Math.round(shown.right - limit.right),
                             box.scrollWidth - box.clientWidth),
            textPx: font && view && view.width ? font * shown.width / view.width : null,
            width: Math.round(shown.width), area: Math.round(limit.width),
        };
    });
}"""


# The cells that show a picture (a drawing, a plot, a widget), read from the notebook's
# model: cells out of view may not have their outputs in the page yet.
PICTURE_CELLS = """() => window.jupyterapp.shell.currentWidget.content.widgets
    .map((cell, index) => {
        const outputs = cell.model.type === 'code' ? cell.model.outputs.toJSON() : [];
        const shows = outputs.some(o => o.data && (
            o.data['image/png'] || o.data['application/vnd.jupyter.widget-view+json']
            || String(o.data['text/html'] || '').includes('mgl-drawing')));
        return shows ? index : -1;
    }).filter(index => index >= 0)"""


# What one cell's outputs cut off: an output area wider than it is shown, a picture,
# drawing or button reaching past the output area's right edge (a widget's box hides
# what overflows it), or a button whose label is cut short.
CELL_OVERFLOWING = """(index) => {
    const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
    const found = [];
    for (const area of cell.node.querySelectorAll('.jp-OutputArea-output')) {
        if (area.scrollWidth > area.clientWidth + 1) {
            found.push(`${area.scrollWidth} > ${area.clientWidth}`);
        }
        const edge = area.getBoundingClientRect().right;
        for (const item of area.querySelectorAll('img, svg, canvas, button')) {
            const right = item.getBoundingClientRect().right;
            if (right > edge + 1) {
                found.push(`a ${item.tagName.toLowerCase()} ends ${Math.round(right - edge)} px `
                           + 'past the output area');
            }
            if (item.tagName === 'BUTTON' && item.scrollWidth > item.clientWidth + 1) {
                found.push(`the button "${item.textContent.trim()}" is cut short`);
            }
        }
    }
    return found;
}"""


def open_file_browser(page):
    """The default layout, and the narrowest notebook column: the file browser open."""
    page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")


def look_at_every_width(page, name, artifacts):
    """Resize the window through WIDTHS; return the problems every drawing shows, and save
    screenshots of each drawing (and of the notebook's top) at SCREENSHOT_WIDTHS."""
    problems, stem = [], Path(name).stem
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        open_file_browser(page)
        page.wait_for_timeout(300)  # the dock panel and notebook relayout
        shots = width in SCREENSHOT_WIDTHS
        drawings = 0
        pictures = page.evaluate(PICTURE_CELLS)
        for index in pictures:
            page.evaluate(SHOW_CELL, index)
            if shots:
                page.wait_for_timeout(150)  # widgets draw their views after their output is in
            found = page.evaluate(MEASURE_CELL, index)
            overflowing = page.evaluate(CELL_OVERFLOWING, index)
            if overflowing:
                problems.append(f"{name} at {width} px, cell {index}: cut off: {overflowing}")
            for k, drawing in enumerate(found):
                where = f"{name} at {width} px, cell {index}, drawing {k + 1}"
                if drawing["hidden"] > 1:
                    problems.append(f"{where}: {drawing['hidden']} px hidden ({drawing})")
                if drawing["textPx"] is None or drawing["textPx"] < 10 - 0.05:
                    problems.append(f"{where}: text {drawing['textPx']} px ({drawing})")
            drawings += len(found)
            if shots:
                page.screenshot(path=str(artifacts / f"browser_{stem}_{width}px_cell{index:02d}.png"))
        overflowing = page.evaluate(OVERFLOWING)
        if overflowing:
            problems.append(f"{name} at {width} px: output wider than its area: {overflowing}")
        if shots:
            page.evaluate(SHOW_CELL, 0)
            page.screenshot(path=str(artifacts / f"browser_{stem}_{width}px_top.png"))
        print(f"{name} at {width} px: {len(pictures)} cells with pictures, {drawings} drawings")
    page.set_viewport_size({"width": 1400, "height": 1000})
    return problems


def open_and_run_all(page, url, path, workspace):
    started = time.monotonic()
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{path}")
    page.wait_for_selector(".jp-Notebook")
    page.wait_for_function(KERNEL_CONNECTED, timeout=3 * MINUTE, polling=250)
    ready = time.monotonic() - started
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(RUN_OVER, timeout=15 * MINUTE, polling=1000)
    page.wait_for_function(KERNEL_IDLE, timeout=15 * MINUTE, polling=500)
    return ready


def test_every_notebook_runs_to_the_end_and_its_drawings_fit(lab_server, browser_page):
    """Each notebook, exercises done, run to the end; then looked at from 1024 to 1920 px."""
    url, _, log_path = lab_server
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    failure = artifacts / "browser_failure.png"
    for old in [*artifacts.glob("browser_0*px_*.png"), failure]:  # none from an older run
        old.unlink(missing_ok=True)
    page = browser_page.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(2 * MINUTE)
    names = sorted(p.name for p in (REPO / "solutions").glob("0*/0*.ipynb"))
    assert len(names) == 6, names
    problems = []
    try:
        for k, name in enumerate(names):
            ready = open_and_run_all(page, url, f"course/{name}", f"all{k}")
            print(f"{name}: page open to idle kernel {ready:.1f} s")
            if name.startswith("06"):
                more_steps(page, artifacts)
            if name.startswith("01"):
                print_cards(page, browser_page, artifacts, url)
            problems += look_at_every_width(page, name, artifacts)
            tracebacks = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output",
                                      has_text="Traceback")
            if tracebacks.count():
                problems.append(f"{name}: a cell raised: {tracebacks.first.inner_text()[:300]}")
    except Exception:
        page.screenshot(path=str(failure))
        print("---- JupyterLab server log ----\n" + log_path.read_text()[-5000:])
        raise
    finally:
        page.close()
    assert not problems, "\n".join(problems)
    drawn = {p.name.split("_1024px")[0] for p in artifacts.glob("browser_0*_1024px_cell*.png")}
    assert {f"browser_{n}" for n in ("02_value", "03_operations", "04_backward",
                                     "05_tanh_neuron", "06_mlp")} <= drawn, drawn


def more_steps(page, artifacts):
    """06: the capstone finished in the cell; "Train 10 more steps" goes on from there."""
    status = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mgl-train-status").last
    status.filter(has_text="(finished)").wait_for(timeout=2 * MINUTE)
    status.scroll_into_view_if_needed()  # cells out of view are not laid out: no inner text
    assert "100/100 steps" in status.text_content()
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) button.mgl-train-more").last.click()
    status.filter(has_text="110/110 steps").wait_for(timeout=5 * MINUTE)
    view = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mgl-training-view").last
    view.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "browser_06_training_more.png"))
    output = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output",
                          has_text="points on the right side").last
    assert "100 of 100 points on the right side" in output.text_content()


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
