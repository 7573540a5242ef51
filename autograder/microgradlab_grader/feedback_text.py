"""Learner text made safe for a feedback page.

Everything the learner wrote (markdown, code) and every verdict message (which
quotes what the learner's code raised) passes through here before it reaches
the page. Three rules:

* **Nothing runs.** Markdown is rendered with nbconvert's own renderer (it
  keeps ``$...$`` maths intact for KaTeX) and the resulting HTML goes through
  nh3 (the Rust ``ammonia`` sanitiser) with a short allowlist: no scripts,
  no event handlers, no ``style``, no ``iframe``/``object``/``svg``/``math``/
  ``meta``/``form``, links only to http(s) and mailto, images only from
  ``data:image/...``. Code is shown escaped by Pygments. The page's
  Content-Security-Policy (see feedback.py) is a second wall behind this one.
* **Nothing is huge.** Every piece of learner text is cut to a fixed size,
  and the cut says so (a 2 MB error message becomes a short excerpt).
* **Nothing from the grading machine.** Absolute paths (the sandbox's
  ``/scratch``, ``/proc/...``, this machine's folders) are replaced by
  ``<path>`` in every message, and a status detail keeps only its first line.
* **Nothing hidden.** Control characters, bidirectional overrides and lone
  surrogates are written out as escapes (``\\x1b``, ``\\u202e``,
  :func:`.untrusted.visible`); a one-line field (a name, a detail) shows its line
  breaks as ``\\n`` too, while code, markdown and messages keep theirs.
"""

from __future__ import annotations

import functools
import html
import re

import nh3
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES

from .untrusted import visible

# Sizes, in characters. A real markdown cell of this course is under 3,000 and
# a real code cell under 4,000; a real verdict message is one or two lines.
MARKDOWN_LIMIT = 20_000
CODE_LIMIT = 20_000
MESSAGE_LIMIT = 600
DETAIL_LIMIT = 200

# Markup a learner may use in markdown: text structure only.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div",
    "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
    "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "abbr": {"title"},
}
# Only Pygments' token classes survive (so fenced code keeps its colours); the
# page's own classes (mgl-...) are never allowed, so markdown cannot dress
# itself up as a verdict or the score table.
PYGMENTS_CLASSES = {name for name in STANDARD_TYPES.values() if name}
ALLOWED_CLASSES = {"span": PYGMENTS_CLASSES, "div": {"highlight"}}
IMAGE_SOURCE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*\Z")
LINK = re.compile(r"(https?://|mailto:)", re.IGNORECASE)
# The "¶" nbconvert puts after each heading: its target id is not kept, so it would be dead.
HEADING_ANCHOR = re.compile(r'<a class="anchor-link" href="#[^"<>]*">&#182;</a>')

# An absolute path not glued to a word (so "a/b" and "1/2" in a message are
# kept): two or more parts, or one part that is a usual top-level folder.
ROOTS = "scratch|proc|sys|dev|tmp|home|root|usr|opt|work|var|etc|srv|mnt|run|lib|lib64|bin|nix"
ABSOLUTE_PATH = re.compile(
    rf"(?<![\w.~])/(?:(?:[\w.@+-]+/)+[\w.@+-]*|(?:{ROOTS})\b)")


def cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and a note saying it was cut."""
    text = str(text)
    if len(text) <= limit:
        return text
    return (f"{text[:limit]}\n[... cut: the full text was {len(text):,} characters; "
            f"only the first {limit:,} are shown]")


def without_paths(text: str) -> str:
    """``text`` with every absolute path of the grading machine replaced by ``<path>``."""
    return ABSOLUTE_PATH.sub("<path>", text)


# Line structure a multi-line text (code, markdown, a message) keeps.
LINES = "\n\r\t"


def one_line(text) -> str:
    """A one-line field of learner text (a name, a file name): every hidden character,
    line breaks included, written as an escape."""
    return visible(text)


def message_text(message) -> str:
    """A verdict message as plain text for the page: cut, paths removed, nothing hidden."""
    return without_paths(cut(visible(message or "", keep=LINES), MESSAGE_LIMIT))


def detail_text(detail) -> str:
    """A status detail (grader text, in words): its first line only, short, no paths."""
    first_line = str(detail or "").strip().splitlines()[:1]
    return without_paths(cut(visible(first_line[0]), DETAIL_LIMIT)) if first_line else ""


def _keep_attribute(tag: str, attribute: str, value: str):
    if tag == "a" and attribute == "href":
        return value if LINK.match(value.strip()) else None
    if tag == "img" and attribute == "src":
        return value if IMAGE_SOURCE.match(value.strip()) else None
    return value


def clean_html(fragment: str) -> str:
    """Sanitised HTML: only the allowlist above survives."""
    return nh3.clean(fragment, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     allowed_classes=ALLOWED_CLASSES, attribute_filter=_keep_attribute,
                     url_schemes={"http", "https", "mailto", "data"},
                     link_rel="noopener noreferrer nofollow", strip_comments=True)


def markdown_html(source) -> str:
    """A learner's markdown cell as safe HTML (the raw text, escaped, if it cannot be rendered)."""
    text = visible(cut(source or "", MARKDOWN_LIMIT), keep=LINES)
    return (_remembered_markdown if len(text) <= REMEMBER_UP_TO else _markdown_html)(text)


def _markdown_html(text: str) -> str:
    try:
        from nbconvert.filters.markdown_mistune import markdown2html_mistune
        rendered = HEADING_ANCHOR.sub("", markdown2html_mistune(text))
    except Exception:  # noqa: BLE001 - deep nesting (RecursionError) and other parser failures
        rendered = f"<pre>{html.escape(text)}</pre>"
    return clean_html(rendered)


_FORMATTER = HtmlFormatter(nowrap=True)


def code_html(source) -> str:
    """A code cell as escaped, highlighted HTML (the ``<pre>`` is the caller's)."""
    text = visible(cut(source or "", CODE_LIMIT), keep=LINES)
    return (_remembered_code if len(text) <= REMEMBER_UP_TO else _code_html)(text)


def _code_html(text: str) -> str:
    try:
        return highlight(text, PythonLexer(), _FORMATTER)
    except Exception:  # noqa: BLE001 - the lexer should never fail; plain text if it does
        return html.escape(text)


# Nearly every cell of a page is the course's own text, the same for the whole
# class: remembering the HTML of short texts makes a page several times faster
# (at most ~1,000 entries of a few kB each, so the memory stays small).
REMEMBER_UP_TO = 6_000
_remembered_markdown = functools.lru_cache(maxsize=1024)(_markdown_html)
_remembered_code = functools.lru_cache(maxsize=1024)(_code_html)


@functools.cache
def code_styles() -> str:
    """The stylesheet for the highlighted code (learner cells and fenced markdown code)."""
    return HtmlFormatter().get_style_defs([".mgl-code", ".highlight"])
