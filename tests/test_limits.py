"""Limits per submission, tried for real: cgroups, a capped scratch, leased uids.

Each attack is a real 02_value notebook whose own work is WRONG (``__mul__``
adds) and that *repairs* its work only when the attack gets through, as in
tests/fixtures/hostile: 3 points mean the limit did not hold, 0 (or a row that
is not graded) mean it did. Each family has a control graded with the limit
switched off (``Limits(cgroups=False, scratch_bytes=None)``, the
per-process rlimits path) where the same notebook scores 3, so every test can fail.

Needs root and a cgroup (v1 or v2) this process may write; skips otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from hostile import FULL, NOTEBOOK, REPAIR, Hostile, build  # noqa: E402

from microgradlab_grader import cgroups, sandbox, uids  # noqa: E402
from microgradlab_grader.batch import grade_class  # noqa: E402
from microgradlab_grader.grading import Settings  # noqa: E402
from microgradlab_grader.report import read_csv  # noqa: E402
from microgradlab_grader.submissions import find_submissions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
GIB = 1024**3
BOMB = "mglab-l11-bomb"   # the fork bombs' children rename themselves to this

HAVE_CGROUPS = bool(cgroups.support().version)
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="cgroups and sandbox uids need root here"),
    pytest.mark.skipif(not HAVE_CGROUPS, reason=f"no usable cgroups: {cgroups.support().reason}"),
    pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bwrap is not installed"),
    # Its memory attacks hold gigabytes: one xdist worker, beside nothing else of its own.
    pytest.mark.xdist_group("limits"),
]

# Each attack's cell, run just before the graded test cell. ``REPAIR`` runs only on success.
ATTACKS = {
    # Three processes of 0.9 GiB each: 2.7 GiB under a 2 GiB cap per submission.
    "three-processes": """
        import os, time
        def hold(size):
            read_end, write_end = os.pipe()
            if os.fork() == 0:
                try:
                    block = bytearray(size)
                    for i in range(0, size, 4096):
                        block[i] = 1
                    os.write(write_end, b"1")
                except MemoryError:
                    os.write(write_end, b"0")
                time.sleep(120)
                os._exit(0)
            os.close(write_end)
            return read_end
        ends = [hold(int(0.9 * 1024**3)) for _ in range(3)]
        if sum(os.read(end, 1) == b"1" for end in ends) == 3:
            REPAIR
        """,
    # 2 GiB in memfds, written (never mapped: no address space), 64 MiB each (under RLIMIT_FSIZE).
    "memfd": """
        import os
        chunk, written, fds = b"\\1" * (16 * 1024**2), 0, []
        try:
            for _ in range(32):
                fds.append(os.memfd_create("hog"))
                for _ in range(4):
                    written += os.write(fds[-1], chunk)
        except OSError:
            pass
        if written >= 2 * 1024**3:
            REPAIR
        """,
    # 768 MiB of files in /scratch (each file under RLIMIT_FSIZE's 64 MiB).
    "disk-fill": """
        written = 0
        try:
            for i in range(12):
                with open(f"/scratch/fill-{i}", "wb") as handle:
                    for _ in range(4):
                        written += handle.write(b"\\1" * (16 * 1024**2))
        except OSError:
            pass
        if written >= 768 * 1024**2:
            REPAIR
        """,
}


def attack_notebook(name: str):
    cell = textwrap.dedent(ATTACKS[name]).replace("REPAIR", REPAIR)
    return build(Hostile(name, "wrong", before_test=cell), SOLUTIONS)


def grade(folder: Path, students: dict, limits: sandbox.Limits) -> dict:
    """Grade ``students`` (name -> notebook) with ``limits``; the rows by student."""
    for student, notebook in students.items():
        path = folder / student / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, str(path))
    settings = Settings(timeout_cell=60, timeout_notebook=120, limits=limits, lend_after=30)
    grades = grade_class(find_submissions(folder, [NOTEBOOK]), [NOTEBOOK], SOLUTIONS, settings,
                         workers=2, seed=7)
    return {g.student: g for g in grades}


def points(grade) -> float | None:
    return grade.score


def our_groups() -> list[Path]:
    """cgroup folders this test process (and so its grader) made and left behind."""
    left = []
    for parent in set(cgroups.support().parents.values()):
        left += list(parent.glob(f"mglab-{os.getpid()}-*"))
    return left


@pytest.fixture(scope="module")
def confined(tmp_path_factory, jupyter_env):
    """The attacks and a correct notebook, graded with the default limits."""
    students = {name: attack_notebook(name) for name in ATTACKS}
    students["honest"] = build(Hostile("honest", "correct"), SOLUTIONS)
    return grade(tmp_path_factory.mktemp("confined"), students, sandbox.Limits())


@pytest.fixture(scope="module")
def unconfined(tmp_path_factory, jupyter_env):
    """The same attacks with cgroups and the scratch cap switched off (per-process rlimits only)."""
    students = {name: attack_notebook(name) for name in ATTACKS}
    return grade(tmp_path_factory.mktemp("unconfined"), students,
                 sandbox.Limits(cgroups=False, scratch_bytes=None))


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_the_attack_gets_nothing_under_the_limits(confined, name):
    row = confined[name]
    # Killed (kernel_died) or its allocations refused (graded, wrong work: 0): never 3.
    assert row.status in ("graded", "kernel_died"), (row.status, row.detail)
    assert not points(row), (name, row.status, row.verdicts)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_control_the_attack_works_without_the_limits(unconfined, name):
    row = unconfined[name]
    assert row.status == "graded", (row.status, row.detail)
    assert points(row) == FULL, (name, "the attack failed even without the limit")


def test_the_rest_of_the_class_is_unharmed(confined):
    assert confined["honest"].status == "graded"
    assert points(confined["honest"]) == FULL


def test_no_group_is_left_behind(confined, unconfined):
    assert our_groups() == []


# ------------------------------------------------------------------ one Confinement, directly
FORK_BOMB = f"""
import os, sys, time
made = 0
for _ in range(150):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        open('/proc/self/comm', 'w').write({BOMB!r})
        time.sleep(600)
        os._exit(0)
    made += 1
