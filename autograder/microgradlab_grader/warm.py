"""Warm runners: a sandbox per grading thread and notebook, forked once per submission.

A cold start (``python -I runner.py`` in a new bubblewrap sandbox) spends most of its
first second importing IPython, numpy and matplotlib. A warm runner pays that once:
``runner.py zygote:FD`` imports what the runner and the notebook's top-level import
statements import (``SourceNotebook.imports``: the same modules an unedited copy of
the notebook loads, so a child's memory holds nothing a cold start's would not), and
then only forks. For each submission:

1. the grader removes everything earlier children left in the sandbox's writable
   places (``/scratch`` and ``/tmp``, reached from outside through
   ``/proc/<runner>/root``; what is mounted there, by the grader or bwrap, stays:
   the sandbox's own mount table says what that is);
2. it sends the runner three fds over the control socket (the child's ends of the
   requests, replies and stderr pipes: the only fds the child keeps) and the uid;
3. the child drops to that uid (it was root with only CAP_SETUID and CAP_SETGID:
   all its ids become the uid, so every capability is gone), removes the System V
   IPC objects an earlier child left, and waits for its first request;
4. the grader finds the child's pid as the host sees it, holds it with a pidfd,
   moves it into the submission's cgroup (``Confinement.adopt``), and only then
   sends the first request. From there the child is the same server as a cold
   start, under the same clock; its rlimits are the runner's, set when the
   runner's sandbox was started.

What is shared between the children of one runner, and why that is safe: the
runner's memory holds nothing but imported modules (it never runs learner code;
learners run as another uid and cannot signal, trace or write to it); the writable
folders are emptied before every child; the pid, network and IPC namespaces hold no
process of an earlier child (its cgroup was killed) and no IPC object (step 3).

A runner is kept per uid (a uid is leased to one grading thread at a time) for one
notebook's build; a submission of another notebook replaces it. It ends when the
grader closes its control socket, or when the grader's process ends however it ends.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from . import sandbox, uids
from .untrusted import remove_tree

START_SECONDS = 60.0      # the runner's imports, on a loaded machine
REPLY_SECONDS = 10.0      # a fork, or the exit status of a killed child
WRITABLE = ("/scratch", "/tmp")


class WarmUnavailable(RuntimeError):
    """The warm runner did not start or stopped answering; the grader starts cold."""


def _ns_pid(host_pid: int) -> int | None:
    """The pid that ``host_pid`` has in its own (innermost) pid namespace."""
    try:
        with open(f"/proc/{host_pid}/status") as status:
            for line in status:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        return None
    return None


def _children(host_pid: int) -> list[int]:
    try:
        with open(f"/proc/{host_pid}/task/{host_pid}/children") as children:
            return [int(p) for p in children.read().split()]
    except (OSError, ValueError):
        return []


def _find(top: int, ns_pid: int, depth: int = 3) -> int | None:
    """The descendant of ``top`` (at most ``depth`` levels down) whose own pid is ``ns_pid``."""
    level = [top]
    for _ in range(depth):
        level = [child for pid in level for child in _children(pid)]
        for pid in level:
            if _ns_pid(pid) == ns_pid:
                return pid
    return None


class WarmChild:
    """One submission's process, forked by a warm runner: what ``grading._supervise``
    needs of a ``Popen`` (``pid``, ``stderr``, ``poll``, ``wait``, ``returncode``),
    and ``kill``, which signals through a pidfd (the host pid is not ours to reap,
    so a bare pid could name another process once the runner has reaped it)."""

    def __init__(self, runner: "WarmRunner", ns_pid: int, pid: int, pidfd: int, stderr):
        self.runner, self.ns_pid, self.pid, self.pidfd = runner, ns_pid, pid, pidfd
        self.stderr = stderr
        self.returncode: int | None = None

    def _exited(self, timeout: float) -> bool:
        waiting = select.poll()   # (not select.select: a busy grader's fds may pass 1024)
        waiting.register(self.pidfd, select.POLLIN)
        return bool(waiting.poll(max(timeout, 0.0) * 1000))

    def poll(self) -> int | None:
        if self.returncode is None and self._exited(0):
            self.returncode = self.runner.exit_status(self.ns_pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if self.returncode is None:
            if not self._exited(REPLY_SECONDS * 6 if timeout is None else timeout):
                raise subprocess.TimeoutExpired(f"submission process {self.pid}", timeout)
            self.returncode = self.runner.exit_status(self.ns_pid)
        return self.returncode

    def kill(self) -> None:
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        os.close(self.pidfd)
        self.stderr.close()


class WarmRunner:
    """A sandbox whose runner imports once and forks a child per submission."""

    def __init__(self, key: tuple, plan, limits: sandbox.Limits, uid: int):
        self.key, self.uid = key, uid
        self.confinement = sandbox.Confinement(limits, None)
        self.scratch = Path(tempfile.mkdtemp(prefix="mglab-warm-"))
        self.process = None
        try:
            self._start(plan, limits)
        except BaseException:
            self.close()
            raise

    def _start(self, plan, limits: sandbox.Limits) -> None:
        if plan.matplotlib_cache is not None:
            shutil.copytree(plan.matplotlib_cache, self.scratch / ".matplotlib")
        for path in (self.scratch, *self.scratch.glob(".matplotlib/**")):
            os.chown(path, self.uid, self.uid)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # one message a request
        self.control = ours
        cmd = sandbox.bwrap_command(self.scratch, plan.package_copy, plan.runner,
                                    plan.torch_stub, f"zygote:{theirs.fileno()}", uid=self.uid,
                                    scratch_bytes=limits.scratch_bytes, warm=True)
        try:
            self.process = subprocess.Popen(
                cmd, env=sandbox.clean_environment(), cwd=self.scratch,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), preexec_fn=self.confinement.preexec,
                start_new_session=True)
        finally:
            theirs.close()
        self.control.settimeout(START_SECONDS)
        self.buffer = b""
        self._send({"op": "preload", "imports": [[m, list(n)] for m, n in plan.source.imports]})
        ready = self._reply().get("ready")
        self.control.settimeout(REPLY_SECONDS)
        self.pid = _find(self.process.pid, ready) if type(ready) is int else None
        if self.pid is None:
            raise WarmUnavailable("the warm runner started but could not be found")
        self.root = f"/proc/{self.pid}/root"

    def _reply(self) -> dict:
        while b"\n" not in self.buffer:
            try:
                chunk = self.control.recv(4096)
            except OSError as exc:
                raise WarmUnavailable(f"the warm runner did not answer ({exc})") from None
            if not chunk:
                raise WarmUnavailable("the warm runner ended")
            self.buffer += chunk
            if len(self.buffer) > 4096:
                raise WarmUnavailable("the warm runner said too much")
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise WarmUnavailable("the warm runner's reply is not an object")
        return reply

    def _send(self, request: dict, fds=()) -> None:
        try:
            socket.send_fds(self.control, [json.dumps(request).encode()], list(fds))
        except OSError as exc:
            raise WarmUnavailable(f"the warm runner is gone ({exc})") from None

    def mount_points(self) -> set[str]:
        """Where something is mounted inside the sandbox (the kernel's own list: the
        files the grader bound into /scratch, the venv when the checkout is in /tmp)."""
        points = set()
        with open(f"/proc/{self.pid}/mountinfo") as table:
            for line in table:
                fields = line.split()
                if len(fields) > 4:  # field 5 is the mount point, with \ooo escapes
                    points.add(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)),
                                      fields[4]))
        return points

    def empty_writable_folders(self) -> None:
        """Remove what earlier children left in /scratch and /tmp: everything but what
        is mounted there and the folders on the way to it."""
        mounted = {p for p in self.mount_points() if p.startswith(tuple(f"{a}/" for a in WRITABLE))}
        on_the_way = {str(parent) for p in mounted for parent in Path(p).parents}
        for area in WRITABLE:
            self._empty(area, mounted, on_the_way)

    def _empty(self, folder: str, mounted: set, on_the_way: set) -> None:
        with os.scandir(f"{self.root}{folder}") as entries:
            names = [entry.name for entry in entries]
        for name in names:
            inside = f"{folder}/{name}"
            if inside in mounted:
                continue  # not the tmpfs: nothing of a learner's can be in it
            if inside in on_the_way:
                self._empty(inside, mounted, on_the_way)
            else:
                remove_tree(Path(f"{self.root}{inside}"))

    def spawn(self, child_fds: tuple[int, int, int], stderr_read: int) -> WarmChild:
        """Fork a child holding ``child_fds`` (requests, replies, stderr) as this
        runner's uid, and hold it with a pidfd. The caller adopts it into the
        submission's cgroup before sending its first request."""
        if self.process.poll() is not None:
            raise WarmUnavailable("the warm runner's sandbox ended")
        self.empty_writable_folders()
        self._send({"op": "fork", "uid": self.uid}, child_fds)
        ns_pid = self._reply().get("pid")
        if type(ns_pid) is not int:
            raise WarmUnavailable("the warm runner did not fork")
        pid = _find(self.pid, ns_pid, depth=1)
        if pid is None:
            raise WarmUnavailable("the warm runner's child could not be found")
        pidfd = os.pidfd_open(pid)
        if _ns_pid(pid) != ns_pid or pid not in _children(self.pid):
            os.close(pidfd)
            raise WarmUnavailable("the warm runner's child ended before it was held")
        return WarmChild(self, ns_pid, pid, pidfd, os.fdopen(stderr_read, "rb"))

    def exit_status(self, ns_pid: int) -> int | None:
        """The exit status of an ended child (negative: the signal), from the runner."""
        try:
            self._send({"op": "wait", "pid": ns_pid, "timeout": 2.0})
            status = self._reply().get("status")
        except WarmUnavailable:
            return None
        return status if type(status) is int else None

    def close(self) -> None:
        control = getattr(self, "control", None)
        if control is not None:
            control.close()
        if self.process is not None:
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        self.confinement.close()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        remove_tree(self.scratch)


