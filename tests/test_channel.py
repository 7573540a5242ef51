"""channel.py against the real runner (a plain child process, no sandbox).

The runner is started once per test that needs a fresh one; learner code is
sent as cells, exactly as the grader does. The weakened-channel control shows
that what the Connection refuses would otherwise be believed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from microgradlab_grader import channel, sandbox


class Runner:
    """The runner as a child process, driven by a Connection (``connection``) under a
    Clock (``clock``, with ``limits`` such as ``requests_case`` or ``backstop``)."""

    def __init__(self, timeout_cell=20.0, timeout_notebook=60.0, clock=channel.Clock,
                 connection=channel.Connection, **limits):
        req_r, self.req_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(sandbox.RUNNER), f"fds:{req_r},{rep_w}"],
            pass_fds=(req_r, rep_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(req_r)
        os.close(rep_w)
        self.clock = clock(timeout_cell, timeout_notebook, **limits)
        self.conn = connection(self.req_w, self.rep_r, self.clock)

    def cell(self, source):
        self.clock.new_segment()
        return self.conn.request("run_cell", source=source)

    def close(self):
        self.process.kill()
        self.process.wait()
        os.close(self.req_w)
        os.close(self.rep_r)


@pytest.fixture
def runner():
    r = Runner()
    yield r
    r.close()


VALUE = """
class Value:
    def __init__(self, data, _children=(), _op=''):
        self.data = data; self.grad = 0.0; self._prev = tuple(_children); self._op = _op
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), '+')
    __radd__ = __add__
    def __rsub__(self, other):
        return Value(other - self.data, (self,), 'rsub')
