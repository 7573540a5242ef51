"""The tree of an input folder, read without following any link (breadth first, bounded).

A link is kept as a link (with where it points, read with ``readlink``, and whether
it points at a folder, read with ``stat``: never opened). Zip entries that are not
on disk (links, which are never created, and entries that failed to unpack) are
grafted in so the finder sees them where the zip had them.
"""

from __future__ import annotations

import os
import re
import stat
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .model import SubmissionError

MAX_DEPTH = 8            # folders below the input; class/submitted/ann/02_value/x.ipynb is 5
MAX_WALK_ENTRIES = 200_000
# Files every OS and tool leaves behind: summarised in one note, not listed.
CLUTTER = re.compile(r"^(\..*|__MACOSX|Thumbs\.db|desktop\.ini)$", re.IGNORECASE)


@dataclass
class Node:
    name: str
    kind: str                  # "dir", "file", "link", "broken" (a zip entry that failed
                               # to unpack) or "other" (FIFO, device...)
    path: Path | None          # on disk; None for a link entry of a zip
    rel: str                   # relative to the input, for messages
    mtime: float = 0.0
    target: str = ""           # where a link points
    to_folder: bool | None = None   # a link on disk: does it point at a folder (stat only)
    children: dict[str, Node] = field(default_factory=dict)
    truncated: bool = False    # a folder deeper than MAX_DEPTH: not searched


def walk(root: Path, links: dict[str, str], broken: dict[str, str] | None = None) -> Node:
    """The tree under ``root`` without following any link (breadth first, bounded)."""
    top = Node(root.name, "dir", root, "")
    queue = deque([(top, 0)])
    count = 0
    while queue:
        node, depth = queue.popleft()
        if depth >= MAX_DEPTH:
            node.truncated = True
            continue
        try:
            with os.scandir(node.path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if node is top:
                raise SubmissionError(f"{root} cannot be read ({exc.strerror})") from None
            node.kind = "other"
            continue
        for entry in entries:
            count += 1
            if count > MAX_WALK_ENTRIES:
                raise SubmissionError(f"{root} holds more than {MAX_WALK_ENTRIES} files and "
                                      "folders; is it really one class?")
            rel = f"{node.rel}/{entry.name}" if node.rel else entry.name
            child = Node(entry.name, "other", Path(entry.path), rel)
            if entry.is_symlink():
                child.kind = "link"
                try:
                    child.target = os.readlink(entry.path)[:1024]
                    # stat, never open: enough to tell a linked folder from a linked file.
                    child.to_folder = stat.S_ISDIR(os.stat(entry.path).st_mode)
                except OSError:
                    child.target = child.target or "?"
            elif entry.is_dir(follow_symlinks=False):
                child.kind = "dir"
                queue.append((child, depth + 1))
            elif entry.is_file(follow_symlinks=False):
                child.kind = "file"
                child.mtime = entry.stat(follow_symlinks=False).st_mtime
            node.children[entry.name] = child
    _graft(top, links, broken or {})
    return top


def _graft(top: Node, links: dict[str, str], broken: dict[str, str]) -> None:
    """Zip entries that are not on disk: links (never created) and entries that
    failed to unpack ("broken", the reason kept in ``target``)."""
    virtual = [(rel, "link", text) for rel, text in links.items()]
    virtual += [(rel, "broken", why) for rel, why in broken.items()]
    for rel, kind, text in virtual:
        parts = rel.split("/")
        node = top
        for i, part in enumerate(parts[:-1]):
            node = node.children.setdefault(
                part, Node(part, "dir", None, "/".join(parts[:i + 1])))
        if node.kind == "dir":
            node.children[parts[-1]] = Node(parts[-1], kind, None, rel, target=text)
        else:   # under a file of the same name: listed at the top, not lost
            top.children[rel] = Node(rel, kind, None, rel, target=text)
