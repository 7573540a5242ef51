"""Feedback pages, opened for real: headless Chromium loads each page from disk.

What is checked: no learner script runs (every vector in markdown and in saved
outputs tries to set window.pwned or document.title), nothing is fetched from
the network, maths is typeset by the bundled KaTeX, the score table says what
each exercise got, learner text is cut to size, no path or stderr of the
grading machine shows, strange notebooks still give a page, a timed-out
notebook names the test that hung, and knock-on failures are flagged.
Screenshots land in test-artifacts/feedback_*.png.
"""

from __future__ import annotations

import html
import json
import re
import types
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from microgradlab.exercises import all_exercises, exercises_of, get
from microgradlab_grader import feedback, feedback_static
from microgradlab_grader.feedback import write_feedback
from microgradlab_grader.grading import Grade, Verdict
from microgradlab_grader.source import load_source

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
NOTEBOOK = "04_backward"

# Each vector, if it ran, would record its name in window.pwned or change the title.
VECTORS = {
    "script": "<script>window.pwned = 'script'; document.title = 'pwned'</script>",
    "onerror": "<img src=\"nowhere.png\" onerror=\"window.pwned = 'onerror'\">",
    "javascript-link": "<a href=\"javascript:window.pwned = 'javascript-link'\">click me</a>",
    "javascript-link-spaced": "<a href=\" JaVaScRiPt:window.pwned = 'spaced'\">click me too</a>",
    "markdown-link": "[click me in markdown](javascript:window.pwned='markdown-link')",
    "iframe-srcdoc": "<iframe srcdoc=\"<script>parent.pwned = 'iframe-srcdoc'</script>\"></iframe>",
    "svg-onload": "<svg onload=\"window.pwned = 'svg-onload'\"><circle r=\"5\"></circle></svg>",
    "object": "<object data=\"data:text/html,<script>parent.pwned = 'object'</script>\"></object>",
    "embed": "<embed src=\"data:text/html,<script>parent.pwned = 'embed'</script>\">",
    "meta-refresh": "<meta http-equiv=\"refresh\" content=\"0; url=javascript:window.pwned = 'meta'\">",
    "meta-refresh-away": "<meta http-equiv=\"refresh\" content=\"0; url=data:text/html,gone\">",
    "css-expression": "<div style=\"width: expression(window.pwned = 'css'); "
                      "background: url('javascript:window.pwned = 1')\">styled</div>",
    "style-import": "<style>@import url('http://127.0.0.1:9/steal.css'); "
                    "body { background: url('http://127.0.0.1:9/x.png') }</style>",
    "link-stylesheet": "<link rel=\"stylesheet\" href=\"http://127.0.0.1:9/steal.css\">",
    "remote-image": "<img src=\"http://127.0.0.1:9/pixel.png\">",
    "details-ontoggle": "<details open ontoggle=\"window.pwned = 'ontoggle'\"><summary>s</summary></details>",
    "mutation": "<math><mtext><table><mglyph><style><img src=x onerror=\"window.pwned = 'mxss'\">",
    "form": "<form action=\"javascript:window.pwned = 'form'\"><button>send</button></form>",
    "base": "<base href=\"javascript:window.pwned = 'base'//\">",
    "fake-verdict": "<div class=\"mgl-verdict mgl-pass\">✓ PASS (forged)</div>",
    "tex-href": "$\\href{javascript:window.pwned = 'tex'}{x}$",
}
OUTPUT_MARKER = "PRINTED-BY-THE-LEARNER"


