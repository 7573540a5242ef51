"""The grader's end of the channel to a sandboxed learner process (runner.py).

The sandbox is a server holding the learner's objects; this module is its only
client, and the clock is ours. A :class:`Connection` sends one request at a
time and waits for the reply *to that request*, within the submission's budget
(:class:`Clock`): the seconds the grader spends on its behalf, waiting or
working, against the cell and notebook timeouts, and the requests it makes the
grader send or serve, against two caps. Nothing the sandbox writes can extend a
deadline: a reply for another request, a line over 256 kB, JSON nested too
deeply, or anything else out of protocol is a :class:`ProtocolError`, and after
the first failure every request fails.

Learner objects come back as :class:`Proxy` objects, so the exercise specs'
``produce`` runs unchanged on them: attribute access, calls, operators,
``len``, iteration, ``float``; the same handle is always the same proxy, so
``is`` and ``id()`` work. A learner exception comes back as a local class
with the learner's exception name (a subclass of the builtin of that name
when there is one). A grader function passed in (the ``f`` of
``forward_difference``) stays here; the sandbox can only ask us to call it.
Lists, dicts and sets travel by value, and come back with the reply as the
call left them (:class:`Shared`): a learner function that changes its
argument in place changes the grader's object, as it would in one process.

A graph walk reads one attribute (``_prev``) of one node after another: the
second such read in a row asks the runner to *read ahead*, and its reply also
carries that attribute of the objects the value holds, and of theirs (plain
instance attributes only, at most :data:`MAX_FOLLOW`). The next reads are then
answered here, each counted and charged as a request, until the grader sends
anything else: every request sent may run learner code, so the reads kept
ahead are dropped before it goes, or, for a read, when its reply does not say
it was a plain one (``"pure"``: no learner code ran).
"""

from __future__ import annotations

import builtins
import itertools
import json
import math
import os
import re
import select
import time

from .untrusted import Unreadable, loads_bounded

MAX_LINE = 256 * 1024
MAX_DEPTH = 40              # nesting the runner itself never exceeds (it stops at 32)
MAX_HANDLES = 200_000       # proxies one notebook may hand us
MAX_MESSAGE = 2000
MAX_KIND = 100
# Requests (callbacks included) one segment (a cell, or a case of a graded cell) and one
# notebook may cost the grader. Honest notebooks: see docs/GRADING.md, "The clock".
REQUESTS_CASE = 50_000
REQUESTS_NOTEBOOK = 250_000
MAX_FOLLOW = 1024           # reads one reply may carry ahead (runner.MAX_FOLLOW)
FIRST_FOLLOW = 16           # reads asked ahead at first: doubled while they are used
# setattr replies left unread at most: the runner's replies wait in a pipe (64 kB on
# Linux) until read, and a runner blocked writing them would stop reading requests.
MAX_DEFERRED = 256


class ChannelBroken(BaseException):
    """The channel can no longer be believed. A BaseException, so a producer's
    ``except Exception`` does not take it for the learner's error; the grader
    also checks :attr:`Connection.broken` after each case."""


class ChannelTimeout(ChannelBroken):
    pass


class ChannelClosed(ChannelBroken):
    pass


class ProtocolError(ChannelBroken):
    pass


