"""The sandbox a learner's notebook runs in: bubblewrap plus resource limits.

Inside, the learner's code sees a nearly empty file system:

* read-only: ``/usr`` (the C library, fonts), the Python install, the venv
  with a site-packages that holds only the allowed distributions (numpy,
  matplotlib, IPython, ipywidgets and what they require; ``import torch``
  raises an ImportError that says why), the standard library less
  ``withholding.BLOCKED_STDLIB``, the ``microgradlab`` generated for the
  notebook (``withholding.build_package``) under :data:`PACKAGE_PARENT`, which
  the runner puts first on sys.path, and the runner script;
* writable: ``/scratch`` and ``/tmp``, each a tmpfs of ``Limits.scratch_bytes``
  that vanishes with the sandbox (the few files the grader puts in /scratch are
  bound read-only from a host folder: nothing the learner writes reaches the host);
* not there at all: the course tree, ``solutions/``, the gradebook, other
  learners' files, the network (``--unshare-all``), the host's processes.

Limits per submission (:class:`Confinement`): a cgroup (see ``cgroups.py``)
caps memory (shared memory, memfd and tmpfs pages included), the process
count and the CPU share of *all* the submission's processes together. Limits
per process are set with ``setrlimit`` in the child before ``bwrap`` starts,
as a second fence and the fallback where there are no cgroups: address space
(``RLIMIT_AS``), process count per uid (``RLIMIT_NPROC``), CPU seconds
(``RLIMIT_CPU``), file size (``RLIMIT_FSIZE``). Wall-clock limits are the
grader's job (it SIGKILLs).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import cgroups, withholding
from .uids import allocate_uids

from microgradlab.widgets._plot import GRADING_VARIABLE  # set in the sandbox: widgets skip pictures

RUNNER = Path(__file__).with_name("runner.py")
BLOCKED_IMPORT = (
    'raise ImportError("PyTorch is not available while your notebook is graded: '
    'the grade is for your own code")\n'
)
class SandboxUnavailable(RuntimeError):
    """bwrap is missing or does not work on this machine."""


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Memory, processes and CPU cores hold for the
    submission as a whole where cgroups can be had (see :class:`Confinement`)."""
    memory_bytes: int = 2 * 1024**3      # RAM + swap + shared memory + tmpfs pages
    processes: int = 64
    cpu_seconds: int = 900               # per process (RLIMIT_CPU)
    file_bytes: int = 64 * 1024**2       # one file (RLIMIT_FSIZE)
    scratch_bytes: int | None = 256 * 1024**2  # size of /scratch, and of /tmp; None: uncapped
    cpu_cores: float | None = 1.0        # CPU time quota, in cores (cgroups only)
    cgroups: bool = True                 # False: per-process rlimits only (the fallback)

    def __post_init__(self):
        for name in ("memory_bytes", "processes", "cpu_seconds", "file_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive whole number, got {value!r}")
        if self.scratch_bytes is not None and self.scratch_bytes <= 0:
            raise ValueError(f"Limits.scratch_bytes must be positive or None, "
                             f"got {self.scratch_bytes!r}")
        if self.cpu_cores is not None and self.cpu_cores <= 0:
            raise ValueError(f"Limits.cpu_cores must be positive or None, got {self.cpu_cores!r}")


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


# --------------------------------------------------------------- the command
def _python_roots() -> list[str]:
    """The folders a Python interpreter of this venv needs: the base install and the venv."""
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    # The venv's python is a symlink into the base install; both must resolve inside.
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    return sorted(r for r in roots if not r.startswith("/usr"))


def site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def package_mount_point() -> Path:
    """Where this interpreter imports microgradlab from (the editable install's folder)."""
    import microgradlab
    return Path(microgradlab.__path__[0])


# Inside the sandbox the runner puts this folder first on sys.path; the notebook's
# generated microgradlab (withholding.build_package) is bound below it. (The
# editable install's finder is a .pth file of site-packages, which is not bound.)
PACKAGE_PARENT = "/grader/pkg"