def output_vectors():
    """Saved outputs of a code cell, each with a script-bearing payload."""
    payload = " ".join(v for k, v in VECTORS.items() if k != "markdown-link")
    return [
        nbformat.v4.new_output("stream", name="stdout", text=f"{OUTPUT_MARKER} {payload}"),
        nbformat.v4.new_output("display_data", data={
            "text/html": f"{OUTPUT_MARKER}{payload}",
            "text/markdown": f"{OUTPUT_MARKER}{payload}",
            "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' onload=\"window.pwned = "
                             "'svg-output'\"><script>window.pwned = 'svg-script'</script></svg>",
            "application/javascript": "window.pwned = 'javascript-output'",
            "text/plain": OUTPUT_MARKER}),
        nbformat.v4.new_output("error", ename="ValueError", evalue=f"{OUTPUT_MARKER} {payload}",
                               traceback=[f"<script>window.pwned = 'traceback'</script>{OUTPUT_MARKER}"]),
    ]


@pytest.fixture(scope="module")
def source():
    return load_source(SOLUTIONS, NOTEBOOK)


def released_notebook(name: str = NOTEBOOK):
    return nbformat.read(str(REPO / "notebooks" / f"{name}.ipynb"), as_version=4)


def graded(source, student="ada", status="graded", passed=(True, False, True), **extra) -> Grade:
    """A Grade over ``source``'s exercises: one Verdict per exercise, pass/fail as given."""
    grade = Grade(student, source.name, status, source.max_score, **extra)
    # The notebook's later exercises get the last outcome given.
    passed = tuple(passed) + (passed[-1],) * (len(source.graded) - len(passed))
    for cell, ok in zip(source.graded, passed):
        if ok is None:
            grade.verdicts[cell.grade_id] = Verdict(cell.grade_id, 0.0, cell.points, False, False,
                                                    "no result")
        else:
            grade.verdicts[cell.grade_id] = Verdict(
                cell.grade_id, cell.points if ok else 0.0, cell.points, ok, True,
                "all 5 cases pass" if ok else "2 of 5 cases fail. a.grad is 3.0, expected 4.0")
    return grade


def hostile_notebook():
    nb = released_notebook()
    markdown = "\n\n".join(f"Vector {name}: {text}" for name, text in VECTORS.items())
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(
        "Maths that must render: $x^2$ and $$\\frac{a}{b}$$\n\n" + markdown))
    # A markdown line of raw HTML blocks, so the renderer passes it through whole.
    nb.cells.insert(2, nbformat.v4.new_markdown_cell("\n".join(VECTORS.values())))
    code = nbformat.v4.new_code_cell("print('hello')")
    code.outputs = output_vectors()
    nb.cells.insert(3, code)
    for cell in nb.cells:  # and the same outputs on every code cell the learner ran
        if cell.cell_type == "code":
            cell.outputs = output_vectors()
    return nb


# ------------------------------------------------------------------ the page as data
class Page(HTMLParser):
    """The parts of a page the tests read: score table rows, verdict boxes, text, tags."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.rows, self.verdicts, self.tags, self.text = [], [], [], []
        self._row = self._cell = self._verdict = None
        self._depth = 0
        self.status = ""
        self._in_status = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        classes = (attrs.get("class") or "").split()
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        if tag == "p" and "mgl-status" in classes:
            self._in_status = True
        if self._verdict is not None:
            self._depth += tag == "div"
        elif tag == "div" and "mgl-verdict" in classes:
            self._verdict, self._depth = {"id": attrs.get("id"), "classes": classes, "text": []}, 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "p":
            self._in_status = False
        if self._verdict is not None and tag == "div":
            self._depth -= 1
            if self._depth == 0:
                self._verdict["text"] = " ".join("".join(self._verdict["text"]).split())
                self.verdicts.append(self._verdict)
                self._verdict = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._verdict is not None:
            self._verdict["text"].append(data)
        if self._in_status:
            self.status += data

    @property
    def plain(self) -> str:
        return " ".join("".join(self.text).split())

    def verdict(self, exercise: str) -> dict:
        return next(v for v in self.verdicts if v["id"] == f"verdict-{exercise}")


def read_page(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------ the browser
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def open_page(browser, path: Path, screenshot: str | None = None):
    """Open ``path`` from disk; returns (page, every URL it requested). Waits for the
    maths script to have finished (it marks <html data-maths=...>)."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(path.resolve().as_uri())
    page.wait_for_function("document.documentElement.dataset.maths !== undefined",
                           timeout=30_000)
    if screenshot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"feedback_{screenshot}.png"), full_page=False)
    return page, requested