"""


def test_proxies_keep_identity_and_run_operators_remotely(runner):
    runner.cell(VALUE)
    Value = runner.conn.request("name", name="Value")
    a = Value(2.0)
    b = a + a
    c = 3 - a
    assert channel.is_proxy(a) and a._mgl_kind == "Value"
    assert (b.data, c.data, (2 + a).data) == (4.0, 1.0, 4.0)
    assert b._prev[0] is a and b._prev[1] is a  # one object, one handle, one proxy
    assert len(b._prev) == 2 and list(b._prev) == [a, a]
    a.grad = 5.5
    assert a.grad == 5.5


def test_learner_exceptions_come_back_by_name(runner):
    runner.cell("def stub():\n    raise NotImplementedError('todo')\n"
                "def stop():\n    raise KeyboardInterrupt('no')\n")
    with pytest.raises(NotImplementedError, match="todo"):
        runner.conn.request("name", name="stub")()
    with pytest.raises(Exception) as caught:  # never a KeyboardInterrupt in the grader
        runner.conn.request("name", name="stop")()
    assert type(caught.value).__name__ == "KeyboardInterrupt"
    assert not isinstance(caught.value, KeyboardInterrupt)
    with pytest.raises(NameError):
        runner.conn.request("name", name="nothing_here")
    assert runner.conn.broken is None


def test_grader_functions_stay_here_and_are_called_back(runner):
    runner.cell("def slope(f, x, h):\n    return (f(x + h) - f(x)) / h\n")
    seen = []

    def f(x):
        seen.append(x)
        return x * x
    assert runner.conn.request("name", name="slope")(f, 3.0, 1.0) == 7.0
    assert seen == [4.0, 3.0]


def test_a_deep_learner_value_fails_that_request_only(runner):
    runner.cell("deep = []\nfor _ in range(5000):\n    deep = [deep]\n")
    with pytest.raises(ValueError, match="nested too deeply"):
        runner.conn.request("name", name="deep")
    assert runner.conn.broken is None
    runner.cell("x = 1.5")
    assert runner.conn.request("name", name="x") == 1.5


FAKE = ("import os, stat\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        if stat.S_ISFIFO(os.fstat(fd).st_mode):\n"
        "            os.write(fd, {line!r})\n"
        "    except OSError:\n"
        "        pass\n")


@pytest.mark.parametrize("line, why", [
    (b'{"event": "done"}\n', "neither a reply nor a callback"),
    (b'{"reply": 999, "value": 1}\n', "a reply to request 999"),
    (b'{"reply": 2, "value": ' + b"[" * 5000 + b"]" * 5000 + b"}\n", "nested more than"),
    (b'{"reply": 2, "value": "' + b"x" * 300_000 + b'"}\n', "too large|more than 262144 bytes"),
    (b'{"reply": 2, "value": nope}\n', "not valid JSON"),
], ids=["not-a-reply", "unknown-reply", "deep-nesting", "too-large", "not-json"])  # short ids:
# pytest puts a test's id in the environment of every process it starts (PYTEST_CURRENT_TEST)
def test_lines_out_of_protocol_break_the_channel(runner, line, why):
    runner.cell("x = 1")
    with pytest.raises(channel.ProtocolError, match=why):
        runner.cell(FAKE.format(line=line))
    with pytest.raises(channel.ProtocolError):  # and nothing after it is believed
        runner.conn.request("name", name="x")


def test_the_runner_never_sends_a_line_the_grader_refuses():
    from microgradlab_grader import runner as runner_module
    assert runner_module.MAX_LINE == channel.MAX_LINE
    assert runner_module.MAX_DEPTH < channel.MAX_DEPTH


def test_the_graders_clock_decides():
    r = Runner(timeout_cell=1.0)
    try:
        with pytest.raises(channel.ChannelTimeout, match="a cell ran longer than 1 s"):
            r.cell("import time\nprint('{\"event\": \"cell\"}')\ntime.sleep(30)\n")
        assert isinstance(r.conn.broken, channel.ChannelTimeout)
    finally:
        r.close()


class Believing(channel.Connection):
    """A deliberately weakened channel: it takes any reply as the one it waits for."""

    def _collect(self, number, shared):
        while True:
            reply = self._receive()
            if "reply" in reply:
                self.deferred.clear()
                return self._result(reply, shared)


def test_control_a_believing_channel_takes_a_forged_reply():
    r = Runner()
    try:
        r.conn = Believing(r.req_w, r.rep_r, r.clock)
        r.cell(VALUE + "def mul(a, b):\n    return a + b  # wrong\n")
        forge = FAKE.format(line=b'{"reply": 0, "value": 6.0}\n')
        r.cell("_real = mul\ndef mul(a, b):\n" + "".join(
            "    " + line + "\n" for line in forge.splitlines()) + "    return _real(a, b)\n")
        assert r.conn.request("name", name="mul")(2.0, 3.0) == 6.0  # forged
    finally:
        r.close()


# ---------------------------------------------------------------- arguments passed by value
CHANGES = """
def change(xs, d, s, pair):
    xs.append(4.0)
    xs[0] = -1.0
    d['new'] = [1, 2]
    del d['old']
    s.add('c')
    s.discard('a')
    pair[1].append('inner')
    return xs
def same(a, b):
    return a is b
def nested(rows):
    rows[0].append(9.0)
    rows.reverse()
def change_then_fail(xs):
    xs.clear()
    raise ValueError('after changing its argument')
def grow(ws):
    ws.append(Value(1.0))
def pop_all(ws):
    while ws:
        ws.pop()
"""


def test_arguments_changed_in_place_are_changed_here(runner):
    """What a learner's function does to a list, dict or set it was given is what the
    grader's own object holds afterwards, as in one process; identity holds too."""
    runner.cell(VALUE + CHANGES)
    xs, d, s, inner = [1.0, 2.0], {"old": 1}, {"a", "b"}, []
    back = runner.conn.request("name", name="change")(xs, d, s, (0, inner))
    assert (xs, d, s, inner) == ([-1.0, 2.0, 4.0], {"new": [1, 2]}, {"b", "c"}, ["inner"])
    assert back is xs  # it returned its argument: the grader's own list
    same = runner.conn.request("name", name="same")
    assert same(xs, xs) is True and same(xs, list(xs)) is False
    rows = [[1.0], [2.0]]
    first = rows[0]
    runner.conn.request("name", name="nested")(rows)
    assert rows == [[2.0], [1.0, 9.0]] and rows[1] is first
    with pytest.raises(ValueError, match="after changing"):
        runner.conn.request("name", name="change_then_fail")(xs)
    assert xs == []  # changed before it raised: changed here too
    Value = runner.conn.request("name", name="Value")
    ws = [Value(2.0)]
    kept = ws[0]
    runner.conn.request("name", name="grow")(ws)
    assert len(ws) == 2 and ws[0] is kept and ws[1].data == 1.0
    runner.conn.request("name", name="pop_all")(ws)
    assert ws == []
    assert runner.conn.broken is None