def _ancestors(paths) -> list[str]:
    """Every folder above ``paths``, parents first (bwrap would create them 0700)."""
    seen = []
    for path in paths:
        for parent in reversed(Path(path).parents):
            text = str(parent)
            if text != "/" and text not in seen:
                seen.append(text)
    return seen


def drop_to(uid: int) -> list[str]:
    """The command prefix that becomes ``uid`` inside the sandbox (no groups, no
    capabilities, no way back up). Used when the grader runs as root: root is
    exempt from RLIMIT_NPROC, so the learner's code must not be root."""
    return ["/usr/bin/setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def bwrap_command(scratch: Path | None, package_copy: Path, runner: Path, torch_stub: Path,
                  job: str, uid: int | None = None, python: str | None = None,
                  scratch_bytes: int | None = Limits.scratch_bytes,
                  warm: bool = False) -> list[str]:
    """The bwrap command line that runs the runner on ``job`` (a path inside /scratch).

    ``/scratch`` and ``/tmp`` are fresh tmpfs of ``scratch_bytes`` each (None: no
    cap). What the host folder ``scratch`` holds (if given) is bound into /scratch
    read-only, file by file; its folders become writable folders of the tmpfs.

    As root (``uid`` given) bwrap makes no user namespace; the learner's process
    then switches to the unprivileged ``uid`` with setpriv. Otherwise bwrap runs
    unprivileged with a user namespace (``--unshare-all``).

    ``warm``: the command of a warm runner (warm.py; ``uid`` required). It stays
    root with the two capabilities each child needs to become ``uid``, and it ends
    when its control socket closes rather than with the thread that started it."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable("bwrap (bubblewrap) is not installed")
    python = python or sys.executable
    if warm and uid is None:
        raise ValueError("a warm runner needs a uid for its children (run as root)")
    cmd = [bwrap, "--new-session"] if warm else [bwrap, "--die-with-parent", "--new-session"]
    if uid is not None:
        cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-all", "--cap-drop", "ALL"]
    # /proc, /dev and the empty /tmp come first: a later --tmpfs /tmp would hide
    # anything bound below it, and the checkout (so the venv) may itself live in /tmp.
    cmd += ["--proc", "/proc", "--dev", "/dev"] + _tmpfs("/tmp", scratch_bytes)
    packages = site_packages()
    inside = f"{PACKAGE_PARENT}/microgradlab"
    mounts = [inside, "/grader/runner.py", "/scratch"] + _python_roots()
    for folder in _ancestors(mounts):
        cmd += ["--perms", "0755", "--dir", folder]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "bin", "sbin"):
        if os.path.islink(f"/{name}"):
            cmd += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
        elif os.path.isdir(f"/{name}"):
            cmd += ["--ro-bind", f"/{name}", f"/{name}"]
    if os.path.isdir("/etc/fonts"):
        cmd += ["--ro-bind", "/etc/fonts", "/etc/fonts"]
    for root in _python_roots():
        cmd += ["--ro-bind", root, root]
    cmd += site_packages_binds(packages, torch_stub)
    cmd += ["--ro-bind", str(package_copy), inside,
            "--ro-bind", str(runner), "/grader/runner.py",
            *_tmpfs("/scratch", scratch_bytes), *_read_only_files(scratch, "/scratch"),
            "--chdir", "/scratch",
            "--setenv", "HOME", "/scratch",
            "--setenv", "IPYTHONDIR", "/scratch/.ipython",
            "--setenv", "MPLCONFIGDIR", "/scratch/.matplotlib",
            "--setenv", "MPLBACKEND", "Agg",
            "--setenv", GRADING_VARIABLE, "1",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--setenv", "PYTHONHASHSEED", "0",
            "--"]
    if uid is not None and not warm:
        cmd += drop_to(uid)
    return cmd + [python, "-I", "/grader/runner.py", job, PACKAGE_PARENT]


def site_packages_binds(packages: Path, torch_stub: Path) -> list[str]:
    """bwrap arguments that leave only the allowed distributions in site-packages
    (withholding.allowed_site_entries), an ``import torch`` that says why it fails,
    and the blocked standard-library modules replaced (their text is written by
    :func:`write_support_files` beside ``torch_stub``)."""
    args = ["--tmpfs", str(packages)]
    for entry in withholding.allowed_site_entries():
        args += ["--ro-bind", str(entry), str(packages / entry.name)]
    args += ["--dir", str(packages / "torch"),
             "--ro-bind", str(torch_stub), str(packages / "torch" / "__init__.py")]
    for path in withholding.blocked_stdlib_files():
        args += ["--ro-bind", str(torch_stub.parent / f"blocked-{path.name}"), str(path)]
    return args


def _tmpfs(where: str, size: int | None) -> list[str]:
    """A tmpfs every sandbox user may write (sticky, like /tmp), capped at ``size`` bytes.
    Its pages are also charged to the submission's memory cgroup."""
    return ["--perms", "01777"] + (["--size", str(size)] if size else []) + ["--tmpfs", where]