print(made, flush=True)
time.sleep(600)
"""


def bomb_processes() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == BOMB:
                found.append(int(entry))
        except OSError:
            pass
    return found


def run_bomb(limits: sandbox.Limits) -> tuple[int, sandbox.Confinement, list[int]]:
    """Start the bomb as root (RLIMIT_NPROC does not hold for root: only a cgroup can
    cap it); its count of children, the Confinement, and the live bomb pids."""
    confinement = sandbox.Confinement(limits)
    process = subprocess.Popen([sys.executable, "-c", FORK_BOMB], stdout=subprocess.PIPE,
                               preexec_fn=confinement.preexec, start_new_session=True)
    made = int(process.stdout.readline() or 0)
    alive = bomb_processes()
    confinement.kill_all()
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the control's clean-up (no group there)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)
    return made, confinement, alive


def test_fork_bomb_is_capped_and_nothing_survives():
    made, confinement, _ = run_bomb(sandbox.Limits(processes=40))
    group = confinement.group
    assert group is not None
    folders = list(group.folders)
    try:
        assert made < 40, f"{made} children under a cap of 40 processes"
        # Every child is gone after kill_all, although none was in the process group
        # we could have signalled had they left it (each could have called setsid).
        deadline = time.monotonic() + 5
        while bomb_processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bomb_processes() == []
        assert group.pids() == []
    finally:
        confinement.close()
    assert folders and not any(folder.exists() for folder in folders)


def test_control_fork_bomb_without_cgroups_is_not_capped():
    made, confinement, alive = run_bomb(sandbox.Limits(processes=40, cgroups=False))
    try:
        assert confinement.group is None and confinement.mechanism == "rlimits"
        assert made == 150, "the control bomb should not be capped at all"
    finally:
        for pid in alive + bomb_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_memory_cap_counts_shared_memory():
    """A tmpfs file (shared memory) is charged to the group: 300 MiB under a 256 MiB cap fails."""
    script = ("import os\nfd = os.memfd_create('x')\nchunk = b'1' * (1 << 20)\n"
              "for _ in range(300):\n    os.write(fd, chunk)\nprint('wrote all')\n")
    limits = sandbox.Limits(memory_bytes=256 * 1024**2, file_bytes=1 << 30)
    with sandbox.Confinement(limits) as confinement:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              preexec_fn=confinement.preexec, timeout=60)
    assert "wrote all" not in done.stdout
    assert confinement.hit_memory_cap
    assert confinement.memory_peak is not None and confinement.memory_peak <= 256 * 1024**2
    with sandbox.Confinement(sandbox.Limits(memory_bytes=256 * 1024**2, file_bytes=1 << 30,
                                            cgroups=False)) as control:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              preexec_fn=control.preexec, timeout=60)
    assert "wrote all" in done.stdout, done.stderr[-500:]


# ------------------------------------------------------------------ scratch
def sandboxed(script: str, scratch: Path, limits: sandbox.Limits, uid: int) -> str:
    """Run ``script`` with python in the real bwrap sandbox as ``uid``; its stdout."""
    support = Path(tempfile.mkdtemp(prefix="mglab-l11-support-"))
    try:
        stub, runner = sandbox.write_support_files(support)
        (support / "script.py").write_text(script)
        (support / "script.py").chmod(0o644)
        cmd = sandbox.bwrap_command(scratch, sandbox.package_mount_point(), support / "script.py",
                                    stub, "/scratch/job.json", uid=uid,
                                    scratch_bytes=limits.scratch_bytes)
        with sandbox.Confinement(limits, uid) as confinement:
            done = subprocess.run(cmd, env=sandbox.clean_environment(), capture_output=True,
                                  text=True, preexec_fn=confinement.preexec, timeout=60)
        return done.stdout + done.stderr[-800:]
    finally:
        subprocess.run(["rm", "-rf", str(support)], check=False)


SCRATCH_PROBE = """
import json, os, sys
print("job:", open("/scratch/job.json").read().strip())
try:
    open("/scratch/job.json", "w").write("rewritten")
    print("job writable")