# ------------------------------------------------------------------ one runner per uid
_runners: dict[int, WarmRunner] = {}
_lock = threading.Lock()


def _key(plan, limits: sandbox.Limits) -> tuple:
    return (str(plan.package_copy), str(plan.runner), str(plan.torch_stub),
            str(plan.matplotlib_cache), limits)


def serves(uid: int | None, plan, limits: sandbox.Limits) -> bool:
    """True when ``uid`` has a warm runner built for ``plan`` and ``limits``."""
    with _lock:
        runner = _runners.get(uid)
    return runner is not None and runner.key == _key(plan, limits)


def runner_for(uid: int, plan, limits: sandbox.Limits) -> WarmRunner:
    """The warm runner of ``uid`` for ``plan``'s notebook build, started if needed (the
    thread holding ``uid``'s lease is its only user)."""
    key = _key(plan, limits)
    with _lock:
        runner = _runners.pop(uid, None)
    if runner is not None and runner.key != key:
        runner.close()
        runner = None
    if runner is None:
        runner = WarmRunner(key, plan, limits, uid)
    with _lock:
        _runners[uid] = runner
    return runner


def discard(uid: int) -> None:
    """Close ``uid``'s runner (it failed, or its work is done)."""
    with _lock:
        runner = _runners.pop(uid, None)
    if runner is not None:
        runner.close()


def close_all() -> None:
    with _lock:
        runners = list(_runners.values())
        _runners.clear()
    for runner in runners:
        runner.close()


atexit.register(close_all)
uids.on_release(discard)   # a runner's children run as its uid: it lives no longer than the lease
