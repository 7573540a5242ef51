"""The entry points: any input path (folder, zip, single notebook) to a Discovery."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from .finder import Finder
from .model import Discovery, Submission, SubmissionError
from .tree import Node, walk
from .zips import unpack


def discover(path: Path, notebooks: list[str], workdir: Path) -> Discovery:
    """Every submission in ``path`` (see the package docstring for the shapes)."""
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
        found = Finder(notebooks, path.name).run(walk(path, {}))
    elif path.is_file() and path.suffix.lower() == ".ipynb":
        found = _single_notebook(path, notebooks)
    elif path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)):
        Path(workdir).mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkdtemp(prefix="unpacked-", dir=workdir))
        links, broken, skipped = unpack(path, target)
        finder = Finder(notebooks, path.stem)
        for rel, why in sorted(skipped.items()):
            finder.unrecognised.append(rel)
            finder.notes.append(f"{path.name}: {rel}: {why}; not unpacked")
        found = finder.run(walk(target, links, broken))
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
    finder = Finder(notebooks, student)
    node = Node(path.name, "file", path, path.name, mtime=path.stat().st_mtime)
    stamp = path.parent / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink():
        finder.timestamps[""] = Node(stamp.name, "file", stamp, stamp.name)
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
