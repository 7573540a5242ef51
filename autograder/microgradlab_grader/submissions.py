"""Finding the submissions in whatever shape a class arrives, never following a link.

API (used by cli.py, batch.py and report.py)::

    discover(path: Path, notebooks: list[str], workdir: Path) -> Discovery
        path: a folder of student folders, nbgrader's submitted/ layout (or that
        folder itself), one student's folder, an LMS download (flat files with
        the student in the name, Canvas or Moodle), a .zip of any of these, or a
        single .ipynb. A zip is unpacked into a new folder under ``workdir``
        (the caller removes ``workdir``, e.g. ``untrusted.scratch_folder()``).
        Raises SubmissionError (message for the user, no traceback needed) when
        the input as a whole is unusable.

    Discovery(submissions: list[Submission], unrecognised: list[str], notes: list[str])
        submissions: one per (student, notebook in ``notebooks``), sorted by
          student then notebook order (a single .ipynb gives just its own row);
        unrecognised: paths relative to the input of files and folders that
          are not a course notebook, sorted (folders end in "/");
        notes: sentences for report.txt (layout, links refused, what was ignored).

    Submission(student, notebook, path, status=None, detail="", warnings=(),
               timestamp=None, student_ids={}, full_name=None, late=False, source="")
        path: the notebook file to grade, or None (nothing handed in, or refused);
        status: None (grade it, or "missing" if path is None), SYMLINK
          ("symlink": a linked file or folder was refused; never grade the row) or
          UNREADABLE ("unreadable": a zip entry that failed to unpack, e.g. a bad CRC);
        detail: why, for a refused row; warnings: e.g. "02_value (1).ipynb matched
          as 02_value"; timestamp: nbgrader's timestamp.txt beside the notebook,
          raw text (stripped), or None; student_ids: ids found in LMS names,
          {"canvas_user": "12345", "canvas_submission": "67890"} or
          {"moodle_participant": "123456"}; full_name: Moodle's "Jane Smith";
          late: Canvas marked the file LATE; source: the file's path relative to
          the input.

    find_submissions(root: Path, notebooks) -> list[Submission]   # a folder, as before
    safe_extract(archive: Path, target: Path) -> Path              # strict: refuses links
    SubmissionError, SYMLINK, UNREADABLE

Matching a file to a notebook: the exact name; then, with a warning, browser and
LMS duplicates (``02_value (1).ipynb``, ``02_value-1.ipynb``, ``Copy of ...``),
case and punctuation (``02_Value.ipynb``, ``02-value.ipynb``), the name without
its number (``value.ipynb``) and near misses (``02_valeu.ipynb``). Several
candidates for one notebook: a near miss only counts if nothing closer is there;
of the rest the newest (modification time; for equal times the higher duplicate
number) is taken and the others are named in a warning.

A zip is unpacked only after every entry is checked: no absolute paths, no
``..`` (zip-slip), a cap on the entry count, on the total unpacked size and on
the ratio of unpacked to packed size (zip bombs); these refuse the whole zip.
Link entries are never created (reported as links), entries nested too deep are
skipped and listed.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tempfile
import time
import zipfile
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .untrusted import Unreadable, read_text

MAX_UNPACKED_BYTES = 512 * 1024**2
MAX_RATIO = 200          # a notebook compresses ~5-10x; 200x is a bomb
MAX_ENTRIES = 20_000
MAX_DEPTH = 8            # folders below the input; class/submitted/ann/02_value/x.ipynb is 5
MAX_WALK_ENTRIES = 200_000
# What reading one damaged or exotic entry can raise (encrypted: RuntimeError; bad
# CRC: BadZipFile; unknown method: NotImplementedError): that entry is skipped.
_ENTRY_ERRORS = (OSError, RuntimeError, zipfile.BadZipFile, NotImplementedError, zlib.error,
                 EOFError, ValueError)
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
SYMLINK = "symlink"
UNREADABLE = "unreadable"     # as grading.UNREADABLE: the file is there but cannot be read
# Files every OS and tool leaves behind: summarised in one note, not listed.
CLUTTER = re.compile(r"^(\..*|__MACOSX|Thumbs\.db|desktop\.ini)$", re.IGNORECASE)


class SubmissionError(ValueError):
    """The submissions cannot be read as a class (bad zip, unsafe paths...)."""


@dataclass(frozen=True)
class Submission:
    student: str
    notebook: str
    path: Path | None   # None: nothing handed in for this notebook, or refused (status)
    status: str | None = None
    detail: str = ""
    warnings: tuple[str, ...] = ()
    timestamp: str | None = None
    student_ids: dict[str, str] = field(default_factory=dict, hash=False)
    full_name: str | None = None
    late: bool = False
    source: str = ""


@dataclass
class Discovery:
    submissions: list[Submission]
    unrecognised: list[str]
    notes: list[str]


# ------------------------------------------------------------------ zips
def safe_extract(archive: Path, target: Path) -> Path:
    """Unpack ``archive`` into ``target`` after checking every entry; return ``target``.

    Strict: a link entry refuses the whole zip (``discover`` reports them instead)."""
    _unpack(archive, target, refuse_links=True)
    return target


def _entry_name(info: zipfile.ZipInfo) -> PurePosixPath:
    return PurePosixPath(info.filename.replace("\\", "/"))


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _check(archive: Path, infos: list[zipfile.ZipInfo], refuse_links: bool) -> None:
    if len(infos) > MAX_ENTRIES:
        raise SubmissionError(f"{archive}: {len(infos)} entries is more than the "
                              f"{MAX_ENTRIES} allowed (zip bomb?)")
    total = 0
    for info in infos:
        name = _entry_name(info)
        if name.is_absolute() or ".." in name.parts or info.filename.startswith(("/", "\\")) \
                or re.match(r"^[A-Za-z]:", info.filename):
            raise SubmissionError(f"{archive}: entry {info.filename!r} points outside the "
                                  "folder it unpacks into (zip-slip); refusing the whole zip")
        if refuse_links and _is_link(info):
            raise SubmissionError(f"{archive}: entry {info.filename!r} is a symbolic link; "
                                  "refusing the whole zip")
        total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise SubmissionError(f"{archive} unpacks to more than "
                                  f"{MAX_UNPACKED_BYTES // 1024**2} MB (zip bomb?)")
        if info.file_size > 1024**2 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise SubmissionError(f"{archive}: entry {info.filename!r} expands "
                                  f"{info.file_size // max(info.compress_size, 1)}x "
                                  "(zip bomb?)")


def _unpack(archive: Path, target: Path, refuse_links: bool = False):
    """Unpack the checked ``archive``.

    Returns ({entry: link target}, {entry: why it could not be unpacked},
    {entry: why it was not even tried})."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{archive} is not a readable zip file: {exc}") from None
    links: dict[str, str] = {}
    broken: dict[str, str] = {}
    skipped: dict[str, str] = {}
    with zf:
        infos = zf.infolist()
        _check(archive, infos, refuse_links)
        target.mkdir(parents=True, exist_ok=True)
        for info in infos:
            name = _entry_name(info)
            if not name.parts:
                continue
            rel = name.as_posix()
            if len(name.parts) > MAX_DEPTH:
                skipped[rel] = f"nested more than {MAX_DEPTH} folders deep"
                continue
            try:
                if _is_link(info):
                    # Never created: its text says where it pointed, for the report.
                    with zf.open(info) as src:
                        links[rel] = src.read(1024).decode("utf-8", errors="replace")
                else:
                    _extract_one(archive, zf, info, target / name)
            except _ENTRY_ERRORS as exc:
                try:
                    if stat.S_ISREG(os.lstat(target / name).st_mode):
                        os.unlink(target / name)   # half a file is not the learner's file
                except OSError:
                    pass
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                broken[rel] = f"could not be unpacked from the zip ({why})"
    return links, broken, skipped


