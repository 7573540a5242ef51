"""Nothing reachable in a notebook's sandbox earns a point for a graded piece.

For each notebook's sandbox (the real bwrap sandbox and runner, the package
withholding.build_package generated for it), a cell walks every callable the
generated package lets a learner reach: its modules, their classes and class
members, instances' bound methods, functions' globals, closures and defaults,
and the callables held in containers (the op table's forward and local
functions). Each one, wrapped the way a cheat would wrap it (a function of their
own calling it, or a subclass), is then bound to every ``uses`` name of every
exercise of that notebook, and graded through the real channel and the real
producers (grading.grade_here, grading.score). All score 0. A later notebook's
exercises are not tried here: its sandbox holds everything this one holds (the
gives are cumulative, which a test below pins), so its own session tries every
callable this one could offer.

The control widens one entry of the table (notebook 03 handing on ``backward``
and its walk) and shows that the same search then finds a callable that scores
on ``ex04_backward``: the test can fail.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

import pytest

from microgradlab import checking
from microgradlab.exercises import NOTEBOOKS, exercises_of, gives
from microgradlab_grader import batch, channel, grading, sandbox, uids, withholding

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bwrap is not installed")]

ROOT = Path(__file__).resolve().parent.parent
FIRST_CASES = 3  # a candidate that fails one of these fails the exercise; else all cases run

ENUMERATE = r'''
import importlib, pkgutil, types, functools
import microgradlab as _pkg

def _mgl_reach():
    seen, found, todo = set(), [], []

    def ours(obj):
        name = getattr(obj, "__module__", None) or getattr(obj, "__name__", "")
        return isinstance(name, str) and name.startswith("microgradlab")

    def push(obj, depth):
        if id(obj) not in seen and depth < 8:
            seen.add(id(obj))
            todo.append((obj, depth))

    push(_pkg, 0)
    for info in pkgutil.walk_packages(_pkg.__path__, "microgradlab."):
        try:
            push(importlib.import_module(info.name), 0)
        except Exception:
            pass
    while todo and len(found) < 2000:
        obj, depth = todo.pop()
        if isinstance(obj, types.ModuleType):
            if ours(obj):
                for value in list(vars(obj).values()):
                    push(value, depth + 1)
            continue
        if callable(obj):
            found.append(obj)
        if isinstance(obj, type):
            if not ours(obj):
                continue
            for value in list(vars(obj).values()):
                push(value, depth + 1)
            for args in ((1.5,), (), (2,), ([1.0, 2.0],)):
                try:
                    instance = obj(*args)
                except Exception:
                    continue
                push(instance, depth + 1)
                try:
                    push(instance * instance + instance, depth + 1)  # a node with inputs
                except Exception:
                    pass
                break
        elif isinstance(obj, (types.FunctionType, types.LambdaType)):
            for value in (obj.__defaults__ or ()) + tuple((obj.__kwdefaults__ or {}).values()):
                push(value, depth + 1)
            for cell in obj.__closure__ or ():
                try:
                    push(cell.cell_contents, depth + 1)
                except ValueError:
                    pass
            if ours(obj):
                for value in list(obj.__globals__.values()):
                    push(value, depth + 1)
        elif isinstance(obj, (staticmethod, classmethod)):
            push(obj.__func__, depth + 1)
        elif isinstance(obj, property):
            for f in (obj.fget, obj.fset, obj.fdel):
                if f is not None:
                    push(f, depth + 1)
        elif isinstance(obj, functools.partial):
            push(obj.func, depth + 1)
            for value in obj.args:
                push(value, depth + 1)
        elif isinstance(obj, types.MethodType):
            push(obj.__func__, depth + 1)
        elif isinstance(obj, dict):
            for value in list(obj.values()):
                push(value, depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for value in list(obj)[:100]:
                push(value, depth + 1)
        if ours(type(obj)) and not isinstance(obj, type):
            for name in dir(obj):
                try:
                    push(getattr(obj, name), depth + 1)
                except Exception:
                    pass
    return found

_mgl_candidates = _mgl_reach()
_mgl_count = len(_mgl_candidates)
_mgl_names = [repr(c)[:100] for c in _mgl_candidates]
'''

# A cheat's own wrapper around candidate i: a subclass of a class, else a function.
WRAP = '''
_mgl_c = _mgl_candidates[{i}]
_mgl_w = None
if isinstance(_mgl_c, type):
    try:
        _mgl_w = type(getattr(_mgl_c, "__name__", "W"), (_mgl_c,), {{}})
    except Exception:
        _mgl_w = None
if _mgl_w is None:
    _mgl_w = (lambda c: lambda *a, **k: c(*a, **k))(_mgl_c)
{assign} = _mgl_w
'''


class Session:
    """One notebook's real sandbox and runner, driven over the real channel."""

    def __init__(self, plan, stack: ExitStack):
        self.plan, self.stack = plan, stack
        self.start()

    def start(self):
        self.scratch = Path(tempfile.mkdtemp(prefix="mglab-reach-"))
        os.chmod(self.scratch, 0o777)
        # None when not root: the sandbox runs as the caller's own user.
        self.uid = self.stack.enter_context(uids.allocate_uids(1))[0]
        requests_read, requests_write = os.pipe()
        replies_read, replies_write = os.pipe()
        cmd = sandbox.bwrap_command(self.scratch, self.plan.package_copy, self.plan.runner,
                                    self.plan.torch_stub, f"fds:{requests_read},{replies_write}",
                                    uid=self.uid, scratch_bytes=1 << 26)
        self.confinement = sandbox.Confinement(sandbox.Limits(), self.uid)
        self.process = subprocess.Popen(
            cmd, env=sandbox.clean_environment(), cwd=self.scratch, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(requests_read, replies_write), preexec_fn=self.confinement.preexec,
            start_new_session=True)
        os.close(requests_read)
        os.close(replies_write)
        self.fds = (requests_write, replies_read)
        self.conn = channel.Connection(requests_write, replies_read,
                                       channel.Clock(60.0, 10.0**6))
        self.conn.request("run_cell", source=ENUMERATE)
        self.count = self.conn.request("name", name="_mgl_count")
        self.names = list(self.conn.request("name", name="_mgl_names"))

    def stop(self):
        grading._kill(self.process)
        self.confinement.close()
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        subprocess.run(["rm", "-rf", str(self.scratch)], check=False)

    def points(self, i: int, plan, exercise) -> float:
        """What candidate i, bound to every name the exercise uses, earns there."""
        cell = next(c for c in plan.source.graded if c.grade_id == exercise.id)
        for first in (FIRST_CASES, None):
            cases = plan.cases[exercise.id][:first]
            short = dataclasses.replace(plan, cases={exercise.id: cases},
                                        expected={exercise.id: plan.expected[exercise.id][:first]})
            self.conn.clock.new_segment()
            try:
                self.conn.request("run_cell", source=WRAP.format(
                    i=i, assign=" = ".join(exercise.uses)))
                results = {}
                grading.grade_here(exercise, short, self.conn, results, {"now": ""})
            except channel.ChannelBroken:  # a timeout or a crash scores nothing
                self.stop()
                self.start()
                return 0.0
            verdict = grading.score(cell, short, results)
            if not verdict.passed:
                return 0.0
        return verdict.points


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    work = tmp_path_factory.mktemp("mglab-reach")
    os.chmod(work, 0o755)
    return batch.make_plans(list(NOTEBOOKS), ROOT / "solutions", 1, work, checking.expected)


