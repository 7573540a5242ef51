"""What a grading run builds from the course, kept for the next run.

Two things a run needs are made from the course and this machine's Python alone,
never from a submission: each notebook's generated ``microgradlab``
(:func:`withholding.build_package`: written, byte-compiled, then imported in a
fresh interpreter, about 0.25 s a notebook) and matplotlib's font list
(:func:`sandbox.build_matplotlib_cache`, about 0.6 s). The same inputs give the
same files, so a finished build is kept in a folder named by the SHA-256 of its
inputs and copied into each later run's work folder.

The key holds everything the build reads: for a package, the generated sources,
the interpreter and the installed versions of the distributions the sandbox
binds; for the font list, matplotlib's version and every font file's path, size
and modification time. A change to any of them is a new key, so a kept build
is never stale; a grade depends on the submission and the course only.

The folder is ``<venv>/var/microgradlab-builds`` (the interpreter's prefix): one
per installation, empty on a fresh clone, written only by the grader's own user
and bound into no sandbox. Where it cannot be written, each run builds afresh in
its work folder, as it would with no keeping at all.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

FOLDER_NAME = "microgradlab-builds"
FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts")


def default_root() -> Path:
    return Path(sys.prefix) / "var" / FOLDER_NAME


def _digest(parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@functools.cache
def _bound_versions() -> dict[str, str]:
    """The installed version of each distribution the sandbox binds (read once a process,
    as withholding.allowed_site_entries reads their files)."""
    from . import withholding
    return {name: importlib.metadata.version(name) for name in withholding.distribution_closure()}


def package_key(notebook: str, sources: dict[str, str]) -> str:
    return _digest(["package", notebook, sys.executable, sys.version, _bound_versions(), sources])


def fonts_key() -> str:
    import matplotlib
    files = []
    for folder in FONT_FOLDERS:
        for parent, _, names in os.walk(folder):
            for name in names:
                try:
                    info = os.stat(os.path.join(parent, name))
                except OSError:
                    continue
                files.append([os.path.join(parent, name), info.st_size, info.st_mtime_ns])
    return _digest(["fonts", sys.executable, matplotlib.__version__, sorted(files)])


class _Unusable(Exception):
    """The folder of kept builds cannot be made or written here."""


def _kept(root: Path, key: str, build) -> Path | None:
    """The kept folder for ``key`` under ``root``, made by ``build(folder)`` when absent;
    None when ``build`` made nothing (returned None), so there is nothing to keep.

    ``build`` writes into a fresh folder beside the kept ones; the folder is renamed
    into place only when the build finished, so a reader never sees half a build and
    two runs building the same key at once both end with one complete folder. Raises
    :class:`_Unusable` when ``root`` cannot be written (the caller builds in its run)."""
    kept = root / key
    if kept.is_dir():
        return kept
    try:
        root.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    except OSError as exc:
        raise _Unusable(root) from exc
    try:
        if build(fresh) is None:
            return None
        try:
            fresh.rename(kept)
        except OSError:
            if not kept.is_dir():    # another run's rename won only if it left a folder
                raise
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return kept


def package(notebook: str, target: Path, root: Path | None = None) -> Path:
    """``notebook``'s generated package at ``target`` (a folder named microgradlab), as
    :func:`withholding.build_package` makes it, copied from the kept build when there
    is one. Returns target."""
    from . import withholding
    root = default_root() if root is None else root
    sources = withholding.generate_sources(notebook)
    try:
        kept = _kept(root, package_key(notebook, sources), lambda folder: (
            withholding.build_package(notebook, folder / "microgradlab", sources)))
    except _Unusable:
        return withholding.build_package(notebook, target, sources)
    if target.exists():
        shutil.rmtree(target)
    # copy2 keeps each file's modification time, which the .pyc files were written against.
    shutil.copytree(kept / "microgradlab", target)
    withholding.open_to_sandbox(target)
    return target


def matplotlib_fonts(folder: Path, root: Path | None = None) -> Path | None:
    """A matplotlib config folder holding the font list, in ``folder``
    (:func:`sandbox.build_matplotlib_cache`), copied from the kept build when there is
    one. None when none could be built."""
    from . import sandbox
    root = default_root() if root is None else root
    try:
        kept = _kept(root, fonts_key(), sandbox.build_matplotlib_cache)
    except _Unusable:
        return sandbox.build_matplotlib_cache(folder)
    if kept is None:   # the build failed once; a second try in the run would fail too
        return None
    target = folder / "matplotlib-cache"
    shutil.copytree(kept / "matplotlib-cache", target, dirs_exist_ok=True)
    return target


__all__ = ["default_root", "package", "matplotlib_fonts", "package_key", "fonts_key"]