except OSError:
    print("job read-only")
written = 0
try:
    for i in range(8):
        with open(f"/scratch/fill-{i}", "wb") as f:
            for _ in range(4):
                written += f.write(b"1" * (16 * 1024**2))
except OSError:
    pass
print("written", written)
tmp = 0
try:
    with open("/tmp/fill", "wb") as f:
        for _ in range(4):
            tmp += f.write(b"1" * (16 * 1024**2))
except OSError:
    pass
print("tmp", tmp)
"""


def test_scratch_is_a_capped_tmpfs_and_the_host_folder_stays_clean(tmp_path):
    host = tmp_path / "scratch"
    host.mkdir()
    (host / "job.json").write_text('{"from": "the grader"}')
    (host / "job.json").chmod(0o644)
    os.chmod(host, 0o755)
    limits = sandbox.Limits(scratch_bytes=100 * 1024**2)
    with uids.allocate_uids(1) as (uid,):
        out = sandboxed(SCRATCH_PROBE, host, limits, uid)
    assert 'job: {"from": "the grader"}' in out, out
    assert "job read-only" in out
    written = int(out.split("written ")[1].split()[0])
    assert 0 < written <= 100 * 1024**2, out
    tmp = int(out.split("tmp ")[1].split()[0])
    assert tmp == 64 * 1024**2, out            # /tmp is its own tmpfs, usable
    # Nothing the sandbox wrote is in the host folder.
    assert sorted(p.name for p in host.iterdir()) == ["job.json"]
    assert json.loads((host / "job.json").read_text()) == {"from": "the grader"}


def test_control_scratch_without_a_cap_takes_what_it_writes(tmp_path):
    host = tmp_path / "scratch"
    host.mkdir()
    os.chmod(host, 0o755)
    (host / "job.json").write_text("{}")
    (host / "job.json").chmod(0o644)
    with uids.allocate_uids(1) as (uid,):
        out = sandboxed(SCRATCH_PROBE, host, sandbox.Limits(scratch_bytes=None, cgroups=False),
                        uid)
    assert int(out.split("written ")[1].split()[0]) == 8 * 64 * 1024**2, out


# ------------------------------------------------------------------ uids per grading run
# These leases use a lock folder of their own, and a part of the uid range that no run
# reaches, so the sandboxes of runs on other test workers (leased from the real folder,
# from UID_FIRST up) never hold one of these uids.
APART = 900_000
HOLDER = f"""
import json, sys, time
from microgradlab_grader import uids
uids.UID_FIRST += {APART}
with uids.allocate_uids(3, folder=sys.argv[1]) as held:
    print(json.dumps(held), flush=True)
    time.sleep(600)
