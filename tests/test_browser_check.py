"""The check button checks the code as it is NOW: edit an answer cell, re-run only
that cell, click, and the verdict follows (JupyterLab in headless Chromium)."""
from __future__ import annotations

import nbformat
import pytest

from test_browser import CHROMIUM, CHROMIUM_FLAGS, KERNEL_CONNECTED, KERNEL_IDLE, MINUTE, REPO

NAME = "edit_and_check.ipynb"
STUB = "def backward(root):\n    raise NotImplementedError"
RIGHT = ("def backward(root):\n"
         "    order, seen, stack = [], set(), [(root, False)]\n"
         "    while stack:\n"
         "        v, inputs_done = stack.pop()\n"
         "        if inputs_done:\n"
         "            order.append(v)\n"
         "        elif v not in seen:\n"
         "            seen.add(v)\n"
         "            stack.append((v, True))\n"
         "            stack.extend((child, False) for child in v._prev)\n"
         "    root.grad = 1.0\n"
         "    for v in reversed(order):\n"
         "        v._backward()")
UNSEEDED = RIGHT.replace("root.grad = 1.0", "root.grad = 0.0")

# lab_server is conftest's session fixture, shared with test_browser.py on one worker.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser"),
              pytest.mark.ex04_backward]


def notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from microgradlab.checking import check"),
                nbformat.v4.new_code_cell(STUB),
                nbformat.v4.new_code_cell('check("ex04_backward", backward=backward)')]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def run_cell(page, index, source=None):
    """Replace cell ``index``'s source (if given) and run only that cell."""
    page.evaluate("""([index, source]) => {
        const panel = window.jupyterapp.shell.currentWidget;
        const cell = panel.content.widgets[index];
        if (source !== null) { cell.model.sharedModel.setSource(source); }
        panel.content.activeCellIndex = index;
        return window.jupyterapp.commands.execute('notebook:run-cell');
    }""", [index, source])
    page.wait_for_timeout(300)
    page.wait_for_function(KERNEL_IDLE, timeout=2 * MINUTE, polling=250)


def click_and_read(page, expected):
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    result = notebook.locator(".mgl-check-result").first
    # The verdict before the click may already read as expected: mark what is shown now,
    # so only a verdict drawn after the click (the widget replaces its HTML: "Checking…",
    # then the verdict) counts.
    result.evaluate("node => node.querySelectorAll('*').forEach(e => e.dataset.beforeClick = '1')")
    notebook.locator("button.mgl-check-button").first.click()
    fresh = result.locator(".mgl-check-state:not([data-before-click])")
    fresh.filter(has_not_text="Checking").filter(has_text=expected).wait_for()
    return result.inner_text()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_editing_and_rerunning_the_answer_cell_changes_the_verdict(lab_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, _, log_path = lab_server
    # The server's root folder sits beside its log (lab_server.py).
    nbformat.write(notebook(), log_path.parent / "lab-root" / NAME)
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    failure = artifacts / "browser_edit_failure.png"
    failure.unlink(missing_ok=True)  # a picture of an older run's failure misleads
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(2 * MINUTE)
        try:
            page.goto(f"{url}/lab/workspaces/edit/tree/{NAME}")
            page.wait_for_selector(".jp-Notebook")
            page.wait_for_function(KERNEL_CONNECTED, timeout=2 * MINUTE, polling=250)
            for index in range(3):
                run_cell(page, index)
            assert "Not attempted yet" in click_and_read(page, "Not attempted yet")
            run_cell(page, 1, RIGHT)     # only the answer cell runs again
            assert "Correct" in click_and_read(page, "Correct")
            run_cell(page, 1, UNSEEDED)
            text = click_and_read(page, "Not yet")
            assert "output_not_seeded" in text, text
            page.screenshot(path=str(artifacts / "browser_edit_and_check.png"))
        except Exception:
            page.screenshot(path=str(failure))
            print("---- JupyterLab server log ----\n" + log_path.read_text())
            raise
        finally:
            browser.close()
