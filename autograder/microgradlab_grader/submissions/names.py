"""Which course notebook a file name means, and the learner an LMS file name names.

Matching a file to a notebook: the exact name; then, with a warning, browser and
LMS duplicates (``02_value (1).ipynb``, ``02_value-1.ipynb``, ``Copy of ...``),
case and punctuation (``02_Value.ipynb``, ``02-value.ipynb``), the name without
its number (``value.ipynb``) and near misses (``02_valeu.ipynb``).

LMS downloads name the learner and carry the LMS's own ids:
Canvas ``lastfirst[_late]_USERID_SUBMISSIONID_<file>`` and Moodle
``Full Name_PARTICIPANTID_assignsubmission_file_[<file>]``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_DUPLICATE = [re.compile(r"\s*\((\d+)\)$"),                       # browser: "x (1)"
              re.compile(r"-(\d+)$"),                             # Canvas resubmission: "x-1"
              re.compile(r"[\s_-]*-?[\s_-]*copy(?:[\s_]*(\d+))?$", re.IGNORECASE)]
_COPY_OF = re.compile(r"^copy of\s+", re.IGNORECASE)
CANVAS = re.compile(r"^(?P<name>[a-z0-9-]+?)(?P<late>_late)?_(?P<uid>\d+)_(?P<sid>\d+)_"
                    r"(?P<rest>.+)$", re.IGNORECASE)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<pid>\d+)_assignsubmission_[a-z]+_?(?P<rest>.*)$",
                    re.IGNORECASE)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def strip_duplicate(stem: str) -> tuple[str, int]:
    """``stem`` without copy markers, and the highest copy number found (0: none)."""
    number = 0
    changed = True
    while changed:
        changed = False
        for pattern in _DUPLICATE:
            match = pattern.search(stem)
            if match and match.start() > 0:
                number = max(number, int(match[1] or 1))
                stem, changed = stem[:match.start()], True
        if _COPY_OF.match(stem):
            stem, changed, number = _COPY_OF.sub("", stem), True, max(number, 1)
    return stem, number


@dataclass
class Match:
    notebook: str
    exact: bool
    copy: int
    near: bool = False    # only close (``value``, ``02_valeu``): loses to any closer file


class NotebookNames:
    """Matches file names to the course notebooks."""

    def __init__(self, notebooks: list[str]):
        self.notebooks = list(notebooks)
        self.keys = {_key(n): n for n in self.notebooks}
        self.bare = {}   # "value" -> "02_value", only where unambiguous
        for n in self.notebooks:
            self.bare.setdefault(_key(re.sub(r"^\d+_?", "", n)), []).append(n)

    def match(self, filename: str) -> Match | None:
        if not filename.lower().endswith(".ipynb"):
            return None
        stem = filename[:-len(".ipynb")]
        if stem in self.notebooks:
            return Match(stem, True, 0)
        stem, copy = strip_duplicate(stem)
        key = _key(stem)
        if key in self.keys:
            return Match(self.keys[key], False, copy)
        if len(self.bare.get(key, ())) == 1:
            return Match(self.bare[key][0], False, copy, near=True)
        close = difflib.get_close_matches(key, list(self.keys), n=2, cutoff=0.85)
        if len(close) == 1:
            return Match(self.keys[close[0]], False, copy, near=True)
        return None

    def with_student(self, filename: str) -> tuple[str, Match] | None:
        """``ann_02_value.ipynb`` -> ("ann", 02_value): a student name before a notebook name."""
        if not filename.lower().endswith(".ipynb"):
            return None
        stem, _ = strip_duplicate(filename[:-len(".ipynb")])
        for notebook in self.notebooks:
            cut = len(stem) - len(notebook)
            if cut > 1 and stem.lower().endswith(notebook.lower()) and stem[cut - 1] in "_- .":
                found = self.match(filename[cut:])
                if found:
                    return stem[:cut - 1].rstrip("_- ."), found
        return None