class Clock:
    """One submission's budget, on the grader's clock.

    A submission is charged for every second the grader spends on its behalf:
    the wall time it *waits for the sandbox*, plus this grading thread's own
    CPU time (``time.thread_time``: producers run on proxies, callbacks served,
    replies decoded) outside those waits. Thread CPU time leaves out the time
    this thread stands waiting for the GIL while other submissions' threads
    compute, so their work is never charged here. A wait ends when this thread
    runs again: the GIL hand-over after a reply (at most a few switch intervals
    of 5 ms) counts as waiting.

    The charge runs against two time budgets, the segment's (``timeout_cell``: a
    code cell, or one case of a graded cell) and the notebook's
    (``timeout_notebook``), and every request (callbacks included) counts
    against two caps, ``requests_case`` per segment and ``requests_notebook`` in
    all. A wall-clock backstop (``backstop`` seconds since the clock started,
    twice the notebook budget unless given) ends a submission whatever the
    charge says, so nothing holds a worker slot forever.

    Create it on the thread that grades the submission: thread CPU time is that
    thread's."""

    def __init__(self, timeout_cell: float, timeout_notebook: float, lend_after=None,
                 on_long_cell=None, requests_case: int | None = None,
                 requests_notebook: int | None = None, backstop: float | None = None):
        self.timeout_cell = timeout_cell
        self.timeout_notebook = timeout_notebook
        self.requests_case = REQUESTS_CASE if requests_case is None else requests_case
        self.requests_notebook = (REQUESTS_NOTEBOOK if requests_notebook is None
                                  else requests_notebook)
        self.backstop = 2 * timeout_notebook if backstop is None else backstop
        self.lend_after = lend_after
        self.on_long_cell = on_long_cell
        self.start = time.monotonic()
        self.cpu_start = time.thread_time()
        self.waited = 0.0           # wall seconds spent waiting for the sandbox
        self.cpu_in_waits = 0.0     # this thread's CPU seconds inside those waits
        self.requests = 0           # requests and callbacks, whole notebook
        self.busiest = 0            # the most requests one segment made
        self.longest = 0.0          # the most seconds one finished segment was charged
        self.segment_start = 0.0
        self.reasons = (f"the notebook ran longer than {timeout_notebook:g} s",
                        f"a cell ran longer than {timeout_cell:g} s",
                        f"the notebook held its worker for more than {self.backstop:g} s "
                        "of wall time")
        self.new_segment()

    # ------------------------------------------------ what has been spent
    def grader_cpu(self, now: float | None = None) -> float:
        """This thread's CPU seconds for the submission, outside the waits
        (``now``: a ``time.thread_time()`` reading already taken)."""
        return (time.thread_time() if now is None else now) - self.cpu_start - self.cpu_in_waits

    def charged(self, cpu: float | None = None) -> float:
        """Seconds charged to the submission so far (all segments)."""
        return self.waited + self.grader_cpu(cpu)

    def new_segment(self):
        now = self.charged()
        self.longest = max(self.longest, now - self.segment_start)
        self.segment_start = now
        self.segment_requests = 0

    def in_segment(self) -> float:
        return self.charged() - self.segment_start

    def add_wait(self, wall: float, cpu: float):
        self.waited += wall
        self.cpu_in_waits += cpu

    # ------------------------------------------------ the limits
    def remaining(self, charged: float | None = None) -> tuple[float, str]:
        """Seconds left before the first limit, and that limit in words (``charged``:
        a ``charged()`` reading already taken)."""
        if charged is None:
            charged = self.charged()
        notebook = self.timeout_notebook - charged
        cell = self.timeout_cell - (charged - self.segment_start)
        wall = self.backstop - (time.monotonic() - self.start)
        if notebook <= cell and notebook <= wall:
            return notebook, self.reasons[0]
        if cell <= wall:
            return cell, self.reasons[1]
        return wall, self.reasons[2]

    def spend(self, requests: int = 0) -> ChannelBroken | None:
        """Count ``requests`` more; the error that ends the submission, if a cap or a
        budget is now passed (None while within them)."""
        self.requests += requests
        self.segment_requests += requests
        if self.segment_requests > self.busiest:
            self.busiest = self.segment_requests
        if self.segment_requests > self.requests_case:
            return ProtocolError(f"more than {self.requests_case} requests in one cell or "
                                 "case (callbacks included)")
        if self.requests > self.requests_notebook:
            return ProtocolError(f"more than {self.requests_notebook} requests in the "
                                 "notebook (callbacks included)")
        charged = self.charged()
        left, why = self.remaining(charged)
        if left <= 0:
            return ChannelTimeout(why)
        self.tick(charged - self.segment_start)
        return None

    def tick(self, in_segment: float):
        """Hand the worker slot on once a segment has been charged ``lend_after``
        seconds (``in_segment``: its charge so far, a wait in progress included)."""
        if self.on_long_cell is not None and in_segment > self.lend_after:
            lend, self.on_long_cell = self.on_long_cell, None
            lend()


# ---------------------------------------------------------------- remote exceptions
_REMOTE_CLASSES: dict[str, type] = {}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}\Z")