def needs_katex():
    if feedback_static.katex_source() is None:
        pytest.skip("KaTeX is not installed (Debian: apt-get install libjs-katex)")


# ------------------------------------------------------------------ safety
def test_no_learner_script_runs_in_markdown_or_outputs(source, browser, tmp_path):
    path = write_feedback(graded(source, "mallory"), hostile_notebook(), source, tmp_path)
    page, requested = open_page(browser, path, "hostile")
    title = f"Feedback on {NOTEBOOK} for mallory"
    for text in ("click me", "click me too", "click me in markdown"):
        page.get_by_text(text, exact=True).first.click()
    page.wait_for_timeout(500)  # time for a meta refresh or a deferred handler to fire
    assert page.evaluate("window.pwned") is None
    assert page.title() == title
    assert page.url == path.resolve().as_uri(), "a meta refresh navigated away"
    # Nothing but the page's own files was requested: no network, no other file.
    static = (tmp_path / "feedback").resolve().as_uri()
    assert requested and all(url.startswith(static) for url in requested), requested
    # The DOM has no active content left: only our three scripts, no handlers, and no
    # style attributes but the ones KaTeX sets on the maths it typesets.
    scripts = page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))")
    assert scripts == ["../_static/katex/katex.min.js", "../_static/katex/auto-render.min.js",
                       "../_static/render-maths.js"]
    handlers = page.evaluate("""[...document.querySelectorAll('*')].flatMap(el =>
        [...el.attributes].filter(a => a.name.startsWith('on') || a.name === 'srcdoc'
            || (a.name === 'style' && !el.closest('.katex'))).map(a => a.name))""")
    assert handlers == []
    for tag in ("iframe", "object", "embed", "svg", "form", "base", "link[href^=http]",
                "meta[http-equiv]:not([http-equiv=Content-Security-Policy])", "body style"):
        assert page.locator(tag).count() == 0, tag
    hrefs = page.evaluate("[...document.links].map(a => a.getAttribute('href'))")
    # Left: the verdict anchors and the notebook's plain web links (http(s) only: the
    # sanitiser's rule), never a script or data URL.
    assert [h for h in hrefs if not h.startswith("#verdict-")
            and not re.match(r"https?://", h)] == [], hrefs
    assert sum(h.startswith("#verdict-") for h in hrefs) == len(source.graded), hrefs
    # Markdown cannot dress itself up as a verdict: only the three real ones exist.
    assert page.locator(".mgl-verdict").count() == len(source.graded)
    page.close()


def test_saved_outputs_never_reach_the_page(source, tmp_path):
    text = write_feedback(graded(source), hostile_notebook(), source, tmp_path).read_text()
    assert OUTPUT_MARKER not in text
    assert "javascript-output" not in text and "svg-output" not in text


