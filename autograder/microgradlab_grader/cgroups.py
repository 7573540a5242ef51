"""Control groups: one per submission, so its limits hold for all its processes together.

A limit set with ``setrlimit`` holds per process: three processes of 0.9 GiB each
pass a 2 GiB address-space cap, and memory behind a memfd or in a tmpfs is not
address space at all. A cgroup counts every page its processes are charged for,
shared memory and tmpfs pages included, and every process they start.

Two kernel interfaces exist:

* **v2** (one unified tree, most machines today): the grader needs a *delegated*
  subtree, a group it may write whose ``cgroup.controllers`` offers ``memory``,
  ``pids`` and ``cpu``. That is this process's own group (from ``/proc/self/cgroup``,
  line ``0::/path``), e.g. a systemd unit with ``Delegate=yes`` or a container's root.
* **v1** (one tree per controller, as on this project's build machine): the
  controllers mounted under ``/sys/fs/cgroup/<controller>/``; groups are made
  under this process's own group in each tree, never at the root.

:func:`support` finds out once which one works; :class:`Group` is one submission's group.
"""

from __future__ import annotations

import errno
import functools
import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

NEEDED = ("memory", "pids")   # without these two there is no per-submission limit
WANTED = ("cpu",)             # a CPU share is a bonus where it can be had
CPU_PERIOD_US = 100_000       # the quota of one core is one period per period


@dataclass(frozen=True)
class Support:
    """What this machine offers: ``version`` 2 or 1, or 0 with ``reason`` saying why not."""
    version: int
    parents: dict = field(default_factory=dict)   # controller -> folder we create groups in
    reason: str = ""

    @property
    def controllers(self) -> tuple[str, ...]:
        return tuple(sorted(self.parents))

    def describe(self) -> str:
        if not self.version:
            return f"no cgroups ({self.reason}): per-process rlimits only"
        where = sorted(set(str(p) for p in self.parents.values()))
        return (f"cgroup v{self.version} ({', '.join(self.controllers)}) under "
                f"{', '.join(where)}")


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, file system type, super options) of every cgroup mount."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        point = fields[4].replace("\\040", " ")
        found.append((point, tail[0], set(tail[2].split(","))))
    return found


def _own_groups() -> dict[str, str]:
    """This process's group per v1 controller, and ``""`` -> its v2 group."""
    groups = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return groups
    for line in lines:
        number, names, path = (line.split(":", 2) + ["", ""])[:3]
        if number == "0" and names == "":
            groups[""] = path
        for name in names.split(","):
            if name:
                groups[name] = path
    return groups


def _writable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK)


def _detect_v2(mounts, own) -> Support | None:
    if "" not in own:
        return None
    for point, kind, _ in mounts:
        if kind != "cgroup2":
            continue
        parent = Path(point) / own[""].lstrip("/")
        try:
            offered = set((parent / "cgroup.controllers").read_text().split())
        except OSError:
            continue
        if not set(NEEDED) <= offered or not _writable(parent):
            continue
        usable = [c for c in NEEDED + WANTED if c in offered]
        try:
            _delegate(parent, usable)
        except OSError:
            continue
        return Support(2, {c: parent for c in usable})
    return None


def _delegate(parent: Path, controllers: list[str]) -> None:
    """Enable ``controllers`` for the children of ``parent``.

    v2 lets a non-root group either hold processes or hand controllers to children,
    not both: if this process sits in ``parent`` itself, it first moves into a leaf
    group of its own (what systemd's delegation documentation asks of a delegate)."""
    control = parent / "cgroup.subtree_control"
    enabled = set(control.read_text().split())
    missing = [c for c in controllers if c not in enabled]
    if not missing:
        return
    try:
        control.write_text(" ".join("+" + c for c in missing))
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise
        leaf = parent / f"mglab-grader-{os.getpid()}"
        leaf.mkdir(exist_ok=True)
        for pid in (parent / "cgroup.procs").read_text().split():
            if pid == str(os.getpid()):
                (leaf / "cgroup.procs").write_text(pid)
        control.write_text(" ".join("+" + c for c in missing))


def _detect_v1(mounts, own) -> Support:
    parents, missing = {}, []
    for controller in NEEDED + WANTED:
        point = next((p for p, kind, options in mounts
                      if kind == "cgroup" and controller in options), None)
        if point is None or controller not in own:
            missing.append(f"{controller} not mounted")
            continue
        parent = Path(point) / own[controller].lstrip("/")
        if not _writable(parent):
            missing.append(f"{parent} not writable")
            continue
        parents[controller] = parent
    if not set(NEEDED) <= set(parents):
        return Support(0, reason="; ".join(missing) or "no cgroup controllers")
    return Support(1, parents)


@functools.cache
def support() -> Support:
    """Which cgroup interface this grader can use (found once per process)."""
    if os.environ.get("MICROGRADLAB_NO_CGROUPS"):
        return Support(0, reason="switched off by MICROGRADLAB_NO_CGROUPS")
    mounts, own = _mounts(), _own_groups()
    if not mounts:
        return Support(0, reason="no cgroup file system is mounted")
    return _detect_v2(mounts, own) or _detect_v1(mounts, own)


_names = itertools.count()
_names_lock = threading.Lock()


def _new_name(tag: str) -> str:
    with _names_lock:
        number = next(_names)
    return f"mglab-{os.getpid()}-{tag}-{number}"


