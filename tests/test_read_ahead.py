"""Fewer round trips (channel.py, runner.py).

Reads ahead: a graph walk through the channel asks the sandbox a few times
instead of once a node, and sees exactly what it would have seen asking each
time. Replies read later (setattr) never pile up past what a pipe holds.

Against the real runner (a plain child process), driven as the grader drives it.
"""
from __future__ import annotations

import pytest

from microgradlab import graph
from microgradlab_grader import channel

from test_channel import VALUE, Runner

CHAIN = "x = Value(0.5)\nn = x\nnodes = [x]\nfor i in range(2000):\n    n = n + 0.001\n    nodes.append(n)\n"


@pytest.fixture
def runner():
    r = Runner()
    r.cell(VALUE)
    yield r
    r.close()


def sent(runner) -> int:
    return runner.conn.sent


def test_a_deep_walk_asks_a_few_times_and_sees_the_same_graph(runner):
    runner.cell(CHAIN)
    root = runner.conn.request("name", name="n")
    before_sent, before_counted = sent(runner), runner.clock.requests
    order = graph.walk(root).order
    assert len(order) == 4001          # 2001 chain nodes and 2000 constants
    assert sent(runner) - before_sent < 40
    # Every read is still counted (and charged) as a request: the caps mean the same.
    assert runner.clock.requests - before_counted == 4001
    expected = list(runner.conn.request("name", name="nodes"))
    chain = [node for node in order if node in set(expected)]
    assert chain == expected           # inputs first, the same proxies


def test_control_without_reading_ahead_every_read_is_a_request(runner, monkeypatch):
    monkeypatch.setattr(channel, "FIRST_FOLLOW", 0)   # no read is ever asked ahead
    runner.conn.follow_size = 0
    runner.cell(CHAIN)
    root = runner.conn.request("name", name="n")
    before = sent(runner)
    graph.walk(root)
    assert sent(runner) - before == 4001


def test_a_change_made_by_a_call_is_seen_after_it(runner):
    runner.cell("def rewire(a, b):\n    a._prev = (b,)\n")
    runner.cell("a = Value(1.0); b = Value(2.0); c = a + b; d = c + 1.0")
    d, a, b = (runner.conn.request("name", name=n) for n in "dab")
    c = d._prev[0]
    assert c._prev == (a, b)           # the second read in a row: a's and b's read ahead
    assert (a._mgl_handle, "_prev") in runner.conn.ahead
    runner.conn.request("name", name="rewire")(a, b)  # learner code ran: all dropped
    assert a._prev == (b,)


def test_a_property_is_never_read_ahead_and_runs_when_asked(runner):
    runner.cell("""
class Counted:
    reads = 0
    def __init__(self, prev=()):
        self._kids = tuple(prev)
    @property
    def _prev(self):
        Counted.reads += 1
        return self._kids
leaf = Counted(); mid = Counted((leaf,)); top = Counted((mid,))
""")
    top = runner.conn.request("name", name="top")
    assert len(graph.walk(top).order) == 3
    # Three nodes, each read once, when asked: never ahead of time.
    assert runner.conn.request("name", name="Counted").reads == 3


def test_a_setattr_drops_what_was_read_ahead(runner):
    runner.cell("a = Value(1.0); b = Value(2.0); c = a + b; d = c + 1.0")
    d = runner.conn.request("name", name="d")
    c = d._prev[0]
    c._prev                            # a second read of _prev in a row: reads ahead
    assert runner.conn.ahead
    c.label = "c"                      # may run learner code (__setattr__)
    assert runner.conn.ahead == {}


@pytest.mark.parametrize("ahead, why", [
    ("[[1]]", "not \\[handle, value\\]"),
    ('[["h", 1]]', "not \\[handle, value\\]"),
    ('{"a": 1}', "not a short list"),
    ("[" + ",".join(["[1,1]"] * (channel.MAX_FOLLOW + 1)) + "]", "not a short list"),
], ids=["pair-of-one", "handle-not-a-number", "a-dict", "too-many"])
def test_reads_ahead_out_of_shape_break_the_channel(runner, ahead, why):
    # The learner's code replaces the runner's reading ahead with a forgery.
    runner.cell(f"""
import gc, json
server = [o for o in gc.get_objects() if type(o).__name__ == 'Server'][0]
server.read_ahead = lambda value, attr, most: json.loads({ahead!r})
a = Value(1.0); b = a + 2.0
""")
    b = runner.conn.request("name", name="b")
    b._prev                            # asked plainly
    with pytest.raises(channel.ProtocolError, match=why):
        b._prev                        # the second in a row asks ahead: the forgery comes


def test_reads_ahead_in_a_reply_that_did_not_ask_break_the_channel(runner):
    with pytest.raises(channel.ProtocolError, match="not asked for"):
        runner.cell("""
import gc
server = [o for o in gc.get_objects() if type(o).__name__ == 'Server'][0]
send = server.write_message
server.write_message = lambda m: send(dict(m, ahead=[]) if 'reply' in m else m)
""")


def test_many_labels_in_a_row_never_fill_the_reply_pipe(runner):
    """setattr replies are read later; 6,000 of them (over 64 kB of replies) in a row
    must not leave the runner blocked on a full pipe until the cell's timeout."""
    runner.cell("nodes = [Value(float(i)) for i in range(6000)]")
    nodes = list(runner.conn.request("name", name="nodes"))
    runner.clock.new_segment()
    for i, node in enumerate(nodes):
        node.label = f"n{i}"
    runner.conn.sync()
    assert runner.conn.broken is None
    assert nodes[5999].label == "n5999"
    assert len(runner.conn.deferred) == 0


def test_control_with_no_cap_on_unread_replies_the_same_labels_time_out(monkeypatch):
    monkeypatch.setattr(channel, "MAX_DEFERRED", 10**9)
    r = Runner(timeout_cell=3.0)
    try:
        r.cell(VALUE + "\nnodes = [Value(float(i)) for i in range(6000)]")
        nodes = list(r.conn.request("name", name="nodes"))
        r.clock.new_segment()
        with pytest.raises(channel.ChannelTimeout):
            for i, node in enumerate(nodes):
                node.label = f"n{i}"
            r.conn.sync()
    finally:
        r.close()