def test_a_grader_function_changes_the_learners_argument_as_in_one_process(runner):
    runner.cell("def use(fill):\n    mine = []\n    got = fill(mine)\n    return mine, got is mine\n")

    def fill(xs):
        xs.append(1.5)
        return xs
    assert runner.conn.request("name", name="use")(fill) == ([1.5], True)


class Forgetful(channel.Connection):
    """A deliberately weakened channel: it drops the arguments' state after a call."""

    def write_back(self, shared, states):
        pass


def test_control_without_write_back_a_change_in_place_is_lost():
    r = Runner(connection=Forgetful)
    try:
        r.cell(CHANGES)
        xs = [1.0, 2.0]
        r.conn.request("name", name="change")(xs, {"old": 1}, set(), (0, []))
        assert xs == [1.0, 2.0]  # the learner's change happened to a copy nobody reads
    finally:
        r.close()


# The runner's own Server, found from learner code, made to give back other states.
FORGE_STATES = ("import gc\n"
                "_server = next(o for o in gc.get_objects() if type(o).__name__ == 'Server')\n"
                "type(_server).states = lambda self, shared: {states}\n"
                "def touch(xs, d):\n    xs.append(1.0)\n")


@pytest.mark.parametrize("states, why", [
    ("None", "does not give back the 2 argument"),
    ("[{'t': 'list', 'v': [99]}]", "does not give back the 2 argument"),
    ("[{'t': 'list', 'v': [99]}, {'t': 'list', 'v': []}]", "a dict sent by value as something"),
    ("[{'t': 'list', 'v': [{'t': 'same', 'n': 7}]}, {'t': 'dict', 'v': []}]",
     "never sent"),
    ("[{'t': 'list', 'v': []}, {'t': 'dict', 'v': [[{'t': 'same', 'n': 1}, 1]]}]",
     "a malformed dict"),
    ("[{'t': 'list', 'v': []}, {'t': 'dict', 'v': [[1]]}]", "not a pair"),
])
def test_arguments_given_back_in_another_shape_are_a_protocol_error(runner, states, why):
    runner.cell(FORGE_STATES.format(states=states))
    xs = [1.0]
    with pytest.raises(channel.ProtocolError, match=why):
        runner.conn.request("name", name="touch")(xs, {})
    assert xs == [1.0]  # nothing is written unless every state fits
    with pytest.raises(channel.ProtocolError):
        runner.conn.request("name", name="touch")


# ---------------------------------------------------------------- one budget per submission
FLOOD = ("def flood(f, n):\n    for _ in range(n):\n        f(1.0)\n    return n\n"
         "def keep(f):\n    global kept\n    kept = f\n")


def test_a_callback_flood_stops_at_the_case_cap():
    r = Runner(requests_case=500)
    try:
        r.cell(FLOOD)
        flood = r.conn.request("name", name="flood")
        r.clock.new_segment()
        with pytest.raises(channel.ProtocolError,
                           match="more than 500 requests in one cell or case .callbacks"):
            flood(lambda x: x, 5000)
        assert r.clock.requests < 520
    finally:
        r.close()


def test_a_grader_function_kept_and_flooded_from_a_later_cell_stops_at_the_cap():
    r = Runner(requests_case=500)
    try:
        r.cell(FLOOD)
        r.conn.request("name", name="keep")(lambda x: x)
        with pytest.raises(channel.ProtocolError, match="more than 500 requests in one cell"):
            r.cell("for _ in range(5000):\n    kept(1.0)\n")
    finally:
        r.close()