def scoring_candidates(notebook: str, plans: dict, package: Path | None = None,
                       only: str | None = None) -> list:
    """(candidate, exercise) pairs that earn points in ``notebook``'s sandbox (on the
    exercise ``only`` when given, else on every exercise of the notebook)."""
    plan = plans[notebook]
    if package is not None:
        plan = dataclasses.replace(plan, package_copy=package)
    scored = []
    with ExitStack() as stack:
        session = Session(plan, stack)
        stack.callback(lambda: session.stop())
        assert session.count > 0
        for i in range(session.count):
            for exercise in exercises_of(notebook):
                if only is not None and exercise.id != only:
                    continue
                if session.points(i, plan, exercise) > 0:
                    scored.append((session.names[i], exercise.id))
    return scored, session.count


def test_each_sandbox_holds_what_the_one_before_holds():
    """What lets each session try its own notebook's exercises alone: a callable
    reachable in notebook k's sandbox is reachable in every later one too."""
    for earlier, later in zip(NOTEBOOKS, NOTEBOOKS[1:]):
        before, after = gives.given_before(earlier), gives.given_before(later)
        for module, names in before.items():
            assert set(names) <= set(after.get(module, ())), (earlier, later, module)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_reachable_callable_scores(plans, notebook):
    scored, count = scoring_candidates(notebook, plans)
    print(f"{notebook}: {count} callables tried")
    assert scored == [], scored


def test_the_search_finds_a_scoring_callable_when_the_table_hands_out_too_much(
        plans, tmp_path, gives_with):
    """Control: notebook 03 handing on backward() (and the walk it runs on) lets the
    sandbox of 04 reach the reference backward, which scores on ex04_backward."""
    extra = gives.EXTRA_GIVES
    gives_with({"03_operations": {
        **extra["03_operations"],
        "engine": extra["03_operations"]["engine"] + ("Value.backward",
                                                      "_interior_nodes_output_first"),
        "graph": extra["04_backward"]["graph"]}})
    os.chmod(tmp_path, 0o755)
    widened = withholding.build_package("04_backward", tmp_path / "wide" / "microgradlab")
    scored, _ = scoring_candidates("04_backward", plans, widened, only="ex04_backward")
    assert any(exercise == "ex04_backward" for _, exercise in scored), scored