def _read_only_files(host: Path | None, inside: str) -> list[str]:
    """Bind each file under ``host`` read-only at the same place under ``inside``."""
    if host is None:
        return []
    args = []
    for path in sorted(Path(host).rglob("*")):
        target = f"{inside}/{path.relative_to(host)}"
        if path.is_symlink():
            continue   # the grader writes none; never follow one
        if path.is_dir():
            args += ["--perms", "0777", "--dir", target]
        elif path.is_file():
            args += ["--ro-bind", str(path), target]
    return args


def set_limits(limits: Limits):
    """A ``preexec_fn``: the limits for the child and everything it starts.

    RLIMIT_NPROC counts every process of the (real) user: as root the learner
    runs under a uid of its own per worker slot, so the count is the sandbox's;
    as an ordinary user the processes the user already has are added on top."""
    processes = limits.processes
    if os.geteuid() != 0:
        processes += _process_count(os.getuid())

    def apply():
        os.umask(0o022)
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def wait_until_uid_is_empty(uid: int, seconds: float = 10.0) -> None:
    """Wait (briefly) until no process of ``uid`` is left. The kernel tears down a
    killed sandbox's pid namespace asynchronously, and a fork bomb's leftovers would
    count against RLIMIT_NPROC of the next learner who runs as this uid."""
    deadline = time.monotonic() + seconds
    while _process_count(uid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _process_count(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


# --------------------------------------------------------------- per submission
_warned = set()
_warned_lock = threading.Lock()


def _warn_once(text: str) -> None:
    """One line on stderr per distinct warning and process (the grade command's run)."""
    with _warned_lock:
        if text in _warned:
            return
        _warned.add(text)
    print(f"microgradlab grade: WARNING: {text}", file=sys.stderr, flush=True)


def confinement_in_force(limits: Limits | None = None) -> str:
    """In words, what holds each submission to its limits (for the command's output)."""
    limits = limits or Limits()
    support = cgroups.support()
    if not limits.cgroups:
        return "per-process rlimits only (cgroups switched off)"
    if not support.version:
        return support.describe()
    return f"{support.describe()}, plus per-process rlimits"


def warn_if_no_cgroups(limits: Limits | None = None) -> None:
    """Say once, on stderr, that submissions are held by per-process limits only."""
    limits = limits or Limits()
    support = cgroups.support()
    if limits.cgroups and not support.version:
        _warn_once(f"no per-submission limits: {support.describe()}. Memory (shared memory and "
                   "memfd included), process count and CPU are then capped per process, not "
                   "per submission.")


class Confinement:
    """One submission's limits, as a context manager around its ``Popen``.

    ``preexec`` (the ``preexec_fn``) moves the child into the submission's cgroup
    and sets the rlimits; ``kill_all()`` kills every process of the submission,
    wherever in its tree it hides; leaving the block kills what is left and
    removes the group. ``mechanism`` says which of the two holds it."""

    def __init__(self, limits: Limits, uid: int | None = None):
        self.limits, self.uid = limits, uid
        self.group: cgroups.Group | None = None
        self.memory_peak: int | None = None
        self.hit_memory_cap = False
        support = cgroups.support()
        if limits.cgroups and support.version:
            try:
                self.group = cgroups.Group(support, limits.memory_bytes, limits.processes,
                                           limits.cpu_cores, tag=str(uid or "user"))
            except OSError as exc:
                _warn_once(f"could not make a cgroup for a submission ({exc}); that "
                           "submission is held by per-process limits only")
        elif limits.cgroups:
            warn_if_no_cgroups(limits)
        self.mechanism = (f"cgroup v{self.group.version}" if self.group
                          else "rlimits")
        self._rlimits = set_limits(limits)

    def preexec(self) -> None:
        # In the child, between fork and exec: join first, so bwrap and everything
        # it starts are counted in the group from their first page.
        if self.group is not None:
            self.group.join()
        self._rlimits()

    def adopt(self, pid: int) -> None:
        """Hold process ``pid`` (started elsewhere: a warm runner's child, whose rlimits
        are the ones its runner was started with) to the submission's group."""
        if self.group is not None:
            self.group.adopt(pid)

    def kill_all(self) -> bool:
        """SIGKILL every process of the submission; True when none is left."""
        if self.group is not None:
            return self.group.kill_all()
        if self.uid is not None:
            _kill_uid(self.uid)
            wait_until_uid_is_empty(self.uid)
            return not _process_count(self.uid)
        return True

    def close(self) -> None:
        if self.group is None:
            return
        self.group.kill_all()
        self.memory_peak = self.group.memory_peak()
        self.hit_memory_cap = self.group.hit_memory_cap()
        if not self.group.remove():
            _warn_once(f"could not remove cgroup {self.group.name} (a process would not die)")

    def __enter__(self) -> "Confinement":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _kill_uid(uid: int) -> None:
    """SIGKILL each process of ``uid`` (the fallback's kill_all: the uid is this run's own)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    os.kill(int(entry), 9)
            except OSError:
                pass


def write_support_files(folder: Path) -> tuple[Path, Path]:
    """The torch blocker and a world-readable copy of the runner (the channel's
server end, standard library and IPython only), in ``folder``."""
    stub = folder / "torch_blocked.py"
    stub.write_text(BLOCKED_IMPORT, encoding="utf-8")
    runner = folder / "runner.py"
    shutil.copyfile(RUNNER, runner)
    written = [stub, runner]
    for path, text in withholding.blocked_stdlib_files().items():
        written.append(folder / f"blocked-{path.name}")
        written[-1].write_text(text, encoding="utf-8")
    for path in written:
        path.chmod(0o644)
    return stub, runner


def build_matplotlib_cache(folder: Path) -> Path | None:
    """A matplotlib config folder holding the font list, built once per run.

    Each sandbox starts with an empty home, where ``import matplotlib.pyplot``
    would scan every system font again (about 0.3 s a notebook); a copy of this
    folder spares that. None if it could not be built (then each sandbox scans)."""
    cache = folder / "matplotlib-cache"
    cache.mkdir(exist_ok=True)
    env = {"MPLCONFIGDIR": str(cache), "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin",
           "LANG": "C.UTF-8"}
    try:
        subprocess.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"],
                       env=env, check=True, timeout=300, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return cache if any(cache.glob("fontlist-*.json")) else None


def clean_environment() -> dict:
    """The environment for bwrap itself: nothing of the instructor's leaks in."""
    keep = {"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"}
    return keep


__all__ = ["Limits", "SandboxUnavailable", "bwrap_path", "bwrap_command", "set_limits",
           "Confinement", "allocate_uids", "confinement_in_force", "warn_if_no_cgroups",
           "build_matplotlib_cache",
           "write_support_files", "site_packages_binds", "PACKAGE_PARENT", "clean_environment", "drop_to"]