def test_the_notebook_cap_counts_every_segment():
    r = Runner(requests_case=10_000, requests_notebook=1000)
    try:
        r.cell(FLOOD)
        flood = r.conn.request("name", name="flood")
        for _ in range(2):
            r.clock.new_segment()
            assert flood(lambda x: x, 400) == 400
        r.clock.new_segment()
        with pytest.raises(channel.ProtocolError, match="more than 1000 requests in the notebook"):
            flood(lambda x: x, 400)
    finally:
        r.close()


def test_control_within_the_caps_the_same_flood_finishes():
    r = Runner()
    try:
        r.cell(FLOOD)
        flood = r.conn.request("name", name="flood")
        r.clock.new_segment()
        assert flood(lambda x: x, 5000) == 5000
        assert r.clock.busiest >= 5000 and r.conn.broken is None
    finally:
        r.close()


def expensive(x):
    """A grader function that costs the grader ~20 ms of CPU a call (and the learner nothing)."""
    return float(sum(i * i for i in range(300_000))) * 0 + x


class WaitOnlyClock(channel.Clock):
    """A deliberately weakened clock: it charges only the waits for the sandbox."""

    def grader_cpu(self, now=None):
        return 0.0


def test_the_graders_work_for_a_submission_is_charged_to_it():
    r = Runner(timeout_cell=1.0)
    try:
        r.cell(FLOOD)
        flood = r.conn.request("name", name="flood")
        r.clock.new_segment()
        cpu = time.thread_time()
        with pytest.raises(channel.ChannelTimeout, match="a cell ran longer than 1 s"):
            flood(expensive, 150)
        assert time.thread_time() - cpu < 1.5  # stopped once the budget was spent
    finally:
        r.close()


def test_control_charging_only_the_waits_lets_the_same_cell_finish():
    r = Runner(timeout_cell=1.0, clock=WaitOnlyClock)
    try:
        r.cell(FLOOD)
        flood = r.conn.request("name", name="flood")
        r.clock.new_segment()
        cpu = time.thread_time()
        assert flood(expensive, 150) == 150
        assert time.thread_time() - cpu > 1.0  # the grader worked longer than the budget
    finally:
        r.close()


def test_other_threads_work_is_not_charged():
    """CPU time is this thread's: a thread that hogs the GIL beside it (another
    submission's producer) makes the wall time longer, not the charge."""
    clock = channel.Clock(60.0, 600.0)
    stop = threading.Event()

    def hog():
        while not stop.is_set():
            sum(range(1000))
    thread = threading.Thread(target=hog)
    wall, cpu = time.monotonic(), time.thread_time()
    thread.start()
    try:
        total = 0
        for i in range(3_000_000):
            total += i
        charged = clock.charged()
        wall, cpu = time.monotonic() - wall, time.thread_time() - cpu
    finally:
        stop.set()
        thread.join()
    assert charged == pytest.approx(cpu, abs=0.05)
    assert wall > 1.4 * charged, (wall, charged)


def test_the_wall_clock_backstop_ends_a_submission_whatever_the_charge():
    r = Runner(backstop=1.0)
    try:
        r.cell("x = 1")
        time.sleep(1.2)  # neither a wait for the sandbox nor work: never charged
        assert r.clock.charged() < 1.0
        with pytest.raises(channel.ChannelTimeout,
                           match="held its worker for more than 1 s of wall time"):
            r.conn.request("name", name="x")
    finally:
        r.close()


def test_the_worker_slot_is_lent_on_charged_time():
    lent = []
    clock = channel.Clock(60.0, 600.0, lend_after=0.3, on_long_cell=lambda: lent.append(1))
    time.sleep(0.4)
    assert clock.spend(1) is None and lent == []  # idle time is not the submission's
    cpu = time.thread_time()
    while time.thread_time() - cpu < 0.4:
        pass
    assert clock.spend(1) is None and lent == [1]
