"""channel.py against the real runner (a plain child process, no sandbox).

The runner is started once per test that needs a fresh one; learner code is
sent as cells, exactly as the grader does. The weakened-channel control shows
that what the Connection refuses would otherwise be believed.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from microgradlab_grader import channel, sandbox


class Runner:
    def __init__(self, timeout_cell=20.0, timeout_notebook=60.0):
        req_r, self.req_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(sandbox.RUNNER), f"fds:{req_r},{rep_w}"],
            pass_fds=(req_r, rep_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(req_r)
        os.close(rep_w)
        self.clock = channel.Clock(timeout_cell, timeout_notebook)
        self.conn = channel.Connection(self.req_w, self.rep_r, self.clock)

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
])
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