def remote_exception_class(name: str) -> type:
    """A local exception class named like the learner's (cached per name).

    Based on the builtin of that name when it is an ``Exception`` (so
    ``isinstance(exc, NotImplementedError)`` works); never on ``KeyboardInterrupt``
    or ``SystemExit``, which would stop the grader instead of failing a case."""
    if not isinstance(name, str) or not _NAME.match(name):
        name = "RemoteError"
    cls = _REMOTE_CLASSES.get(name)
    if cls is None:
        base = getattr(builtins, name, None)
        if name == "ReferenceSolutionUsed":
            from microgradlab.exercises import ReferenceSolutionUsed as base
        if not (isinstance(base, type) and issubclass(base, Exception)):
            base = Exception
        try:
            cls = type(name, (base,), {"__module__": "learner", "remote": True})
        except TypeError:  # a builtin that cannot be subclassed
            cls = type(name, (Exception,), {"__module__": "learner", "remote": True})
        _REMOTE_CLASSES[name] = cls
    return cls


# ---------------------------------------------------------------- the JSON guard
def parse_line(line: bytes):
    """One reply line as JSON, through the same bounded reader as submitted notebooks
    (size and nesting checked before ``json.loads``, which recurses)."""
    try:
        return loads_bounded(line, max_bytes=MAX_LINE, max_depth=MAX_DEPTH,
                             what="a reply the runner sends")
    except Unreadable as exc:
        raise ProtocolError(f"a reply line that is {exc}") from None


# ---------------------------------------------------------------- proxies
_OWN = ("_mgl_conn", "_mgl_handle", "_mgl_kind")


def _remote_dunder(attr):
    def get(self):
        return self._mgl_conn.request("getattr", obj=self, attr=attr)
    return property(get)


def _binop(name, reflected=False):
    def method(self, other):
        a, b = (other, self) if reflected else (self, other)
        return self._mgl_conn.request("binop", name=name, a=a, b=b)
    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


def _unop(name):
    def method(self):
        return self._mgl_conn.request("unop", name=name, a=self)
    method.__name__ = f"__{name}__"
    return method


class Proxy:
    """A learner object that stays in the sandbox, known here by its handle."""

    __mgl_proxy__ = True
    __slots__ = _OWN + ("__weakref__",)

    def __init__(self, conn, handle, kind):
        object.__setattr__(self, "_mgl_conn", conn)
        object.__setattr__(self, "_mgl_handle", handle)
        object.__setattr__(self, "_mgl_kind", kind)

    def __getattr__(self, attr):
        if attr.startswith("_mgl_") or attr in ("__mgl_proxy__",):
            raise AttributeError(attr)
        return self._mgl_conn.request("getattr", obj=self, attr=attr)

    def __setattr__(self, attr, value):
        self._mgl_conn.request("setattr", obj=self, attr=attr, value=value)

    def __call__(self, *args, **kwargs):
        return self._mgl_conn.request("call", obj=self, args=list(args), kwargs=kwargs)

    def __getitem__(self, key):
        return self._mgl_conn.request("getitem", obj=self, key=key)

    def __len__(self):
        n = self._mgl_conn.request("len", obj=self)
        if type(n) is not int or n < 0:
            raise self._mgl_conn.fail(ProtocolError("len() answered with something not a count"))
        return n

    def __iter__(self):
        items = self._mgl_conn.request("list", obj=self)
        if type(items) is not list:
            raise self._mgl_conn.fail(ProtocolError("list() answered with something not a list"))
        return iter(items)

    def __float__(self):
        x = self._mgl_conn.request("float", obj=self)
        if type(x) is not float:
            raise self._mgl_conn.fail(ProtocolError("float() answered with something not a float"))
        return x

    def __bool__(self):
        return self._mgl_conn.request("bool", obj=self) is True

    # Identity is the handle: the proxy cache makes one handle one proxy.
    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __hash__(self):
        return hash(("mgl-proxy", self._mgl_handle))

    def __repr__(self):
        return f"<{self._mgl_kind} object in the sandbox>"

    def __reduce__(self):
        raise TypeError("a sandbox object cannot be copied out of the sandbox")


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow"):
    setattr(Proxy, f"__{_name}__", _binop(_name))
    setattr(Proxy, f"__r{_name}__", _binop(_name, reflected=True))
for _name in ("lt", "le", "gt", "ge"):
    setattr(Proxy, f"__{_name}__", _binop(_name))
for _name in ("neg", "pos", "abs"):
    setattr(Proxy, f"__{_name}__", _unop(_name))
# Spec code reads ``__module__`` to tell the reference solution from the learner's
# own (``__name__`` and ``__qualname__`` are not on instances, so __getattr__ asks).
Proxy.__module__ = _remote_dunder("__module__")
del _name


def is_proxy(x) -> bool:
    return getattr(type(x), "__mgl_proxy__", False) is True