class Group:
    """One submission's cgroup (in every v1 tree it needs, or one v2 folder).

    ``memory_bytes`` caps RAM *and* swap (shmem, memfd and tmpfs pages count);
    ``processes`` caps tasks; ``cpu_cores`` (a float, or None) caps CPU time to
    that many cores' worth. Every group gets the same CPU weight, so one
    submission's many processes share one submission's part of the machine."""

    def __init__(self, support: Support, memory_bytes: int, processes: int,
                 cpu_cores: float | None = 1.0, tag: str = "run"):
        if not support.version:
            raise RuntimeError(f"no cgroups to make a group in: {support.reason}")
        self.version = support.version
        self.name = _new_name(tag)
        self.folders: list[Path] = []
        try:
            if self.version == 2:
                folder = support.parents["memory"] / self.name
                folder.mkdir()
                self.folders.append(folder)
                self._set_v2(folder, memory_bytes, processes, cpu_cores,
                             "cpu" in support.parents)
            else:
                for controller, parent in support.parents.items():
                    folder = parent / self.name
                    folder.mkdir()
                    self.folders.append(folder)
                    self._set_v1(controller, folder, memory_bytes, processes, cpu_cores)
        except BaseException:
            self.remove()
            raise
        # The files preexec writes, opened by path in the child (no Python objects needed there).
        self._procs = [str(f / "cgroup.procs") for f in self.folders]

    @staticmethod
    def _set_v2(folder, memory_bytes, processes, cpu_cores, cpu):
        (folder / "memory.max").write_text(str(memory_bytes))
        if (folder / "memory.swap.max").exists():
            (folder / "memory.swap.max").write_text("0")
        (folder / "pids.max").write_text(str(processes))
        if cpu:
            (folder / "cpu.weight").write_text("100")
            if cpu_cores:
                (folder / "cpu.max").write_text(f"{int(cpu_cores * CPU_PERIOD_US)} {CPU_PERIOD_US}")

    @staticmethod
    def _set_v1(controller, folder, memory_bytes, processes, cpu_cores):
        if controller == "memory":
            (folder / "memory.limit_in_bytes").write_text(str(memory_bytes))
            # memory+swap: without it a submission could page out to swap past its cap.
            # (It must not be below limit_in_bytes, hence second.)
            memsw = folder / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                memsw.write_text(str(memory_bytes))
        elif controller == "pids":
            (folder / "pids.max").write_text(str(processes))
        elif controller == "cpu":
            (folder / "cpu.shares").write_text("1024")
            if cpu_cores:
                (folder / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                (folder / "cpu.cfs_quota_us").write_text(str(int(cpu_cores * CPU_PERIOD_US)))

    def join(self) -> None:
        """Move the calling process into the group (run in the child, before exec)."""
        self.adopt(os.getpid())

    def adopt(self, pid: int) -> None:
        """Move process ``pid`` into the group (a warm runner's child, before it runs
        anything of the learner's)."""
        pid = str(pid).encode()
        for path in self._procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)

    def pids(self) -> list[int]:
        found = set()
        for folder in self.folders:
            try:
                found.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return sorted(found)

    def kill_all(self, seconds: float = 10.0) -> bool:
        """SIGKILL every process in the group until it is empty; True when it is."""
        deadline = time.monotonic() + seconds
        if self.version == 2 and (self.folders[0] / "cgroup.kill").exists():
            try:
                (self.folders[0] / "cgroup.kill").write_text("1")
            except OSError:
                pass
        while True:
            pids = self.pids()
            if not pids:
                return True
            if time.monotonic() > deadline:
                return False
            # Killed again each round: a fork bomb may have started new ones meanwhile
            # (the pids cap bounds how many), and a zombie is listed until it is reaped.
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.02)

    def memory_peak(self) -> int | None:
        """The most memory the group was charged at once, in bytes (None if unknown)."""
        names = ("memory.peak",) if self.version == 2 else ("memory.max_usage_in_bytes",)
        for folder in self.folders:
            for name in names:
                try:
                    return int((folder / name).read_text())
                except (OSError, ValueError):
                    continue
        return None

    def hit_memory_cap(self) -> bool:
        """Whether the kernel refused or reclaimed memory at the cap at least once."""
        for folder in self.folders:
            try:
                if self.version == 2:
                    events = dict(line.split() for line in
                                  (folder / "memory.events").read_text().splitlines())
                    return int(events.get("max", 0)) + int(events.get("oom_kill", 0)) > 0
                if (folder / "memory.oom_control").exists():
                    control = dict(line.split() for line in
                                   (folder / "memory.oom_control").read_text().splitlines())
                    failures = int((folder / "memory.failcnt").read_text())
                    return failures + int(control.get("oom_kill", 0)) > 0
            except (OSError, ValueError):
                continue
        return False

    def remove(self, seconds: float = 10.0) -> bool:
        """Remove the group's folders; a folder with a process left in it is retried
        until ``seconds`` have passed. True when all are gone."""
        deadline = time.monotonic() + seconds
        left = list(self.folders)
        while left:
            for folder in list(left):
                try:
                    folder.rmdir()
                    left.remove(folder)
                except FileNotFoundError:
                    left.remove(folder)
                except OSError:
                    pass
            if not left or time.monotonic() > deadline:
                break
            self.kill_all(seconds=0.5)
            time.sleep(0.05)
        self.folders = left
        return not left