def test_the_page_forbids_scripts_but_its_own(source, tmp_path):
    page = read_page(write_feedback(graded(source), released_notebook(), source, tmp_path))
    csp = [a["content"] for t, a in page.tags if t == "meta"
           and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1
    policy = dict(part.strip().split(" ", 1) for part in csp[0].split(";"))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["img-src"] == "data:"
    first = next(i for i, (t, _) in enumerate(page.tags) if t == "meta" and _.get("http-equiv"))
    assert all(t not in ("script", "link", "style") for t, _ in page.tags[:first])


def test_a_two_megabyte_error_becomes_a_short_excerpt(source, tmp_path):
    grade = graded(source, passed=(True, False, False))
    huge = "RecursionError: maximum recursion depth exceeded " + "in backward " * 175_000
    assert len(huge) > 2_000_000
    failing = source.graded[1].grade_id
    grade.verdicts[failing].message = huge
    notebook = released_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell("word " * 500_000))  # 2.5 MB of markdown
    notebook.cells.append(nbformat.v4.new_code_cell("x = 1  # " + "y" * 2_500_000))
    path = write_feedback(grade, notebook, source, tmp_path)
    assert path.stat().st_size < 400_000
    verdict = read_page(path).verdict(failing)["text"]
    assert "RecursionError: maximum recursion depth exceeded" in verdict
    assert f"cut: the full text was {len(huge):,} characters" in verdict
    assert len(verdict) < 1_500
    assert "the full text was 2,500,000 characters" in read_page(path).plain


def test_no_path_or_stderr_of_the_grading_machine_shows(source, tmp_path):
    mountinfo = Path("/proc/self/mountinfo").read_text()
    paths = set(re.findall(r"/[\w.-]+(?:/[\w.-]+)+", mountinfo)) | {"/scratch/submission.ipynb"}
    grade = graded(source, status="kernel_died", passed=(False, None, None))
    grade.verdicts[source.graded[0].grade_id].message = (
        "your by_hand raised OSError: [Errno 2] No such file: '/scratch/submission.ipynb' "
        f"while reading {mountinfo}")
    grade.detail = ("the notebook's process ended early (exit status -9)\n"
                    "Traceback (most recent call last):\n  File \"/opt/runner.py\", line 3\n"
                    "STDERR-TAIL-SECRET")
    grade.stopped_in = source.graded[1].grade_id
    page = read_page(write_feedback(grade, released_notebook(), source, tmp_path))
    assert "STDERR-TAIL-SECRET" not in page.plain
    assert "exit status -9" in page.status
    # What the grader and the learner's code said (the course's own text may name paths
    # and show tracebacks).
    said = page.status + " ".join(v["text"] for v in page.verdicts)
    assert "Traceback" not in said and "runner.py" not in said
    assert "No such file: '<path>'" in said
    shown = [p for p in paths if len(p) > 5 and p in said]
    assert shown == []


def test_hidden_tests_never_show(source, tmp_path):
    hidden = []
    raw = nbformat.read(str(SOLUTIONS / NOTEBOOK / f"{NOTEBOOK}.ipynb"), as_version=4)
    for cell in raw.cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, re.S):
            hidden += [line.strip() for line in block.splitlines() if len(line.strip()) > 8]
    assert hidden
    # The learner's file even carries the instructor's full test cells: the page shows
    # the released text instead.
    notebook = released_notebook()
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in raw.cells}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in {g.grade_id for g in source.graded}:
            cell.source = by_id[grade_id].source
    text = html.unescape(write_feedback(graded(source), notebook, source, tmp_path).read_text())
    assert "BEGIN HIDDEN TESTS" not in text
    assert [line for line in hidden if line in text] == []


# ------------------------------------------------------------------ maths, offline
def test_maths_renders_offline_with_the_bundled_katex(source, browser, tmp_path):
    needs_katex()
    notebook = released_notebook()
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(
        "Inline $x^2$, display $$\\frac{a}{b}$$ and a broken one $\\frac{$."))
    path = write_feedback(graded(source), notebook, source, tmp_path)
    page, requested = open_page(browser, path, "maths")
    assert page.evaluate("document.documentElement.dataset.maths") == "rendered"
    annotations = page.evaluate("""[...document.querySelectorAll(
        '.mgl-markdown .katex annotation[encoding="application/x-tex"]')].map(a => a.textContent)""")
    assert "x^2" in annotations and "\\frac{a}{b}" in annotations
    assert page.locator(".mgl-markdown .katex-display .mfrac").count() >= 1
    # The fonts came from the copy beside the pages.
    assert any(url.endswith(".woff2") for url in requested)
    assert all(url.startswith("file://") for url in requested), requested
    assert (tmp_path / "feedback" / "_static" / "katex" / "katex.min.js").is_file()
    page.close()