# ---------------------------------------------------------------- values passed by value
_TAGS = {list: "list", dict: "dict", set: "set"}   # the containers a callee can change in place


class Shared:
    """The containers (lists, dicts, sets) one message passes by value, numbered 1, 2, ...
    in the order they are first met. The receiver sends each one's state back with
    its reply, and the sender writes that state into its own object in place: a
    callee that changes its argument changes the caller's, as in one process."""

    __slots__ = ("objects", "numbers")

    def __init__(self):
        self.objects: list = []
        self.numbers: dict[int, int] = {}    # id(container) -> its number

    def number(self, container) -> tuple[int, bool]:
        """(its number, whether it is met here for the first time)."""
        known = self.numbers.get(id(container))
        if known is not None:
            return known, False
        self.objects.append(container)
        self.numbers[id(container)] = len(self.objects)
        return len(self.objects), True

    def get(self, number):
        if type(number) is not int or not 1 <= number <= len(self.objects):
            raise ProtocolError("a reference to an argument that was never sent")
        return self.objects[number - 1]


# ---------------------------------------------------------------- the connection
_NOT_READ = object()


class Connection:
    """One request at a time to the sandbox, each under the clock."""

    def __init__(self, requests_fd: int, replies_fd: int, clock: Clock):
        self.requests_fd = requests_fd
        self.replies_fd = replies_fd
        os.set_blocking(requests_fd, False)  # a sandbox that stops reading cannot block us
        self.clock = clock
        self.buffer = b""
        self.ids = itertools.count(1)
        self.proxies: dict[int, Proxy] = {}
        self.functions: dict[int, object] = {}      # callback id -> our function
        self.function_ids: dict[int, int] = {}      # id(function) -> callback id
        self.broken: ChannelBroken | None = None
        # setattr requests whose replies are still to read: (request id, what it passed)
        self.deferred: list[tuple[int, Shared]] = []
        # Reads the runner did ahead, (handle, attribute) -> the value as sent; valid
        # until the next request goes out.
        self.ahead: dict[tuple[int, str], object] = {}
        self.last_read: str | None = None   # the attribute the last request read
        self.following: tuple[int, str] | None = None  # (request id, attribute) reading ahead
        self.reading: int | None = None     # the id of the last getattr request sent
        self.sent = 0                       # requests written (reads answered here are not)
        self.follow_size = FIRST_FOLLOW     # reads the next request asks ahead
        self.ahead_used = 0                 # of the last reads ahead, how many were asked for

    @property
    def requests(self) -> int:
        """Requests and callbacks so far, the whole notebook."""
        return self.clock.requests

    def fail(self, error: ChannelBroken) -> ChannelBroken:
        if self.broken is None:
            self.broken = error
        return self.broken

    def charge(self, requests: int = 0):
        """Count ``requests`` more against the caps and check the time budget: past
        either, the channel breaks (the sandbox is then killed by the grader)."""
        if self.broken is not None:
            raise self.broken
        error = self.clock.spend(requests)
        if error is not None:
            raise self.fail(error)

    # ------------------------------------------------ values out
    def encode(self, value, shared: Shared, new=True, depth=0):
        """``value`` as the channel carries it. Containers in ``shared`` go as a
        reference to their number; with ``new``, other lists, dicts and sets are
        numbered into ``shared`` (a request's arguments), else sent as plain copies
        (a callback's result)."""
        if depth > MAX_DEPTH:
            raise ValueError("a request value nested too deeply")
        kind = type(value)
        if value is None or kind in (bool, str, int):
            return value
        if kind is float:
            return value if math.isfinite(value) else {"t": "float", "v": repr(value)}
        if kind is Proxy:
            if value._mgl_conn is not self:
                raise ValueError("a proxy of another sandbox")
            return {"t": "ref", "h": value._mgl_handle}
        if kind in _TAGS:
            if id(value) in shared.numbers:
                return {"t": "same", "n": shared.numbers[id(value)]}
            out = {"t": _TAGS[kind]}
            if new:
                out["n"], _ = shared.number(value)
            out["v"] = self.contents(value, shared, new, depth)
            return out
        if kind in (tuple, frozenset):
            return {"t": "tuple" if kind is tuple else "set",
                    "v": [self.encode(x, shared, new, depth + 1) for x in value]}
        if callable(value):
            number = self.function_ids.get(id(value))
            if number is None:
                number = len(self.functions) + 1
                self.functions[number] = value
                self.function_ids[id(value)] = number
            return {"t": "cb", "id": number}
        raise TypeError(f"cannot send a {kind.__name__} to the sandbox")

    def contents(self, container, shared: Shared, new=False, depth=0) -> list:
        """The items of a list, dict or set, encoded (a dict's as [key, value] pairs)."""
        if type(container) is dict:
            return [[self.encode(k, shared, new, depth + 1), self.encode(v, shared, new, depth + 1)]
                    for k, v in container.items()]
        return [self.encode(x, shared, new, depth + 1) for x in container]

    # ------------------------------------------------ values in
    def decode(self, value, shared: Shared | None = None, register=False):
        """A value the sandbox sent. ``{"t": "same"}`` names a container of ``shared``
        (ours, sent with the request); with ``register``, numbered containers are
        added to ``shared`` (the arguments of a callback)."""
        if value is None or type(value) in (bool, str, int, float):
            return value
        if type(value) is not dict:
            raise ProtocolError("a value of no known shape")
        tag = value.get("t")
        if tag == "float":
            text = value.get("v")
            if text not in ("inf", "-inf", "nan") and not isinstance(text, str):
                raise ProtocolError("a float that is not a float")
            try:
                return float(text)
            except ValueError:
                raise ProtocolError("a float that is not a float") from None
        if tag == "ref":
            return self.proxy(value.get("h"), value.get("kind"))
        if tag == "cb":
            if value.get("id") not in self.functions:
                raise ProtocolError("a grader function that was never sent")
            return self.functions[value["id"]]
        if tag == "same":
            if shared is None:
                raise ProtocolError("a reference to an argument where none was sent")
            return shared.get(value.get("n"))
        items = value.get("v")
        if type(items) is not list:
            raise ProtocolError(f"a {tag!r} value without items")
        if tag == "tuple":
            return tuple(self.decode(x, shared, register) for x in items)
        if tag not in ("list", "set", "dict"):
            raise ProtocolError(f"an unknown value tag {tag!r}")
        container = {"list": list, "set": set, "dict": dict}[tag]()
        if register and "n" in value:
            if value["n"] != len(shared.objects) + 1:
                raise ProtocolError("arguments numbered out of order")
            shared.number(container)
        self.fill(container, items, shared, register)
        return container

    def fill(self, container, items: list, shared, register=False):
        """Put decoded ``items`` into the empty ``container`` (list, set or dict)."""
        try:
            if type(container) is list:
                container.extend(self.decode(x, shared, register) for x in items)
            elif type(container) is set:
                container.update(self.decode(x, shared, register) for x in items)
            else:
                for pair in items:
                    if type(pair) is not list or len(pair) != 2:
                        raise ProtocolError("a dict entry that is not a pair")
                    key = self.decode(pair[0], shared, register)
                    container[key] = self.decode(pair[1], shared, register)
        except TypeError:  # an unhashable key or member
            raise ProtocolError(f"a malformed {_TAGS[type(container)]}") from None

    def proxy(self, handle, kind) -> Proxy:
        if type(handle) is not int:
            raise ProtocolError("a handle that is not a number")
        proxy = self.proxies.get(handle)
        if proxy is None:
            if len(self.proxies) >= MAX_HANDLES:
                raise ProtocolError(f"more than {MAX_HANDLES} objects handed over")
            kind = kind[:MAX_KIND] if isinstance(kind, str) else "object"
            proxy = self.proxies[handle] = Proxy(self, handle, kind)
        return proxy

    def write_back(self, shared: Shared, states):
        """Put the state each container of ``shared`` had after the call into it, in
        place. The states must fit what was sent: one per container, of its type.
        All are decoded before any is written, so a bad one changes nothing."""
        if type(states) is not list or len(states) != len(shared.objects):
            raise ProtocolError(f"a reply that does not give back the {len(shared.objects)} "
                                "argument(s) sent by value")
        contents = []
        for container, state in zip(shared.objects, states):
            tag = _TAGS[type(container)]
            if type(state) is not dict or state.get("t") != tag or type(state.get("v")) is not list:
                raise ProtocolError(f"a reply that gives back a {tag} sent by value as "
                                    "something else")
            content = type(container)()
            self.fill(content, state["v"], shared)
            contents.append(content)
        for container, content in zip(shared.objects, contents):
            if type(container) is list:
                container[:] = content
            else:
                container.clear()
                container.update(content)

    # ------------------------------------------------ one request
    def request(self, op: str, **fields):
        """Send one request; return its decoded value or raise the learner's exception.
        Lists, dicts and sets among its fields come back as the call left them."""
        if op == "getattr":
            known = self._read_ahead(fields.get("obj"), fields.get("attr"))
            if known is not None:
                return known[0]
        self.charge(1)
        number = next(self.ids)
        self.sent += 1
        if op == "getattr":
            self.reading = number   # its reply says whether the reads ahead still hold
        else:
            self.ahead.clear()      # what this request runs may change any of them
        message = {"id": number, "op": op}
        if op == "getattr" and fields.get("attr") == self.last_read:
            # A walk that used what was read ahead gets twice as many next time;
            # one that did not (it reads in another order) gets few.
            self.follow_size = (min(2 * self.follow_size, MAX_FOLLOW) if self.ahead_used
                                else FIRST_FOLLOW)
            self.ahead_used = 0
            message["follow"] = self.follow_size
            self.following = (number, fields["attr"])
        self.last_read = fields.get("attr") if op == "getattr" else None
        shared = Shared()
        try:
            for key, value in fields.items():
                if key in ("source", "name", "attr", "piece"):
                    message[key] = value               # plain text, never an object
                elif key == "args":
                    message[key] = [self.encode(a, shared) for a in value]
                elif key == "kwargs":
                    message[key] = {str(k): self.encode(v, shared) for k, v in value.items()}
                else:
                    message[key] = self.encode(value, shared)
        except RecursionError:
            raise ValueError("a request value nested too deeply") from None
        self._send(message)
        if op == "setattr":
            # Its reply carries nothing but a possible error: read it with the next
            # reply (the server answers in order), saving a round trip per label.
            self.deferred.append((number, shared))
            if len(self.deferred) >= MAX_DEFERRED:
                self._collect(None, None)  # a learner error in one is raised here
            return None
        return self._collect(number, shared)

    def _read_ahead(self, obj, attr):
        """(value,) when ``obj.attr`` came with an earlier reply and nothing has been
        sent since; else None. Counted and charged like the request it replaces."""
        if type(obj) is not Proxy or obj._mgl_conn is not self:
            return None
        raw = self.ahead.get((obj._mgl_handle, attr), _NOT_READ)
        if raw is _NOT_READ:
            return None
        self.charge(1)
        self.last_read = attr
        self.ahead_used += 1
        try:
            return (self.decode(raw, Shared()),)
        except ProtocolError as exc:
            raise self.fail(exc) from None

    def _keep_ahead(self, attr, entries):
        """Keep the reads a reply carried ahead: [[handle, value], ...]."""
        if type(entries) is not list or len(entries) > MAX_FOLLOW:
            raise self.fail(ProtocolError("reads ahead that are not a short list"))
        for entry in entries:
            if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not int:
                raise self.fail(ProtocolError("a read ahead that is not [handle, value]"))
            self.ahead[(entry[0], attr)] = entry[1]

    def sync(self):
        """Read the replies still owed for deferred requests (the end of a case)."""
        if self.deferred:
            try:
                self._collect(None, None)
            except ChannelBroken:
                raise
            except Exception:  # noqa: BLE001 - a learner error in a last setattr
                pass

    def _collect(self, number, shared):
        """Replies in order: the deferred ones, then ``number``'s (None: only deferred)."""
        first_error = None
        while True:
            if not self.deferred and number is None:
                if first_error is not None:
                    raise first_error
                return None
            reply = self._receive()
            if "reply" in reply:
                expected = self.deferred[0][0] if self.deferred else number
                if reply["reply"] != expected:
                    raise self.fail(ProtocolError(
                        f"a reply to request {reply['reply']!r} while waiting for {expected}"))
                if self.deferred:
                    _, passed = self.deferred.pop(0)
                    try:
                        self._result(reply, passed)
                    except ChannelBroken:
                        raise
                    except Exception as exc:  # noqa: BLE001 - raised once all are read
                        first_error = first_error or exc
                    continue
                if first_error is not None:
                    self._result(reply, shared)  # still checked for protocol errors
                    raise first_error
                return self._result(reply, shared)
            if reply.get("op") == "callback":
                self._serve_callback(reply)
                continue
            raise self.fail(ProtocolError("a message that is neither a reply nor a callback"))

    def _result(self, reply, shared: Shared):
        if reply.get("reply") == self.reading and reply.get("pure") is not True:
            self.ahead.clear()
        if "ahead" in reply:
            if self.following is None or reply.get("reply") != self.following[0]:
                raise self.fail(ProtocolError("reads ahead in a reply that was not asked for them"))
            self._keep_ahead(self.following[1], reply["ahead"])
        try:
            if "after" in reply or ("error" not in reply and shared.objects):
                self.write_back(shared, reply.get("after"))
            if "error" not in reply:
                return self.decode(reply.get("value"), shared)
        except ProtocolError as exc:
            raise self.fail(exc) from None
        error = reply["error"]
        if type(error) is not dict:
            raise self.fail(ProtocolError("an error that is not an object"))
        name, message = error.get("type"), error.get("message")
        message = message[:MAX_MESSAGE] if isinstance(message, str) else ""
        raise remote_exception_class(name)(message)

    def _serve_callback(self, message):
        self.charge(1)
        number = message.get("id")
        if type(number) is not int or number >= 0:
            raise self.fail(ProtocolError("a callback without a sandbox request id"))
        try:
            function = self.functions[message.get("fn")]
        except (KeyError, TypeError):
            raise self.fail(ProtocolError("a callback to no function we sent")) from None
        attr = message.get("attr")
        received = Shared()  # the sandbox's lists, dicts and sets among the arguments
        if attr is not None:
            # Only public attributes: no way to __func__, __globals__ or __dict__.
            if type(attr) is not str or attr.startswith("_"):
                raise self.fail(ProtocolError("a callback for a private attribute"))
            call = lambda: getattr(function, attr)  # noqa: E731
        else:
            try:
                args = message.get("args", [])
                kwargs = message.get("kwargs", {})
                if type(args) is not list or type(kwargs) is not dict:
                    raise ProtocolError("callback arguments that are not a list and an object")
                args = [self.decode(a, received, register=True) for a in args]
                kwargs = {str(k): self.decode(v, received, register=True)
                          for k, v in kwargs.items()}
            except ProtocolError as exc:
                raise self.fail(exc) from None
            call = lambda: function(*args, **kwargs)  # noqa: E731
        try:
            value = self.encode(call(), received, new=False)
            reply = {"reply": number, "value": value}
        except ChannelBroken:
            raise
        except Exception as exc:  # noqa: BLE001 - our function failed on the learner's input
            reply = {"reply": number, "error": {"type": type(exc).__name__,
                                                "message": str(exc)[:MAX_MESSAGE]}}
        if received.objects:  # the arguments as our function left them
            reply["after"] = [{"t": _TAGS[type(c)], "v": self.contents(c, received)}
                              for c in received.objects]
        self._send(reply)

    # ------------------------------------------------ the pipes, under the clock
    def _wait(self, fd, writing: bool):
        """Wait until ``fd`` is ready, within what is left of the budget."""
        began, cpu = time.monotonic(), time.thread_time()
        charged = self.clock.charged(cpu)
        left, why = self.clock.remaining(charged)
        deadline, in_segment = began + left, charged - self.clock.segment_start
        try:
            while True:
                now = time.monotonic()
                self.clock.tick(in_segment + now - began)
                if now >= deadline:
                    raise self.fail(ChannelTimeout(why))
                wait = min(deadline - now, 0.5)
                ready = (select.select([], [fd], [], wait) if writing
                         else select.select([fd], [], [], wait))
                if ready[1] if writing else ready[0]:
                    return
        finally:
            self.clock.add_wait(time.monotonic() - began, time.thread_time() - cpu)

    def _send(self, message):
        data = (json.dumps(message, allow_nan=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.requests_fd, view):]
            except BlockingIOError:  # the pipe is full: wait, under the clock
                self._wait(self.requests_fd, writing=True)
                continue
            except (BrokenPipeError, OSError):
                raise self.fail(ChannelClosed("the notebook's process stopped reading")) from None

    def _receive(self) -> dict:
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                raise self.fail(ProtocolError(f"a reply line of more than {MAX_LINE} bytes"))
            self._wait(self.replies_fd, writing=False)
            chunk = os.read(self.replies_fd, 1 << 16)
            if not chunk:
                raise self.fail(ChannelClosed("the notebook's process ended"))
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            message = parse_line(line)
        except ProtocolError as exc:
            raise self.fail(exc) from None
        if type(message) is not dict:
            raise self.fail(ProtocolError("a reply that is not an object"))
        return message
