"""Unpacking a zip of submissions, every entry checked before anything is written.

No absolute paths, no ``..`` (zip-slip), a cap on the entry count, on the total
unpacked size and on the ratio of unpacked to packed size (zip bombs): any of these
refuses the whole zip. Link entries are never created (reported as links), entries
nested too deep are skipped and listed, an entry that fails to unpack (bad CRC,
encrypted) is listed with why.
"""

from __future__ import annotations

import os
import re
import stat
import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .model import SubmissionError
from .tree import MAX_DEPTH

MAX_UNPACKED_BYTES = 512 * 1024**2
MAX_RATIO = 200          # a notebook compresses ~5-10x; 200x is a bomb
MAX_ENTRIES = 20_000
# What reading one damaged or exotic entry can raise (encrypted: RuntimeError; bad
# CRC: BadZipFile; unknown method: NotImplementedError): that entry is skipped.
_ENTRY_ERRORS = (OSError, RuntimeError, zipfile.BadZipFile, NotImplementedError, zlib.error,
                 EOFError, ValueError)


def safe_extract(archive: Path, target: Path) -> Path:
    """Unpack ``archive`` into ``target`` after checking every entry; return ``target``.

    Strict: a link entry refuses the whole zip (``discover`` reports them instead)."""
    unpack(archive, target, refuse_links=True)
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


def unpack(archive: Path, target: Path, refuse_links: bool = False):
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