def test_static_files_are_copied_once_per_out(source, tmp_path):
    write_feedback(graded(source, "ada"), released_notebook(), source, tmp_path)
    static = tmp_path / "feedback" / "_static"
    stamp = {p: p.stat().st_mtime_ns for p in static.rglob("*") if p.is_file()}
    write_feedback(graded(source, "bob"), released_notebook(), source, tmp_path)
    assert {p: p.stat().st_mtime_ns for p in static.rglob("*") if p.is_file()} == stamp
    assert (tmp_path / "feedback" / "bob" / f"{NOTEBOOK}.html").is_file()


# ------------------------------------------------------------------ what a student reads
def test_the_score_table_comes_first_and_says_everything(source, browser, tmp_path):
    grade = graded(source, passed=(True, False, True))
    path = write_feedback(grade, released_notebook(), source, tmp_path)
    page = read_page(path)
    ids = [c.grade_id for c in source.graded]
    expected = [["Exercise", "What it is", "Points", "Result"]]
    marks = ["✓ PASS", "✗ FAIL"] + ["✓ PASS"] * (len(ids) - 2)  # as graded() pads them
    for cell, mark in zip(source.graded, marks):
        points = cell.points if mark.startswith("✓") else 0
        expected.append([cell.grade_id, get(cell.grade_id).title,
                         f"{points:g} / {cell.points:g}", mark])
    score = source.max_score - source.graded[1].points
    expected.append([f"Total ({len(ids) - 1} of {len(ids)} exercises pass)",
                     f"{score:g} / {source.max_score:g}", "graded"])
    assert page.rows[:len(expected)] == expected
    assert page.status.startswith(f"Graded: {score:g} of {source.max_score:g} points.")
    # The table comes before any of the learner's cells.
    text = page.plain
    assert text.index(f"Total ({len(ids) - 1} of {len(ids)}") < text.index("Your notebook")
    # Each verdict box carries a mark and a word, not only a colour.
    assert page.verdict(ids[1])["text"].startswith(f"✗ FAIL {ids[1]}")
    assert "a.grad is 3.0, expected 4.0" in page.verdict(ids[1])["text"]
    assert "Hint:" in page.verdict(ids[1])["text"]
    assert page.verdict(ids[0])["text"].startswith(f"✓ PASS {ids[0]}")
    assert "mgl-fail" in page.verdict(ids[1])["classes"]
    shown, _ = open_page(browser, path, "scores")
    shown.close()


def test_a_deleted_test_cell_still_gets_its_verdict(source, tmp_path):
    notebook = released_notebook()
    last = source.graded[-1].grade_id
    notebook.cells = [c for c in notebook.cells
                      if c.metadata.get("nbgrader", {}).get("grade_id") != last]
    page = read_page(write_feedback(graded(source), notebook, source, tmp_path))
    assert [v["id"] for v in page.verdicts] == [f"verdict-{c.grade_id}" for c in source.graded]
    assert "Tests missing from your notebook" in page.plain


def test_a_timed_out_notebook_names_the_test_that_hung(source, browser, tmp_path):
    first, hung, after, *_ = (c.grade_id for c in source.graded)
    grade = graded(source, "slow", status="timeout", passed=(True, None, None),
                   detail="a cell ran longer than 60 s")
    grade.stopped_in = hung
    path = write_feedback(grade, released_notebook(), source, tmp_path)
    page = read_page(path)
    assert (f"the notebook was stopped while testing {hung} (it ran past the time limit)"
            in page.status)
    hung_box = page.verdict(hung)["text"]
    assert "stopped before this test" not in hung_box
    assert "This is the test that was running when the notebook was stopped" in hung_box
    assert f"stopped before this test (while testing {hung})" in page.verdict(after)["text"]
    assert page.verdict(first)["text"].startswith("✓ PASS")
    assert "– not graded" in page.verdict(hung)["text"]
    shown, _ = open_page(browser, path, "timeout")
    shown.locator(f"#verdict-{hung}").screenshot(path=str(ARTIFACTS / "feedback_timeout_verdict.png"))
    shown.close()