def _extract_one(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: Path) -> None:
    if info.is_dir():
        out.mkdir(parents=True, exist_ok=True)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as src, open(out, "wb") as dst:
        # Read with a hard cap too: the sizes in the header can lie.
        remaining = info.file_size
        while chunk := src.read(1 << 20):
            remaining -= len(chunk)
            if remaining < 0:
                raise SubmissionError(f"{archive}: entry {info.filename!r} is larger "
                                      "than its header says (zip bomb?)")
            dst.write(chunk)
    try:
        # The zip's own time, so "the newest of several copies" means the same
        # in a zip as in the folder it was made from.
        stamp = time.mktime(info.date_time + (0, 0, -1))
        os.utime(out, (stamp, stamp))
    except (OverflowError, ValueError):
        pass


# ------------------------------------------------------------------ the tree, links kept as links
@dataclass
class _Node:
    name: str
    kind: str                  # "dir", "file", "link", "broken" (a zip entry that failed
                               # to unpack) or "other" (FIFO, device...)
    path: Path | None          # on disk; None for a link entry of a zip
    rel: str                   # relative to the input, for messages
    mtime: float = 0.0
    target: str = ""           # where a link points
    to_folder: bool | None = None   # a link on disk: does it point at a folder (stat only)
    children: dict[str, _Node] = field(default_factory=dict)
    truncated: bool = False    # a folder deeper than MAX_DEPTH: not searched


