"""Sandbox uids that belong to one grading run only.

As root, learner code runs as an unprivileged uid (root ignores RLIMIT_NPROC and
could undo the sandbox). If two grading runs on one machine used the same uids,
one run's fork bomb would use up the other's process allowance and each run's
clean-up would wait for the other's processes. So every run *leases* its uids:
a uid is held while this process holds an exclusive ``flock`` on
``LOCK_FOLDER/<uid>.lock``. The kernel drops the lock when the process ends,
however it ends, so a crashed run's uids are free again at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FOLDER = Path("/run/microgradlab/uids")
# Far above any login user (Debian: < 60000), the subordinate ids of rootless
# containers (from 100000 in steps of 65536) and systemd-nspawn's container
# range (524288-1879048191), and below 2**31 (some tools read uids as signed).
UID_FIRST = 1_900_000_000
UID_COUNT = 1_000_000


_on_release = []   # called with each uid before its lease ends (warm.py closes its runner)


def on_release(hook) -> None:
    """Call ``hook(uid)`` whenever a lease of ``uid`` ends, before another run can take it."""
    _on_release.append(hook)


class NoFreeUid(RuntimeError):
    """Every uid of the range is leased by another grading run (or in use)."""


def _has_processes(uid: int) -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    return True
            except OSError:
                pass
    return False


def _lock_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.stat()
    if info.st_uid != 0 or info.st_mode & 0o022:
        # Anyone able to write here could hold our uids' locks or swap the files.
        raise PermissionError(f"{folder} must belong to root and be writable by root only")
    return folder


@contextlib.contextmanager
def allocate_uids(count: int, folder: Path | None = None, tries: int = 10_000):
    """``count`` uids leased to this run for the ``with`` block (a list).

    Not root: a list of ``count`` Nones (the sandbox then runs as the caller,
    in a user namespace). Scans from the start of the range, skipping uids whose
    lock another run holds, so the same few lock files serve every run."""
    if count < 0:
        raise ValueError(f"cannot allocate {count} uids")
    if os.geteuid() != 0:
        yield [None] * count
        return
    folder = _lock_folder(Path(folder or LOCK_FOLDER))
    held: list[tuple[int, int]] = []   # (uid, open lock file descriptor)
    try:
        for step in range(min(tries, UID_COUNT)):
            if len(held) == count:
                break
            uid = UID_FIRST + step
            fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if _has_processes(uid):   # a crashed run's leftover: not ours to reuse yet
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            held.append((uid, fd))
        if len(held) < count:
            raise NoFreeUid(f"found only {len(held)} of {count} free sandbox uids "
                            f"in {UID_FIRST}..{UID_FIRST + UID_COUNT - 1}")
        yield [uid for uid, _ in held]
    finally:
        for uid, fd in held:
            for hook in _on_release:
                hook(uid)
            # Unlinking first would let another run lock a fresh file of the same
            # name while we still hold the old one: just unlock and close.
            os.close(fd)