def test_stopped_in_an_ordinary_cell(source, tmp_path):
    grade = graded(source, status="timeout", passed=(None, None, None))
    grade.stopped_in = "cell 7"
    page = read_page(write_feedback(grade, released_notebook(), source, tmp_path))
    assert "stopped while running cell 7 (it ran past the time limit)" in page.status
    for cell in source.graded:
        assert "stopped before this test (while running cell 7)" in page.verdict(cell.grade_id)["text"]


def test_without_stopped_in_no_test_is_said_to_come_after_the_stop(source, tmp_path):
    grade = graded(source, status="timeout", passed=(True, None, None))
    page = read_page(write_feedback(grade, released_notebook(), source, tmp_path))
    assert "stopped before this test" not in page.plain
    assert "stopped at or before this test" in page.verdict(source.graded[1].grade_id)["text"]


def knock_on_pair(monkeypatch):
    """(notebook, earlier, later): an exercise that builds on another of the same notebook.
    Taken from the real specs' ``builds_on``; while no spec declares one yet, a view
    of the real ex03_sub_neg spec that adds the field stands in (only for feedback)."""
    for exercise in all_exercises():
        for earlier in getattr(exercise, "builds_on", ()) or ():
            if get(earlier).notebook == exercise.notebook:
                return exercise.notebook, earlier, exercise.id
    real_get = feedback.get

    def with_builds_on(exercise_id):
        spec = real_get(exercise_id)
        if exercise_id == "ex03_sub_neg":
            return types.SimpleNamespace(**{f: getattr(spec, f) for f in ("id", "title", "uses",
                                         "hints", "notebook")}, builds_on=("ex03_add_mul",))
        return spec
    monkeypatch.setattr(feedback, "get", with_builds_on)
    return "03_operations", "ex03_add_mul", "ex03_sub_neg"


def test_knock_on_failures_are_flagged(browser, tmp_path, monkeypatch):
    name, earlier, later = knock_on_pair(monkeypatch)
    source = load_source(SOLUTIONS, name)
    ids = [c.grade_id for c in source.graded]
    uses = ", ".join(get(earlier).uses)
    both_fail = graded(source, passed=[i not in (earlier, later) for i in ids])
    path = write_feedback(both_fail, released_notebook(name), source, tmp_path / "both")
    page = read_page(path)
    note = f"this may come from your {uses} in exercise {earlier}"
    assert note in page.verdict(later)["text"]
    assert note in next(r for r in page.rows if r[0] == later)[3]
    assert "may come from" not in page.verdict(earlier)["text"]
    shown, _ = open_page(browser, path, "knock_on")
    shown.locator(f"#verdict-{later}").screenshot(path=str(ARTIFACTS / "feedback_knock_on_verdict.png"))
    shown.close()
    # Control: the earlier exercise passes, so the later failure is the learner's own.
    own = graded(source, passed=[i != later for i in ids])
    text = read_page(write_feedback(own, released_notebook(name), source, tmp_path / "own")).plain
    assert "may come from" not in text


# ------------------------------------------------------------------ strange notebooks
def deep_list(depth: int):
    value = "x"
    for _ in range(depth):
        value = [value]
    return value