def _walk(root: Path, links: dict[str, str], broken: dict[str, str] | None = None) -> _Node:
    """The tree under ``root`` without following any link (breadth first, bounded)."""
    top = _Node(root.name, "dir", root, "")
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
            child = _Node(entry.name, "other", Path(entry.path), rel)
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
    # Zip entries that are not on disk: links (never created) and entries that
    # failed to unpack ("broken", the reason kept in ``target``).
    virtual = [(rel, "link", text) for rel, text in links.items()]
    virtual += [(rel, "broken", why) for rel, why in (broken or {}).items()]
    for rel, kind, text in virtual:
        parts = rel.split("/")
        node = top
        for i, part in enumerate(parts[:-1]):
            node = node.children.setdefault(
                part, _Node(part, "dir", None, "/".join(parts[:i + 1])))
        if node.kind == "dir":
            node.children[parts[-1]] = _Node(parts[-1], kind, None, rel, target=text)
        else:   # under a file of the same name: listed at the top, not lost
            top.children[rel] = _Node(rel, kind, None, rel, target=text)
    return top


# ------------------------------------------------------------------ names
_DUPLICATE = [re.compile(r"\s*\((\d+)\)$"),                       # browser: "x (1)"
              re.compile(r"-(\d+)$"),                             # Canvas resubmission: "x-1"
              re.compile(r"[\s_-]*-?[\s_-]*copy(?:[\s_]*(\d+))?$", re.IGNORECASE)]
_COPY_OF = re.compile(r"^copy of\s+", re.IGNORECASE)
_CANVAS = re.compile(r"^(?P<name>[a-z0-9-]+?)(?P<late>_late)?_(?P<uid>\d+)_(?P<sid>\d+)_"
                     r"(?P<rest>.+)$", re.IGNORECASE)
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<pid>\d+)_assignsubmission_[a-z]+_?(?P<rest>.*)$",
                     re.IGNORECASE)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _strip_duplicate(stem: str) -> tuple[str, int]:
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


def slug(name: str) -> str:
    """A plain student id (letters, digits, . _ @ + -) made from a folder or file name."""
    return re.sub(r"[^A-Za-z0-9._@+-]+", "_", name).strip("._-+@")[:100]


@dataclass
class _Match:
    notebook: str
    exact: bool
    copy: int
    near: bool = False    # only close (``value``, ``02_valeu``): loses to any closer file


class _Names:
    """Matches file names to the course notebooks."""

    def __init__(self, notebooks: list[str]):
        self.notebooks = list(notebooks)
        self.keys = {_key(n): n for n in self.notebooks}
        self.bare = {}   # "value" -> "02_value", only where unambiguous
        for n in self.notebooks:
            self.bare.setdefault(_key(re.sub(r"^\d+_?", "", n)), []).append(n)

    def match(self, filename: str) -> _Match | None:
        if not filename.lower().endswith(".ipynb"):
            return None
        stem = filename[:-len(".ipynb")]
        if stem in self.notebooks:
            return _Match(stem, True, 0)
        stem, copy = _strip_duplicate(stem)
        key = _key(stem)
        if key in self.keys:
            return _Match(self.keys[key], False, copy)
        if len(self.bare.get(key, ())) == 1:
            return _Match(self.bare[key][0], False, copy, near=True)
        close = difflib.get_close_matches(key, list(self.keys), n=2, cutoff=0.85)
        if len(close) == 1:
            return _Match(self.keys[close[0]], False, copy, near=True)
        return None

    def with_student(self, filename: str) -> tuple[str, _Match] | None:
        """``ann_02_value.ipynb`` -> ("ann", 02_value): a student name before a notebook name."""
        if not filename.lower().endswith(".ipynb"):
            return None
        stem, _ = _strip_duplicate(filename[:-len(".ipynb")])
        for notebook in self.notebooks:
            cut = len(stem) - len(notebook)
            if cut > 1 and stem.lower().endswith(notebook.lower()) and stem[cut - 1] in "_- .":
                found = self.match(filename[cut:])
                if found:
                    return stem[:cut - 1].rstrip("_- ."), found
        return None