"""


def test_two_runs_lease_different_uids_and_a_crash_frees_them(tmp_path, monkeypatch):
    monkeypatch.setattr(uids, "UID_FIRST", uids.UID_FIRST + APART)
    folder = tmp_path / "locks"
    holders = [subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)],
                                stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        first, second = (set(json.loads(h.stdout.readline())) for h in holders)
        assert len(first) == len(second) == 3
        assert not first & second
        assert all(uids.UID_FIRST <= u < uids.UID_FIRST + uids.UID_COUNT for u in first | second)
        holders[0].kill()                       # a crash: no clean-up runs
        holders[0].wait(timeout=10)
        with uids.allocate_uids(3, folder=folder) as third:
            assert set(third) == first          # the dead run's uids come back
    finally:
        for holder in holders:
            holder.kill()
            holder.wait(timeout=10)


def test_lock_folder_must_be_root_only(tmp_path):
    folder = tmp_path / "open"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    with pytest.raises(PermissionError, match="root only"):
        with uids.allocate_uids(1, folder=folder):
            pass


RUN_CLASS = """
import sys
from microgradlab_grader import cli
sys.exit(cli.main(["grade", sys.argv[1], "--out", sys.argv[2], "--notebooks", "02_value",
                   "--workers", "2", "--seed", "3", "--no-progress"]))
"""


def sandbox_uids_by_run(runs: list[subprocess.Popen]) -> list[dict[int, set[int]]]:
    """Poll until the runs end: for each moment, grader pid -> uids of its live sandboxes."""
    moments = []
    while any(run.poll() is None for run in runs):
        moment: dict[int, set[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                text = Path(f"/proc/{entry}/cgroup").read_text()
                owner = os.stat(f"/proc/{entry}").st_uid
            except OSError:
                continue
            for run in runs:
                if f"/mglab-{run.pid}-" in text and owner >= uids.UID_FIRST:
                    moment.setdefault(run.pid, set()).add(owner)
        if len(moment) == len(runs):
            moments.append(moment)
        time.sleep(0.05)
    return moments


def test_two_grading_runs_at_once_use_different_uids(tmp_path, jupyter_env):
    slow = "import time\ntime.sleep(4)\n"   # long enough for both runs to overlap
    runs, outs = [], []
    for number in range(2):
        folder = tmp_path / f"class{number}"
        for student, work in (("right", "correct"), ("wrong", "wrong")):
            path = folder / student / f"{NOTEBOOK}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(build(Hostile(student, work, before_test=slow), SOLUTIONS), str(path))
        outs.append(tmp_path / f"out{number}")
        runs.append(subprocess.Popen([sys.executable, "-c", RUN_CLASS, str(folder),
                                      str(outs[-1])], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))
    moments = sandbox_uids_by_run(runs)
    for run in runs:
        said = run.stdout.read() + run.stderr.read()   # the summary lines go to stderr
        assert run.returncode == 0, said[-2000:]
        assert "limits per submission: cgroup v" in said
    assert moments, "the two runs never had sandboxes alive at the same time"
    for moment in moments:
        first, second = moment.values()
        assert not first & second, moment
    for out in outs:
        rows = {row["student"]: row for row in read_csv(out / "grades.csv")}
        assert rows["right"]["status"] == rows["wrong"]["status"] == "graded"
        assert float(rows["right"]["score"]) == FULL
        assert float(rows["wrong"]["score"]) == 0.0


# ------------------------------------------------------------------ the fallback
FALLBACK = """
from microgradlab_grader import sandbox
for _ in range(3):
    sandbox.warn_if_no_cgroups()
    with sandbox.Confinement(sandbox.Limits()) as confinement:
        assert confinement.group is None and confinement.mechanism == "rlimits"
print(sandbox.confinement_in_force())
"""


def test_without_cgroups_it_says_so_once_and_falls_back_to_rlimits():
    done = subprocess.run([sys.executable, "-c", FALLBACK], capture_output=True, text=True,
                          env=dict(os.environ, MICROGRADLAB_NO_CGROUPS="1"), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, done.stderr
    assert "no per-submission limits" in warnings[0]
    assert "per-process rlimits only" in done.stdout


def test_a_sandbox_without_a_host_scratch_folder_still_gets_its_tmpfs():
    """The channel runner sends cells over a pipe: no host folder is bound at all."""
    stub_folder = Path(tempfile.mkdtemp(prefix="mglab-l11-stub-"))
    try:
        stub, runner = sandbox.write_support_files(stub_folder)
        cmd = sandbox.bwrap_command(None, sandbox.package_mount_point(), runner, stub, "-",
                                    uid=1, scratch_bytes=1 << 20)
    finally:
        subprocess.run(["rm", "-rf", str(stub_folder)], check=False)
    joined = " ".join(cmd)
    assert "--size 1048576 --tmpfs /scratch" in joined
    assert "--size 1048576 --tmpfs /tmp" in joined
    assert "--bind " not in joined.replace("--ro-bind ", "")