def strange_notebook(name: str):
    """A notebook as plain JSON data (what a submission file holds), made strange."""
    notebook = json.loads(nbformat.writes(released_notebook()))
    cells = notebook["cells"]
    if name == "deep-source":
        cells[0]["source"] = deep_list(5_000)
    elif name == "deep-markdown":
        cells.insert(0, {"cell_type": "markdown", "metadata": {}, "source": ">" * 50_000 + " x"})
    elif name == "deep-lists":
        cells.insert(0, {"cell_type": "markdown", "metadata": {},
                         "source": "\n".join("  " * i + "- item" for i in range(3_000))})
    elif name == "deep-metadata":
        cells[0]["metadata"] = {"nbgrader": {"grade_id": deep_list(5_000)}}
    elif name == "cells-not-a-list":
        notebook["cells"] = 5
    elif name == "cells-of-junk":
        notebook["cells"] = [None, 3, "x", {"cell_type": "alien"},
                             {"cell_type": "code", "source": 7, "metadata": []}]
    elif name == "not-a-notebook":
        notebook = ["a list"]
    return notebook


# name -> whether the page must leave the learner's cells out
STRANGE = {"deep-source": True, "deep-markdown": False, "deep-lists": False,
           "deep-metadata": False, "cells-not-a-list": True, "cells-of-junk": False,
           "not-a-notebook": True}


@pytest.mark.parametrize("name", list(STRANGE))
def test_strange_notebooks_still_give_a_page(source, tmp_path, name):
    cells_left_out = STRANGE[name]
    path = write_feedback(graded(source, name), strange_notebook(name), source, tmp_path)
    page = read_page(path)
    assert page.rows[1][0] == source.graded[0].grade_id  # the score table is there
    assert len(page.verdicts) == len(source.graded)
    assert ("Your notebook's cells could not be shown" in page.plain) == cells_left_out


def test_missing_and_unreadable_pages(source, tmp_path):
    missing = Grade("nobody", NOTEBOOK, "missing", source.max_score, detail="no notebook handed in")
    page = read_page(write_feedback(missing, None, source, tmp_path))
    assert "No notebook was handed in." in page.status
    assert page.rows[-1][1].startswith("not scored")
    unreadable = Grade("broken", NOTEBOOK, "unreadable", source.max_score,
                       detail="not valid JSON (JSONDecodeError: Expecting value: line 1 column 1)")
    page = read_page(write_feedback(unreadable, None, source, tmp_path))
    assert "The notebook could not be read: not valid JSON" in page.status


def test_a_knock_on_is_named_only_when_the_later_answer_runs_the_earlier_code(tmp_path):
    """ex04_backward builds on ex04_topological_order, but a learner's backward may walk
    the graph its own way: then a failing order cannot be the cause, and saying so
    would send the learner to the wrong cell."""
    source = load_source(SOLUTIONS, "04_backward")
    ids = [c.grade_id for c in source.graded]
    both_fail = graded(source, passed=[i not in ("ex04_topological_order", "ex04_backward")
                                       for i in ids])
    note = "this may come from your topological_order in exercise ex04_topological_order"

    def page_with_backward(code: str, folder: str) -> str:
        notebook = released_notebook("04_backward")
        answer = next(c for c in notebook.cells
                      if c.metadata.get("nbgrader", {}).get("grade_id") == "ex04_backward_answer")
        answer.source = code
        return read_page(write_feedback(both_fail, notebook, source, tmp_path / folder)) \
            .verdict("ex04_backward")["text"]

    calls_it = ("def backward(root):\n    root.grad = 1.0\n"
                "    for node in reversed(topological_order(root)):\n        node._backward()\n")
    own_walk = ("def backward(root):\n    root.grad = 1.0\n    seen, todo = set(), [root]\n"
                "    while todo:\n        node = todo.pop()\n        node._backward()\n"
                "        todo.extend(node._prev)\n")
    assert note in page_with_backward(calls_it, "calls")
    assert "may come from" not in page_with_backward(own_walk, "own")
    # with no notebook at hand (a page from the gradebook alone) the note stays
    text = read_page(write_feedback(both_fail, None, source, tmp_path / "none")) \
        .verdict("ex04_backward")["text"]
    assert note in text