# ------------------------------------------------------------------ discovery
@dataclass
class _Candidate:
    node: _Node
    shown: str           # the name as the warnings show it
    match: _Match
    late: bool = False


@dataclass
class _Student:
    ids: dict[str, str] = field(default_factory=dict)
    full_name: str | None = None
    linked: _Node | None = None      # the whole student folder is a link


class _Finder:
    def __init__(self, notebooks: list[str], label: str):
        self.names = _Names(notebooks)
        self.notebooks = list(notebooks)
        self.label = label
        self.students: dict[str, _Student] = {}
        self.candidates: dict[tuple[str, str], list[_Candidate]] = {}
        self.timestamps: dict[str, _Node] = {}      # folder rel -> its timestamp.txt
        self.unrecognised: list[str] = []
        self.layout: list[str] = []     # what shape the input was
        self.notes: list[str] = []      # about one path each; sorted in the result
        self.clutter = 0
        self.has_folders = False

    # -- students
    def student(self, raw: str, ids: dict[str, str] | None = None,
                full_name: str | None = None) -> str | None:
        ids = ids or {}
        person = {k: v for k, v in ids.items() if not k.endswith("_submission")}
        name = slug(raw)
        if not name:
            return None
        known = self.students.get(name)
        if known is not None and person and known.ids and person != {
                k: v for k, v in known.ids.items() if not k.endswith("_submission")}:
            # Two people with one name (two Jane Smiths): keep them apart.
            name = slug(f"{name}_{next(iter(person.values()))}")
            known = self.students.get(name)
        if known is None:
            self.students[name] = known = _Student(dict(ids), full_name)
        else:
            known.ids.update(ids)
        return name

    def add(self, student: str, node: _Node, shown: str, match: _Match, late=False) -> None:
        self.candidates.setdefault((student, match.notebook), []).append(
            _Candidate(node, shown, match, late))

    def stray(self, node: _Node, why: str | None = None) -> None:
        self.unrecognised.append(node.rel + ("/" if node.kind == "dir" else ""))
        if node.kind == "link":
            self.link_note(node, "and not a course notebook")
        elif why or node.kind == "broken":
            why = why or node.target
            self.notes.append(f"{node.rel}: {why}")

    def link_note(self, node: _Node, what: str) -> None:
        self.notes.append(f"{node.rel} is a symbolic link (to {node.target!r}): not followed, "
                          f"{what}")

    # -- the layout
    def run(self, tree: _Node) -> Discovery:
        root = self.unwrap(tree)
        self.has_folders = any(c.kind == "dir" and not CLUTTER.match(c.name)
                               for c in root.children.values())
        for child in root.children.values():
            if CLUTTER.match(child.name):
                self.clutter += 1
            elif child.kind == "dir":
                self.student_folder(child)
            elif child.kind == "link" and (child.to_folder or (
                    child.to_folder is None and "." not in child.name.lstrip("."))):
                student = self.student_of_folder(child)
                if student is None:
                    self.stray(child)
                else:
                    self.students[student].linked = child
                    self.link_note(child, f"the student folder is refused; {student}'s rows "
                                          "are marked symlink")
            elif child.kind in ("file", "link", "broken"):
                self.flat_file(child)
            else:
                self.stray(child, "not a regular file or folder")
        return self.finish()

    def unwrap(self, node: _Node) -> _Node:
        """Step into nbgrader's ``submitted/`` and into folders that only wrap the class."""
        for _ in range(4):
            submitted = node.children.get("submitted")
            kids = [c for c in node.children.values() if not CLUTTER.match(c.name)]
            if submitted is not None and submitted.kind == "dir":
                self.layout.append(f"nbgrader's submitted/ layout ({submitted.rel}/)")
                for other in kids:
                    if other is not submitted:
                        self.stray(other)
                node = submitted
            elif len(kids) == 1 and kids[0].kind == "dir" and self.wraps_a_class(kids[0]):
                node = kids[0]
            else:
                return node
        return node

    def wraps_a_class(self, folder: _Node) -> bool:
        """A lone folder at the top that holds the class (folders or LMS files), not a student."""
        kids = [c for c in folder.children.values() if not CLUTTER.match(c.name)]
        if any(self.names.match(c.name) or (c.kind == "dir" and c.name in self.notebooks)
               for c in kids):
            return False      # a student's own notebooks
        return any(c.kind == "dir" or _CANVAS.match(c.name) or _MOODLE.match(c.name)
                   or self.names.with_student(c.name) for c in kids)

    def student_of_folder(self, folder: _Node) -> str | None:
        moodle = _MOODLE.match(folder.name)
        if moodle and not moodle["rest"]:
            return self.student(moodle["name"], {"moodle_participant": moodle["pid"]},
                                moodle["name"])
        student = self.student(folder.name)
        if student is not None and student != folder.name:
            self.notes.append(f"{folder.rel}/: student id {student!r} (the folder name is "
                              "not a plain id)")
        return student

    def student_folder(self, folder: _Node) -> None:
        student = self.student_of_folder(folder)
        if student is None:
            self.stray(folder, "no student id can be made from this folder name")
            return
        # The notebooks sit in the folder or one level down (nbgrader: <notebook>/).
        stack = [(folder, 0)]
        while stack:
            node, depth = stack.pop()
            for child in node.children.values():
                shown = child.rel[len(folder.rel) + 1:]
                if CLUTTER.match(child.name):
                    self.clutter += 1
                elif child.kind == "dir":
                    if depth < 2 and not child.truncated:
                        stack.append((child, depth + 1))
                    elif child.children or child.truncated:
                        self.stray(child, "folders this deep in a student folder are "
                                          "not searched")
                elif child.kind == "link":
                    match = self.names.match(child.name) or \
                        self.names.match(child.name + ".ipynb")
                    if match:
                        self.add(student, child, shown, match)
                    else:
                        self.stray(child)
                elif child.kind == "file" and child.name == "timestamp.txt":
                    self.timestamps[node.rel] = child
                elif child.kind in ("file", "broken") and (match := self.match_in_folder(child)):
                    self.add(student, child, shown, match)
                else:
                    self.stray(child)

    def match_in_folder(self, node: _Node) -> _Match | None:
        """A notebook's file in a student's folder, possibly named ``ann_02_value.ipynb``."""
        named = self.names.with_student(node.name)
        if named:    # never exact: in a folder, the file should be named as the course names it
            return self.names.match(node.name) or _Match(named[1].notebook, False, named[1].copy)
        return self.names.match(node.name)

    def flat_file(self, node: _Node) -> None:
        """A file at the top: an LMS download names the student in the file name."""
        canvas, moodle = _CANVAS.match(node.name), _MOODLE.match(node.name)
        if canvas:
            student = self.student(canvas["name"], {"canvas_user": canvas["uid"],
                                                    "canvas_submission": canvas["sid"]})
            rest, late = canvas["rest"], bool(canvas["late"])
        elif moodle and moodle["rest"]:
            student = self.student(moodle["name"], {"moodle_participant": moodle["pid"]},
                                   moodle["name"])
            rest, late = moodle["rest"], False
        elif (named := self.names.with_student(node.name)) and slug(named[0]):
            self.add(self.student(named[0]), node, node.name, named[1])
            return
        elif match := self.names.match(node.name):
            # One student's notebooks given directly: the folder (or zip) names them.
            student = None if self.has_folders else self.student(self.label)
            if student is None:
                self.stray(node, "a notebook outside any student folder, with no student "
                                 "name in it")
                return
            self.add(student, node, node.name, match)
            return
        else:
            self.stray(node, "a zip inside the submissions is not unpacked"
                       if node.name.lower().endswith(".zip") else None)
            return
        match = self.names.match(rest)
        if match is None or student is None:
            self.stray(node, f"{rest!r} is not a course notebook")
            return
        self.add(student, node, node.name, match, late)

    # -- one row per (student, notebook)
    def finish(self) -> Discovery:
        rows = []
        for student in sorted(self.students):
            info = self.students[student]
            for notebook in self.notebooks:
                rows.append(self.row(student, info, notebook))
        notes = self.layout + sorted(self.notes)
        nobody = [n for n in self.notebooks
                  if rows and all(r.path is None for r in rows if r.notebook == n)]
        if nobody:
            notes.append(f"nobody handed in {', '.join(nobody)}")
        if self.clutter:
            notes.append(f"ignored {self.clutter} system files and folders "
                         "(names starting with '.', __MACOSX, Thumbs.db)")
        return Discovery(rows, sorted(self.unrecognised), notes)

    def row(self, student: str, info: _Student, notebook: str) -> Submission:
        base = dict(student_ids=dict(info.ids), full_name=info.full_name)
        if info.linked is not None:
            return Submission(student, notebook, None, SYMLINK,
                              f"the student folder {info.linked.rel} is a symbolic link (to "
                              f"{info.linked.target!r}); it was not followed and nothing in it "
                              "was read", source=info.linked.rel, **base)
        found = self.candidates.get((student, notebook), [])
        if not found:
            return Submission(student, notebook, None, **base)
        links = [c for c in found if c.node.kind == "link"]
        # A file named as the notebook (up to case and copy marks) beats a near name,
        # however new: 03_operations_notes.ipynb must not replace 03_operations.ipynb.
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
        if links:
            self.link_note(chosen.node, f"{student}'s {notebook} row is marked symlink")
            return Submission(student, notebook, None, SYMLINK,
                              f"{chosen.shown} is a symbolic link (to {chosen.node.target!r}); "
                              "it was not followed and nothing was read from it",
                              tuple(warnings), source=chosen.node.rel, **base)
        if chosen.node.kind == "broken":
            return Submission(student, notebook, None, UNREADABLE,
                              f"{chosen.shown} {chosen.node.target}", tuple(warnings),
                              source=chosen.node.rel, **base)
        timestamp = self.timestamp(chosen.node, warnings)
        return Submission(student, notebook, chosen.node.path, warnings=tuple(warnings),
                          timestamp=timestamp, late=chosen.late, source=chosen.node.rel, **base)

    def timestamp(self, node: _Node, warnings: list[str]) -> str | None:
        folder = node.rel.rpartition("/")[0]
        stamp = self.timestamps.get(folder)
        if stamp is None or stamp.path is None:
            return None
        try:
            return read_text(stamp.path).strip()
        except Unreadable as exc:
            warnings.append(f"{stamp.rel}: {exc}")
            return None


