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

Text a learner controls is data, never markup or a formula, wherever it is written:

* :func:`parse_timestamp` / :func:`submission_time` -- nbgrader's ``timestamp.txt``
  read by a strict grammar (nbgrader's own format and ISO 8601, nothing else); a
  text outside it is :data:`UNKNOWN_TIME`, never "on time".
* :func:`visible` -- control characters, line breaks and bidirectional overrides
  written out as escapes (``\\n``, ``\\x1b``, ``\\u202e``), for every line of
  report.txt and every one-line field of a page.
* :func:`csv_cell` / :func:`csv_writer` -- the one way a CSV cell is written: no
  cell starts a formula, numbers stay numbers.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import math
import os
import re
import stat
import tempfile
from datetime import datetime, timedelta, timezone
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


# A JSON string (with its escapes): strings are removed whole, so that brackets
# inside them (markdown, code) are not counted; then everything but brackets.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r'[^\[\]{}]+')
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str, limit: int) -> int:
    """How deeply ``text``'s arrays and objects nest, counting no further than ``limit + 1``.
    (Regular expressions and ``accumulate`` do the scanning: a 200 kB reply line
    of the channel is measured in about a millisecond.)"""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    deepest = max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)
    return min(max(deepest, 0), limit + 1)


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
    # (No text with at most max_depth opening brackets can nest deeper: most skip the scan.)
    if (data.count("[") + data.count("{") > max_depth
            and json_depth(data, max_depth) > max_depth):
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


# ------------------------------------------------------------------ learner text as data
# Characters that change how the text around them is shown: C0 and C1 controls (line
# breaks, escape sequences of a terminal), DEL, Unicode's line and paragraph separators,
# the bidirectional embeddings, overrides and isolates (which can show "ann" where the
# file says "nna"), and lone surrogates (a file name that is not UTF-8).
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(text, keep: str = "") -> str:
    """``text`` with every hidden character written as an escape (``\\n``, ``\\x1b``,
    ``\\u202e``); characters in ``keep`` (e.g. ``"\\n"`` for a multi-line message) stay."""
    def escape(match: re.Match) -> str:
        char = match.group()
        if char in keep:
            return char
        code = ord(char)
        return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return _HIDDEN.sub(escape, str(text))


# What makes a spreadsheet (Excel, LibreOffice, Google Sheets) read a cell as a formula
# when it comes first, as OWASP lists it, plus the full-width forms of = + - @.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value) -> str:
    """The text of one CSV cell.

    A number (``int`` or finite ``float``, not ``bool``) is written as a number, so a
    score of -1.5 stays the number -1.5. Anything else is text: its hidden characters
    escaped (:func:`visible`), and, if it would start a formula (after any spaces),
    prefixed with ``'`` as OWASP advises, which every spreadsheet shows as text.
    ``None`` is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return str(value) if isinstance(value, int) else f"{value:.15g}"
    raw = str(value)
    text = visible(raw)
    if raw.lstrip(" ").startswith(FORMULA_START) or text.lstrip(" ").startswith(FORMULA_START):
        return "'" + text
    return text


class CsvWriter:
    """``csv.writer`` whose every cell goes through :func:`csv_cell`."""

    def __init__(self, handle):
        self._writer = csv.writer(handle)

    def writerow(self, row) -> None:
        self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(handle) -> CsvWriter:
    """The writer for every CSV this tool writes (grades.csv and the exports)."""
    return CsvWriter(handle)


# ------------------------------------------------------------------ submission times
UNKNOWN_TIME = "unknown"     # a timestamp.txt that is there but cannot be read as a time
# nbgrader writes timestamp.txt with Exchange.timestamp_format, "%Y-%m-%d %H:%M:%S.%f %Z"
# ("2026-12-01 10:30:00.123456 UTC"; %Z is the name of Exchange.timezone, "UTC" by
# default), and `nbgrader zip_collect` with datetime.isoformat(" ")
# ("2026-12-01 10:30:00.123456+00:00"). The grammar takes those and ISO 8601's
# extended calendar form; nothing else (no "next tuesday", no day-first dates).
_TIMESTAMP = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"(?:(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)"
    r"|\ (?P<zone>[+-]\d{2}:?\d{2}|[A-Za-z][A-Za-z0-9_+-]{0,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}))?"
    r")?")
MAX_TIMESTAMP_CHARS = 100


def parse_timestamp(text: str) -> datetime:
    """A submission time, timezone-aware, from nbgrader's format or ISO 8601.

    A time without a zone is UTC (as nbgrader reads it). A zone name must be "UTC",
    "GMT" or one the system's tz database knows ("Europe/Berlin", "EST"); an
    abbreviation it does not know ("CEST") is refused, not guessed. Raises
    :class:`Unreadable` saying why."""
    text = str(text).strip()
    if len(text) > MAX_TIMESTAMP_CHARS:
        raise Unreadable(f"not a time (longer than {MAX_TIMESTAMP_CHARS} characters)")
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise Unreadable(f"not a time nbgrader writes nor ISO 8601: {visible(text)!r}")
    part = match.groupdict()
    try:
        zone = _zone(part["offset"] or part["zone"])
        fraction = (part["fraction"] or "0")[:6].ljust(6, "0")
        moment = datetime(int(part["year"]), int(part["month"]), int(part["day"]),
                          int(part["hour"] or 0), int(part["minute"] or 0),
                          int(part["second"] or 0), int(fraction), tzinfo=zone)
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise Unreadable(f"not a time ({exc}): {visible(text)!r}") from None


def _zone(name: str | None):
    if name is None or name in ("Z", "UTC", "GMT"):
        return timezone.utc
    numeric = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", name)
    if numeric:
        sign = -1 if numeric[1] == "-" else 1
        hours, minutes = int(numeric[2]), int(numeric[3] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(f"the offset {name} is out of range")
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"the time zone {name!r} is not one the tz database knows") from None


def submission_time(text: str) -> str:
    """``text`` as a canonical ISO 8601 time in UTC ("2026-12-01T10:30:00.123456+00:00");
    :class:`Unreadable` if it is not a time (see :func:`parse_timestamp`)."""
    return parse_timestamp(text).isoformat()


def read_submission_time(path: Path) -> tuple[str, str]:
    """The time in the ``timestamp.txt`` at ``path``: (canonical time, "") or, when the file
    cannot be read or is not a time, (:data:`UNKNOWN_TIME`, why)."""
    try:
        return submission_time(read_text(path)), ""
    except Unreadable as exc:
        return UNKNOWN_TIME, f"{exc}; lateness unknown"


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
