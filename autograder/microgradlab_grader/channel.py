"""The grader's end of the channel to a sandboxed learner process (runner.py).

The sandbox is a server holding the learner's objects; this module is its only
client, and the clock is ours. A :class:`Connection` sends one request at a
time and waits for the reply *to that request*, under a deadline taken from
:class:`Clock` (the cell timeout and what is left of the notebook's time).
Nothing the sandbox writes can extend a deadline: a reply for another request,
a line over 256 kB, JSON nested too deeply, or anything else out of protocol
is a :class:`ProtocolError`, and after the first failure every request fails.

Learner objects come back as :class:`Proxy` objects, so the exercise specs'
``produce`` runs unchanged on them: attribute access, calls, operators,
``len``, iteration, ``float``; the same handle is always the same proxy, so
``is`` and ``id()`` work. A learner exception comes back as a local class
with the learner's exception name (a subclass of the builtin of that name
when there is one). A grader function passed in (the ``f`` of
``forward_difference``) stays here; the sandbox can only ask us to call it.
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
    """The grader's clock: a notebook budget (wall time) and a per-segment budget
    (a cell, or one case of a graded cell).

    A segment's budget counts the time spent *waiting for the sandbox*, measured
    here; the grader's own work between requests (running a producer, serving a
    callback, waiting for this process's other threads) is not the learner's."""

    def __init__(self, timeout_cell: float, timeout_notebook: float, lend_after=None,
                 on_long_cell=None):
        self.timeout_cell = timeout_cell
        self.timeout_notebook = timeout_notebook
        self.start = time.monotonic()
        self.used = 0.0                 # sandbox time in this segment so far
        self.lend_after = lend_after
        self.on_long_cell = on_long_cell

    def new_segment(self):
        self.used = 0.0

    def deadline(self, waiting_since: float) -> tuple[float, str]:
        """When a wait that began at ``waiting_since`` must end, and why."""
        cell = waiting_since + self.timeout_cell - self.used
        notebook = self.start + self.timeout_notebook
        if notebook <= cell:
            return notebook, f"the notebook ran longer than {self.timeout_notebook:g} s"
        return cell, f"a cell ran longer than {self.timeout_cell:g} s"

    def tick(self, waited: float):
        """Hand the worker slot on once a segment has run ``lend_after`` seconds."""
        if self.on_long_cell is not None and self.used + waited > self.lend_after:
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


# ---------------------------------------------------------------- the connection
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
        self.requests = 0
        self.deferred: list[int] = []   # setattr requests whose replies are still to read

    def fail(self, error: ChannelBroken) -> ChannelBroken:
        if self.broken is None:
            self.broken = error
        return self.broken

    # ------------------------------------------------ values out (to the sandbox)
    def encode(self, value, depth=0):
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
        if kind in (list, tuple, set, frozenset):
            tag = "list" if kind is list else "tuple" if kind is tuple else "set"
            return {"t": tag, "v": [self.encode(x, depth + 1) for x in value]}
        if kind is dict:
            return {"t": "dict", "v": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                                       for k, v in value.items()]}
        if callable(value):
            number = self.function_ids.get(id(value))
            if number is None:
                number = len(self.functions) + 1
                self.functions[number] = value
                self.function_ids[id(value)] = number
            return {"t": "cb", "id": number}
        raise TypeError(f"cannot send a {kind.__name__} to the sandbox")

    # ------------------------------------------------ values in (from the sandbox)
    def decode(self, value, depth=0):
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
        items = value.get("v")
        if type(items) is not list:
            raise ProtocolError(f"a {tag!r} value without items")
        if tag == "list":
            return [self.decode(x, depth + 1) for x in items]
        if tag == "tuple":
            return tuple(self.decode(x, depth + 1) for x in items)
        try:
            if tag == "set":
                return {self.decode(x, depth + 1) for x in items}
            if tag == "dict":
                return {self.decode(k, depth + 1): self.decode(v, depth + 1) for k, v in items}
        except (TypeError, ValueError):
            raise ProtocolError(f"a malformed {tag}") from None
        raise ProtocolError(f"an unknown value tag {tag!r}")

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

    # ------------------------------------------------ one request
    def request(self, op: str, **fields):
        """Send one request; return its decoded value or raise the learner's exception."""
        if self.broken is not None:
            raise self.broken
        number = next(self.ids)
        message = {"id": number, "op": op}
        try:
            for key, value in fields.items():
                if key in ("source", "name", "attr", "piece"):
                    message[key] = value               # plain text, never an object
                elif key == "args":
                    message[key] = [self.encode(a) for a in value]
                elif key == "kwargs":
                    message[key] = {str(k): self.encode(v) for k, v in value.items()}
                else:
                    message[key] = self.encode(value)
        except RecursionError:
            raise ValueError("a request value nested too deeply") from None
        self.requests += 1
        self._send(message)
        if op == "setattr":
            # Its reply carries nothing but a possible error: read it with the next
            # reply (the server answers in order), saving a round trip per label.
            self.deferred.append(number)
            return None
        return self._collect(number)

    def sync(self):
        """Read the replies still owed for deferred requests (the end of a case)."""
        if self.deferred:
            try:
                self._collect(None)
            except ChannelBroken:
                raise
            except Exception:  # noqa: BLE001 - a learner error in a last setattr
                pass

    def _collect(self, number):
        """Replies in order: the deferred ones, then ``number``'s (None: only deferred)."""
        first_error = None
        while True:
            if not self.deferred and number is None:
                if first_error is not None:
                    raise first_error
                return None
            reply = self._receive()
            if "reply" in reply:
                expected = self.deferred[0] if self.deferred else number
                if reply["reply"] != expected:
                    raise self.fail(ProtocolError(
                        f"a reply to request {reply['reply']!r} while waiting for {expected}"))
                if self.deferred:
                    self.deferred.pop(0)
                    try:
                        self._result(reply)
                    except ChannelBroken:
                        raise
                    except Exception as exc:  # noqa: BLE001 - raised once all are read
                        first_error = first_error or exc
                    continue
                if first_error is not None:
                    self._result(reply)  # still checked for protocol errors
                    raise first_error
                return self._result(reply)
            if reply.get("op") == "callback":
                self._serve_callback(reply)
                continue
            raise self.fail(ProtocolError("a message that is neither a reply nor a callback"))

    def _result(self, reply):
        if "error" in reply:
            error = reply["error"]
            if type(error) is not dict:
                raise self.fail(ProtocolError("an error that is not an object"))
            name, message = error.get("type"), error.get("message")
            message = message[:MAX_MESSAGE] if isinstance(message, str) else ""
            raise remote_exception_class(name)(message)
        try:
            return self.decode(reply.get("value"))
        except ProtocolError as exc:
            raise self.fail(exc) from None

    def _serve_callback(self, message):
        number = message.get("id")
        if type(number) is not int or number >= 0:
            raise self.fail(ProtocolError("a callback without a sandbox request id"))
        try:
            function = self.functions[message.get("fn")]
        except (KeyError, TypeError):
            raise self.fail(ProtocolError("a callback to no function we sent")) from None
        attr = message.get("attr")
        if attr is not None:
            # Only public attributes: no way to __func__, __globals__ or __dict__.
            if type(attr) is not str or attr.startswith("_"):
                raise self.fail(ProtocolError("a callback for a private attribute"))
            call = lambda: getattr(function, attr)  # noqa: E731
        else:
            try:
                args = self.decode({"t": "list", "v": message.get("args", [])})
                kwargs = message.get("kwargs", {})
                if type(kwargs) is not dict:
                    raise ProtocolError("callback keywords that are not an object")
                kwargs = {str(k): self.decode(v) for k, v in kwargs.items()}
            except ProtocolError as exc:
                raise self.fail(exc) from None
            call = lambda: function(*args, **kwargs)  # noqa: E731
        try:
            value = self.encode(call())
            reply = {"reply": number, "value": value}
        except ChannelBroken:
            raise
        except Exception as exc:  # noqa: BLE001 - our function failed on the learner's input
            reply = {"reply": number, "error": {"type": type(exc).__name__,
                                                "message": str(exc)[:MAX_MESSAGE]}}
        self._send(reply)

    # ------------------------------------------------ the pipes, under the clock
    def _wait(self, fd, writing: bool):
        began = time.monotonic()
        deadline, why = self.clock.deadline(began)
        try:
            while True:
                now = time.monotonic()
                self.clock.tick(now - began)
                if now >= deadline:
                    raise self.fail(ChannelTimeout(why))
                wait = min(deadline - now, 0.5)
                ready = (select.select([], [fd], [], wait) if writing
                         else select.select([fd], [], [], wait))
                if ready[1] if writing else ready[0]:
                    return
        finally:
            self.clock.used += time.monotonic() - began

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
