"""Finding the submissions: a folder, a zip, or nbgrader's ``submitted/`` layout.

Accepted shapes (``NN_name`` is a course notebook name):

* ``ROOT/<student>/<NN_name>.ipynb``
* ``ROOT/submitted/<student>/<NN_name>/<NN_name>.ipynb`` (nbgrader ``collect``),
  or ``ROOT`` being that ``submitted`` folder itself
* a ``.zip`` holding either shape (one top-level folder around it is fine)

A zip is unpacked only after every entry is checked: no absolute paths, no
``..`` (zip-slip), no links, and a cap on the total unpacked size and on the
ratio of unpacked to packed size (zip bombs).
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_UNPACKED_BYTES = 512 * 1024**2
MAX_RATIO = 200          # a notebook compresses ~5-10x; 200x is a bomb
MAX_ENTRIES = 20_000
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")


class SubmissionError(ValueError):
    """The submissions cannot be read as a class (bad zip, unsafe paths...)."""


@dataclass(frozen=True)
class Submission:
    student: str
    notebook: str
    path: Path | None   # None: the student handed in nothing for this notebook


def safe_extract(archive: Path, target: Path) -> Path:
    """Unpack ``archive`` into ``target`` after checking every entry; return ``target``."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{archive} is not a readable zip file: {exc}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise SubmissionError(f"{archive}: {len(infos)} entries is more than the "
                                  f"{MAX_ENTRIES} allowed (zip bomb?)")
        total = 0
        for info in infos:
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or info.filename.startswith(("/", "\\")) \
                    or re.match(r"^[A-Za-z]:", info.filename):
                raise SubmissionError(f"{archive}: entry {info.filename!r} points outside the "
                                      "folder it unpacks into (zip-slip); refusing the whole zip")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
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
        target.mkdir(parents=True, exist_ok=True)
        for info in infos:
            # Read with a hard cap too: the sizes in the header can lie.
            out = target / PurePosixPath(info.filename.replace("\\", "/"))
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(out, "wb") as dst:
                remaining = info.file_size
                while True:
                    chunk = src.read(1 << 20)
                    if not chunk:
                        break
                    remaining -= len(chunk)
                    if remaining < 0:
                        raise SubmissionError(f"{archive}: entry {info.filename!r} is larger "
                                              "than its header says (zip bomb?)")
                    dst.write(chunk)
    return target


def _unwrap(root: Path, notebooks) -> Path:
    """Step into ``submitted/`` or a single wrapping folder."""
    if (root / "submitted").is_dir():
        return root / "submitted"
    entries = [p for p in root.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name not in notebooks:
        inner = entries[0]
        kids = [p for p in inner.iterdir() if p.is_dir()]
        looks_like_class = any(any((k / f"{n}.ipynb").exists() or (k / n).is_dir()
                                   for n in notebooks) for k in kids)
        if looks_like_class or inner.name == "submitted":
            return inner
    return root


def find_submissions(root: Path, notebooks: list[str]) -> list[Submission]:
    """One Submission per (student, notebook) for every student folder under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise SubmissionError(f"{root} is not a folder or a zip of submissions")
    root = _unwrap(root, notebooks)
    found = []
    students = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise SubmissionError(f"{root} holds no student folders (expected "
                              "<student>/<notebook>.ipynb or submitted/<student>/<notebook>/...)")
    for folder in students:
        if not STUDENT_ID.match(folder.name):
            raise SubmissionError(f"student folder name {folder.name!r} is not a plain id "
                                  "(letters, digits, . _ @ + -)")
        for notebook in notebooks:
            candidates = [folder / f"{notebook}.ipynb", folder / notebook / f"{notebook}.ipynb"]
            path = next((c for c in candidates if c.is_file() and not c.is_symlink()), None)
            found.append(Submission(folder.name, notebook, path))
    return found