def discover(path: Path, notebooks: list[str], workdir: Path) -> Discovery:
    """Every submission in ``path`` (see the module docstring for the shapes)."""
    path = Path(path)
    notes = []
    if path.is_symlink():
        # The instructor's own argument: followed, and said so.
        notes.append(f"{path} is a symbolic link to {path.resolve()}; followed, since it is "
                     "the path given on the command line")
        path = path.resolve()
    if not path.exists():
        raise SubmissionError(f"{path} does not exist")
    if path.is_dir():
        found = _Finder(notebooks, path.name).run(_walk(path, {}))
    elif path.is_file() and path.suffix.lower() == ".ipynb":
        found = _single_notebook(path, notebooks)
    elif path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)):
        Path(workdir).mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkdtemp(prefix="unpacked-", dir=workdir))
        links, broken, skipped = _unpack(path, target)
        finder = _Finder(notebooks, path.stem)
        for rel, why in sorted(skipped.items()):
            finder.unrecognised.append(rel)
            finder.notes.append(f"{path.name}: {rel}: {why}; not unpacked")
        found = finder.run(_walk(target, links, broken))
    elif path.is_file():
        raise SubmissionError(f"{path} is neither a folder, a .zip nor a notebook (.ipynb)")
    else:
        raise SubmissionError(f"{path} is not a regular file or folder")
    if not found.submissions:
        listed = ", ".join(found.unrecognised[:5]) or "nothing"
        raise SubmissionError(
            f"{path} holds no submissions: no student folders and no file named like a course "
            f"notebook ({', '.join(notebooks)}); found {listed}"
            + (" ..." if len(found.unrecognised) > 5 else ""))
    found.notes[:0] = notes
    return found


