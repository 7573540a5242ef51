"""Reading what learners hand in, with every read bounded and guarded.

Everything a learner controls (a notebook's JSON, a file in a zip, a text file
such as nbgrader's ``timestamp.txt``, a scratch tree their code filled) goes
through here. Nothing in this module lets a malformed file raise past its
caller's row: a read either returns the value or raises :class:`Unreadable`
with a reason written for the report.

* :func:`read_bounded` -- the bytes of a regular file, at most ``limit`` of them,
  never through a symbolic link and never blocking on a FIFO.
* :func:`loads_bounded` -- JSON, refused if too large or nested too deeply,
  checked *before* ``json.loads`` (whose recursion a 5,000-deep document
  overflows).
* :func:`read_notebook` -- a submission as an nbformat v4 notebook, or a
  string saying why it is unreadable.
* :func:`remove_tree` / :func:`scratch_folder` -- removal of a folder tree of
  any depth (no recursion), and a temporary folder that is always removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from pathlib import Path

# A course notebook is ~50 kB; with every plot and output kept, a few MB.
MAX_NOTEBOOK_BYTES = 32 * 1024**2
# nbformat itself needs ~6 levels; outputs and widget state a few more. 100 is
# far above any real notebook and far below what json/jsonschema recursion copes with.
MAX_JSON_DEPTH = 100
MAX_TEXT_BYTES = 4096        # timestamp.txt and the like


class Unreadable(ValueError):
    """A learner's file that cannot be read as what it should be; ``str()`` says why."""


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, refused if larger than ``limit``."""
    try:
        # O_NOFOLLOW: a link put in place of the file is refused, not followed.
        # O_NONBLOCK: opening a FIFO does not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the last component is a symbolic link
            raise Unreadable("a symbolic link (not followed)") from None
        raise Unreadable(f"could not be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("not a regular file")
        if info.st_size > limit:
            raise Unreadable(f"too large ({size(info.st_size)}; the limit is {size(limit)})")
        data = file.read(limit + 1)   # the size can change after fstat
    if len(data) > limit:
        raise Unreadable(f"too large (more than the limit of {size(limit)})")
    return data


def size(n: int) -> str:
    """A byte count as a reader wants it: "4 kB", "32.0 MB"."""
    return f"{n / 1024**2:.1f} MB" if n >= 1024**2 else f"{max(1, round(n / 1024))} kB"


# A JSON string (with its escapes) or one bracket. Strings are matched whole so
# that brackets inside them (markdown, code) are not counted.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def json_depth(text: str, limit: int) -> int:
    """How deeply ``text``'s arrays and objects nest, counting no further than ``limit + 1``."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif char in "]}":
            depth -= 1
    return deepest


def loads_bounded(data: bytes | str, max_bytes: int = MAX_NOTEBOOK_BYTES,
                  max_depth: int = MAX_JSON_DEPTH, what: str = "a notebook"):
    """``json.loads(data)``, refused (:class:`Unreadable`) if too large or too deep;
    ``what`` names the thing in the message."""
    if len(data) > max_bytes:
        raise Unreadable(f"too large ({size(len(data))}; the limit is {size(max_bytes)})")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise Unreadable(f"not valid JSON (not UTF-8 text: {exc.reason} "
                             f"at byte {exc.start})") from None
    if json_depth(data, max_depth) > max_depth:
        raise Unreadable(f"not {what} (JSON nested more than {max_depth} levels deep)")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise Unreadable(f"not valid JSON ({type(exc).__name__}: {str(exc)[:120]})") from None


def read_text(path: Path, limit: int = MAX_TEXT_BYTES) -> str:
    """A small text file a learner may have written, decoded leniently."""
    return read_bounded(path, limit).decode("utf-8", errors="replace")


def read_notebook(path: Path):
    """The submission as an nbformat v4 notebook, or a string saying why it is unreadable."""
    try:
        raw = loads_bounded(read_bounded(Path(path), MAX_NOTEBOOK_BYTES))
        return _as_notebook(raw)
    except Unreadable as exc:
        return str(exc)
    except (RecursionError, MemoryError) as exc:  # a last guard: never past this row
        return f"not a notebook ({type(exc).__name__})"


def _as_notebook(raw):
    import nbformat
    if not isinstance(raw, dict):
        return f"not a notebook (a JSON {type(raw).__name__}, not an object)"
    if raw.get("nbformat") != 4:
        return f"not nbformat 4 (nbformat is {raw.get('nbformat')!r})"
    if not isinstance(raw.get("cells"), list):
        return "not a notebook (no list of cells)"
    for i, cell in enumerate(raw["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            return f"not a notebook (cell {i} is not a notebook cell)"
        if not isinstance(cell.get("source", ""), (str, list)):
            return f"not a notebook (cell {i} has no text)"
        if not isinstance(cell.setdefault("metadata", {}), dict):
            return f"not a notebook (cell {i}'s metadata is not an object)"
        nbgrader = cell["metadata"].get("nbgrader")
        if nbgrader is not None and not (isinstance(nbgrader, dict)
                                         and isinstance(nbgrader.get("grade_id", ""), str)):
            # Mangled nbgrader metadata: treat the cell as an ordinary one (a
            # test cell then shows up as tampered with and is graded anyway).
            del cell["metadata"]["nbgrader"]
    try:
        # reads() joins list-of-lines sources, as nbgrader's checksums expect.
        return nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as exc:  # noqa: BLE001
        return f"not a notebook ({type(exc).__name__})"


# ------------------------------------------------------------------ removing trees
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: Path) -> None:
    """Remove ``path`` and everything under it, however deep, without following links.

    ``shutil.rmtree`` recurses once per level and fails (RecursionError) on a
    tree about 1,000 folders deep, which a learner's code can make in a second.
    This walks down and back up holding one open folder at a time, so neither
    the depth nor the path length (beyond PATH_MAX) matters.
    """
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return
    top = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        names = [path.name]          # the folders from ``top`` down to ``fd``
        fd = _open_folder(path.name, top)
        while True:
            child = _empty_files_find_folder(fd)
            if child is not None:
                below = _open_folder(child, fd)
                os.close(fd)
                fd = below
                names.append(child)
                continue
            # ``fd`` is empty: step up and remove it.
            name = names.pop()
            if not names:
                os.close(fd)
                os.rmdir(name, dir_fd=top)
                return
            above = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = above
            os.rmdir(name, dir_fd=fd)
    finally:
        os.close(top)


def _open_folder(name: str, parent_fd: int) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except PermissionError:
        # A folder the learner made unreadable (chmod 000): it is ours to remove.
        os.chmod(name, 0o700, dir_fd=parent_fd)
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


def _empty_files_find_folder(fd: int) -> str | None:
    """Unlink every non-folder entry of ``fd``; return the name of one sub-folder, if any."""
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                return entry.name
            os.unlink(entry.name, dir_fd=fd)
    return None


@contextlib.contextmanager
def scratch_folder(prefix: str = "mglab-"):
    """A new temporary folder, removed with :func:`remove_tree` however it is left."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        remove_tree(folder)
