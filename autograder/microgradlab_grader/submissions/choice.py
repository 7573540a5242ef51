"""Choosing one file when several look like the same notebook of one learner.

A file named as the notebook (up to case and copy marks) beats a near name
(``value.ipynb``, ``02_valeu.ipynb``), however new: ``03_operations_notes.ipynb``
must not replace ``03_operations.ipynb``. Of the rest the newest is taken
(modification time; for equal times, as a zip's 2-second times often are, the
higher duplicate number), and the others are named in a warning. A link among
them refuses the row: it is never followed, and it is not up to the grader to
guess whether the learner meant it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .names import Match
from .tree import Node


@dataclass
class Candidate:
    node: Node
    shown: str           # the name as the warnings show it
    match: Match
    late: bool = False


@dataclass
class Choice:
    chosen: Candidate
    warnings: list[str]
    is_link: bool        # the row is refused: a link was handed in for this notebook


def choose(found: list[Candidate], notebook: str) -> Choice:
    """The candidate to grade among ``found`` (not empty), with the warnings to give."""
    links = [c for c in found if c.node.kind == "link"]
    usable = [c for c in found if c.node.kind == "file"] or found
    usable = [c for c in usable if not c.match.near] or usable
    chosen = links[0] if links else max(
        usable, key=lambda c: (c.node.mtime, c.match.copy, c.match.exact, c.shown))
    warnings = []
    if not chosen.match.exact:
        warnings.append(f"{chosen.shown} matched as {notebook}")
    ignored = ", ".join(sorted(c.shown for c in found if c is not chosen))
    if ignored and links:
        warnings.append(f"{len(found)} files look like {notebook}: the row is refused "
                        f"since {chosen.shown} is a symbolic link; also there: {ignored}")
    elif ignored:
        why = "newest" if len(usable) > 1 else "closest name"
        warnings.append(f"{len(found)} files look like {notebook}: took {chosen.shown} "
                        f"({why}), ignored {ignored}")
    return Choice(chosen, warnings, bool(links))