def _single_notebook(path: Path, notebooks: list[str]) -> Discovery:
    """One .ipynb given directly: just its own row."""
    folder = path.parent.absolute()
    # nbgrader's submitted/<student>/<notebook>/<notebook>.ipynb: the student is one up.
    student = folder.parent.name if folder.name in notebooks else folder.name
    finder = _Finder(notebooks, student)
    node = _Node(path.name, "file", path, path.name, mtime=path.stat().st_mtime)
    stamp = path.parent / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink():
        finder.timestamps[""] = _Node(stamp.name, "file", stamp, stamp.name)
    finder.flat_file(node)
    if not finder.candidates:
        raise SubmissionError(f"{path.name} is not one of the course notebooks "
                              f"({', '.join(notebooks)}); rename it or pass --notebooks")
    (student, notebook), _ = next(iter(finder.candidates.items()))
    row = finder.row(student, finder.students[student], notebook)
    finder.notes.append(f"a single notebook: {path.name} graded as {student}'s {notebook}")
    return Discovery([row], [], finder.notes)


def find_submissions(root: Path, notebooks: list[str]) -> list[Submission]:
    """One Submission per (student, notebook) for every student folder under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise SubmissionError(f"{root} is not a folder or a zip of submissions")
    return discover(root, notebooks, root).submissions
