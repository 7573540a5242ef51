"""The server that holds ONE learner's objects, inside the sandbox.

Started by the grader as ``python -I runner.py fds:REQUESTS,REPLIES`` inside
bubblewrap. It runs nothing on its own: it reads requests (JSON lines) on the
REQUESTS pipe and writes one reply per request on the REPLIES pipe, until the
grader closes the pipe or kills it. stdout and stderr are not the channel.

It imports only the standard library and IPython. It never receives a case
list, an expected value, an exercise spec or the comparison: the grader keeps
those and asks for one operation at a time (run this cell's source, look up a
name, get an attribute, call, apply an operator...). Learner objects stay
here; the grader sees them as handles (the same object always gets the same
handle, so identity survives the round trip).

Nothing here is a secret or a defence: learner code runs in this process and
may rewrite any of it. The grader believes none of what it is told beyond
"this is the reply to your request n", and only within its own deadline.
See docs/ARCHITECTURE.md, section 11 (the protocol), and channel.py (the other end).
"""

import builtins
import importlib
import json
import math
import operator
import os
import sys

MAX_LINE = 256 * 1024       # channel.MAX_LINE: the grader refuses longer lines, so we never send one
MAX_DEPTH = 32              # containers nested deeper than this are not sent
MAX_MESSAGE = 2000          # characters of an exception message
MAX_FOLLOW = 1024           # reads one getattr request may carry ahead (channel.MAX_FOLLOW)

BINOPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
          "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
          "pow": operator.pow, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
          "ge": operator.ge, "eq": operator.eq, "ne": operator.ne}
UNOPS = {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs}
TAGS = {list: "list", dict: "dict", set: "set"}   # what a callee can change in place
SEQUENCES = (tuple, list, set, frozenset)          # what a read ahead looks into
PLAIN = (type(None), bool, int, float, str)

# Bound here, before any learner code: a learner who swaps json.dumps or
# JSONEncoder.encode later changes nothing in how this file talks.
_encode = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode
_decode = json.JSONDecoder().decode
_read, _write = os.read, os.write
_BUILTINS = dict(vars(builtins))
_builtins_dict = vars(builtins)


_BUILTIN_VALUES = list(_BUILTINS.values())
_all, _map, _len, _is = all, map, len, operator.is_   # bound before a learner can swap them


def restore_builtins():
    """Put back builtins a learner replaced (``isinstance``, ``float``): this file
    needs them to keep answering an honest notebook's requests. (Runs after every
    request: when each builtin is still the very object it was, in the same
    order, one pass in C says so in a few microseconds.)"""
    if (_len(_builtins_dict) == _len(_BUILTIN_VALUES)
            and _all(_map(_is, _builtins_dict.values(), _BUILTIN_VALUES))):
        return
    for name, value in _BUILTINS.items():
        if _builtins_dict.get(name) is not value:
            _builtins_dict[name] = value


class Server:
    def __init__(self, requests_fd, replies_fd, namespace_source):
        self.requests_fd = requests_fd
        self.replies_fd = replies_fd
        self.buffer = b""
        self.objects = {}       # handle -> object (kept alive, so id() stays unique)
        self.handles = {}       # id(object) -> handle
        self.callbacks = {}     # grader function id -> local stand-in
        self.next_callback = 0
        self.pure = False       # the request being answered ran no code of the learner's
        self.shell = namespace_source()
        self.namespace = self.shell.user_ns

    # ------------------------------------------------------------ the pipes
    def read_message(self):
        while b"\n" not in self.buffer:
            chunk = _read(self.requests_fd, 1 << 16)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return _decode(line.decode("utf-8"))

    def write_message(self, message):
        data = (_encode(message) + "\n").encode("utf-8", "replace")
        if len(data) > MAX_LINE and "ahead" in message:  # the reads ahead are a bonus
            message = {k: v for k, v in message.items() if k != "ahead"}
            data = (_encode(message) + "\n").encode("utf-8", "replace")
        if len(data) > MAX_LINE:
            reply = message.get("reply")
            data = (_encode({"reply": reply, "error": {
                "type": "ValueError", "message": "the result is too large to send"}}) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[_write(self.replies_fd, view):]

    # ------------------------------------------------------------ values
    def handle_of(self, obj):
        key = id(obj)
        handle = self.handles.get(key)
        if handle is None:
            handle = len(self.objects) + 1
            self.objects[handle] = obj
            self.handles[key] = handle
        return handle

    def encode(self, obj, shared=None, new=False, depth=0):
        """``obj`` as the channel carries it. A container of ``shared`` goes as a
        reference to its number; with ``new``, other lists, dicts and sets are
        numbered into ``shared`` (a callback's arguments)."""
        if depth > MAX_DEPTH:
            raise ValueError("the result is nested too deeply to send")
        kind = type(obj)
        if obj is None or kind is bool or kind is str:
            return obj
        if kind is int:
            return obj if abs(obj) < 2**63 else {"t": "float", "v": repr(float(obj))}
        if kind is float:
            return obj if math.isfinite(obj) else {"t": "float", "v": repr(obj)}
        if kind in TAGS:
            if shared is not None and id(obj) in shared.numbers:
                return {"t": "same", "n": shared.numbers[id(obj)]}
            out = {"t": TAGS[kind]}
            if new:
                out["n"] = shared.number(obj)
            out["v"] = self.contents(obj, shared, new, depth)
            return out
        if kind in (tuple, frozenset):
            return {"t": "tuple" if kind is tuple else "set",
                    "v": [self.encode(x, shared, new, depth + 1) for x in obj]}
        if kind is Callback:
            return {"t": "cb", "id": obj.number}
        try:
            name = str(type.__dict__["__name__"].__get__(kind))[:100]
        except BaseException:  # noqa: BLE001 - a hostile metaclass
            name = "object"
        return {"t": "ref", "h": self.handle_of(obj), "kind": name}

    def contents(self, container, shared=None, new=False, depth=0):
        if type(container) is dict:
            return [[self.encode(k, shared, new, depth + 1), self.encode(v, shared, new, depth + 1)]
                    for k, v in container.items()]
        return [self.encode(x, shared, new, depth + 1) for x in container]

    def read_ahead(self, value, attr, most):
        """[[handle, value], ...]: ``attr`` of the objects ``value`` holds, and of the
        objects those values hold, breadth first (a graph walk's next reads); then of
        the objects the grader was handed last, newest first (the nodes whose
        ``grad`` it reads one after another); at most ``most`` of them.

        Only plain instance attributes are read ahead: ``attr`` in the object's own
        ``__dict__`` and nowhere in its class, or a ``__slots__`` member, with the
        default ``__getattribute__``.
        Such a read runs no code of the learner's, so reading it early changes nothing
        that reading it when asked would show."""
        found, seen = [], set()

        def take(obj):
            """Read ``obj.attr`` ahead (once an object): its value, or _ABSENT."""
            if id(obj) in seen:
                return _ABSENT
            seen.add(id(obj))
            got = plain_attribute(obj, attr)
            if got is _ABSENT:
                return _ABSENT
            try:
                found.append([self.handle_of(obj), self.encode(got)])
            except ValueError:  # nested too deeply: asked for when needed
                return _ABSENT
            return got

        holders, next_holder = [value], 0
        try:
            while next_holder < len(holders) and len(found) < most:
                holder = holders[next_holder]
                next_holder += 1
                if type(holder) not in SEQUENCES:
                    continue
                for obj in tuple(holder):
                    if type(obj) in PLAIN or type(obj) in SEQUENCES:
                        continue
                    got = take(obj)
                    if got is not _ABSENT:
                        holders.append(got)
                        if len(found) >= most:
                            break
            handle = len(self.objects)
            while handle > 0 and len(found) < most and len(seen) < 4 * most:
                take(self.objects[handle])
                handle -= 1
        except BaseException:  # noqa: BLE001 - what was read so far still holds
            pass
        return found

    def states(self, shared):
        """What each container of ``shared`` holds now (sent back after a call)."""
        return [{"t": TAGS[type(c)], "v": self.contents(c, shared)} for c in shared.objects]

    def decode(self, value, shared):
        """A value the grader sent; its numbered lists, dicts and sets join ``shared``."""
        if isinstance(value, dict):
            tag = value.get("t")
            if tag == "ref":
                return self.objects[value["h"]]
            if tag == "cb":
                number = value["id"]
                if number not in self.callbacks:
                    self.callbacks[number] = Callback(self, number)
                return self.callbacks[number]
            if tag == "float":
                return float(value["v"])
            if tag == "same":
                return shared.objects[value["n"] - 1]
            items = value.get("v", [])
            if tag == "tuple":
                return tuple(self.decode(x, shared) for x in items)
            if tag not in ("list", "set", "dict"):
                raise ValueError(f"unknown value tag {tag!r}")
            container = {"list": list, "set": set, "dict": dict}[tag]()
            if "n" in value:
                shared.number(container)
            fill(container, [self.decode_item(x, shared, tag) for x in items])
            return container
        return value

    def decode_item(self, item, shared, tag):
        if tag == "dict":
            return (self.decode(item[0], shared), self.decode(item[1], shared))
        return self.decode(item, shared)

    # ------------------------------------------------------------ serving
    def serve(self, waiting_for=None):
        """Answer requests until EOF, or (inside a callback) until the reply to
        ``waiting_for`` arrives; then return that reply."""
        while True:
            message = self.read_message()
            if "reply" in message:
                if message["reply"] == waiting_for:
                    return message
                continue  # a stale reply: not ours to act on
            self.answer(message)

    def answer(self, message):
        number = message.get("id")
        shared = Shared()   # the grader's lists, dicts and sets passed by value
        self.pure = False
        try:
            result = self.perform(message, shared)
            reply = {"reply": number, "value": self.encode(result, shared)}
            if self.pure:  # no code of the learner's ran: reads ahead still hold
                reply["pure"] = True
            if shared.objects:  # as the call left them: the grader writes them back
                reply["after"] = self.states(shared)
            follow = message.get("follow")
            if type(follow) is int and follow > 0 and message.get("op") == "getattr":
                ahead = self.read_ahead(result, message.get("attr"), min(follow, MAX_FOLLOW))
                if ahead:
                    reply["ahead"] = ahead
        except BaseException as exc:  # noqa: BLE001 - learner code may raise anything
            reply = {"reply": number, "error": describe(exc)}
            try:
                if shared.objects:
                    reply["after"] = self.states(shared)
            except BaseException:  # noqa: BLE001 - the error reply goes without them
                pass
        sys.settrace(None)
        sys.setprofile(None)
        restore_builtins()
        self.write_message(reply)

    def perform(self, message, shared):
        op = message["op"]

        def arg(value):
            return self.decode(value, shared)
        if op == "run_cell":
            try:
                self.shell.run_cell(message["source"], store_history=True)
            except BaseException:  # noqa: BLE001 - keep going like a kernel would
                pass
            return None
        if op == "name":
            name = message["name"]
            if name not in self.namespace:
                raise NameError(f"name {name!r} is not defined")
            return self.namespace[name]
        if op == "import":
            module, _, qualname = message["piece"].partition(":")
            obj = importlib.import_module(module)
            for part in qualname.split(".") if qualname else ():
                obj = getattr(obj, part)
            return obj
        if op == "getattr":
            obj, attr = arg(message["obj"]), message["attr"]
            value = plain_attribute(obj, attr)
            if value is _ABSENT:
                return getattr(obj, attr)
            self.pure = True
            return value
        if op == "setattr":
            setattr(arg(message["obj"]), message["attr"], arg(message["value"]))
            return None
        if op == "call":
            args = [arg(a) for a in message.get("args", [])]
            kwargs = {k: arg(v) for k, v in message.get("kwargs", {}).items()}
            return arg(message["obj"])(*args, **kwargs)
        if op == "binop":
            return BINOPS[message["name"]](arg(message["a"]), arg(message["b"]))
        if op == "unop":
            return UNOPS[message["name"]](arg(message["a"]))
        if op == "getitem":
            return arg(message["obj"])[arg(message["key"])]
        if op == "len":
            return int(len(arg(message["obj"])))
        if op == "list":
            return list(arg(message["obj"]))
        if op == "float":
            return float(arg(message["obj"]))
        if op == "bool":
            return bool(arg(message["obj"]))
        raise ValueError(f"unknown operation {op!r}")


class Callback:
    """A function (or small object, such as a test model) the grader passed in:
    calling it, or reading one of its public attributes, asks the grader."""

    def __init__(self, server, number):
        object.__setattr__(self, "server", server)
        object.__setattr__(self, "number", number)

    def __call__(self, *args, **kwargs):
        server, shared = self.server, Shared()
        reply = self._ask({"args": [server.encode(a, shared, new=True) for a in args],
                           "kwargs": {str(k): server.encode(v, shared, new=True)
                                      for k, v in kwargs.items()}})
        for container, state in zip(shared.objects, reply.get("after", ())):
            items = [server.decode_item(x, shared, state["t"]) for x in state["v"]]
            container.clear()
            fill(container, items)
        return self._value(reply, shared)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._value(self._ask({"attr": name}), Shared())

    def _ask(self, fields):
        server = self.server
        server.next_callback += 1
        request = -server.next_callback  # negative ids: ours, never the grader's
        server.write_message({"id": request, "op": "callback", "fn": self.number, **fields})
        return server.serve(waiting_for=request)

    def _value(self, reply, shared):
        if "error" in reply:
            raise RuntimeError(str(reply["error"].get("message", "the grader's function failed")))
        return self.server.decode(reply.get("value"), shared)


class Shared:
    """The lists, dicts and sets one message passes by value, numbered 1, 2, ...
    (channel.Shared is the grader's twin)."""

    def __init__(self):
        self.objects = []
        self.numbers = {}   # id(container) -> its number

    def number(self, container):
        self.objects.append(container)
        self.numbers[id(container)] = len(self.objects)
        return len(self.objects)


_ABSENT = object()
_GETSET = type(type.__dict__["__dict__"])   # the C slot an instance's __dict__ is read by
_SLOT = type(type.__dict__["__weakrefoffset__"])  # a __slots__ member (member_descriptor)
_type_mro = type.__dict__["__mro__"].__get__
_type_dict = type.__dict__["__dict__"].__get__


def plain_attribute(obj, attr):
    """``obj.attr`` when it is a plain instance attribute (read without running any
    code of the object's class), else _ABSENT."""
    if type(attr) is not str:
        return _ABSENT
    holder = slot = None
    for klass in _type_mro(type(obj)):
        names = _type_dict(klass)
        if attr in names and slot is None:
            slot = names[attr]
            if type(slot) is not _SLOT:
                return _ABSENT  # a class attribute, property or descriptor: ask when asked
        if klass is not object and "__getattribute__" in names:
            return _ABSENT  # the class decides what a read returns
        if holder is None:
            holder = names.get("__dict__")
    if slot is not None:  # a __slots__ member: read by C code, as for __dict__
        try:
            return slot.__get__(obj)
        except AttributeError:
            return _ABSENT
    if type(holder) is not _GETSET:
        return _ABSENT
    own = holder.__get__(obj)
    if type(own) is not dict:
        return _ABSENT
    return own.get(attr, _ABSENT)


def fill(container, items):
    """Put ``items`` into the empty ``container``: (key, value) pairs for a dict."""
    if type(container) is list:
        container.extend(items)
    else:
        container.update(items)


def describe(exc):
    try:
        name = str(type.__dict__["__name__"].__get__(type(exc)))[:100]
    except BaseException:  # noqa: BLE001
        name = "Exception"
    try:
        message = str(exc)[:MAX_MESSAGE]
    except BaseException:  # noqa: BLE001 - a hostile __str__
        message = "(the error message itself could not be printed)"
    return {"type": name, "message": message}


def make_shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
    config = Config()
    # No history database and no thread saving to it: nobody reads a graded
    # notebook's history, and the sandbox's start-up is paid once per learner.
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    # Nothing a graded notebook displays is shown to anyone: plain text only,
    # so rich reprs (a graphviz drawing runs `dot`) cost nothing.
    shell.display_formatter.active_types = ["text/plain"]
    shell.display_formatter.mimebundle_formatter.enabled = False
    shell.display_formatter.ipython_display_formatter.enabled = False
    return shell


def main(argument):
    if argument.startswith("zygote:"):
        return serve_forks(int(argument[7:]))
    if not argument.startswith("fds:"):
        raise SystemExit(f"usage: runner.py fds:REQUESTS,REPLIES | zygote:CONTROL (got {argument!r})")
    requests_fd, replies_fd = (int(x) for x in argument[4:].split(","))
    server = Server(requests_fd, replies_fd, make_shell)
    try:
        server.serve()
    except EOFError:
        pass


# ---------------------------------------------------------------- the warm runner
# As ``zygote:FD`` this process never runs learner code: it imports what the
# notebook imports, once, then forks one child per submission (warm.py, the
# grader's end, explains the whole life cycle). It runs as root inside the sandbox
# with two capabilities (setuid, setgid) so that each child can become the
# learner's uid; the child gives them up before anything else, so no learner process
# can signal, trace or write to this one.
MAX_CONTROL = 64 * 1024


def serve_forks(control_fd):
    import socket
    control = socket.socket(fileno=control_fd)
    exits = {}      # pid in this namespace -> exit code (negative: the signal)
    send = lambda reply: control.sendall((_encode(reply) + "\n").encode())  # noqa: E731
    while True:
        message, fds, _, _ = socket.recv_fds(control, MAX_CONTROL, 3)
        if not message:
            os._exit(0)   # the grader is gone or done: the sandbox ends with us
        _reap(exits)
        request = _decode(message.decode())
        if request["op"] == "preload":
            # The runner's own imports, then the notebook's top-level ones, as its
            # import statements would run them (one that fails is the learner's to meet).
            for module, names in [["IPython.core.interactiveshell", []],
                                  ["traitlets.config", []], *request["imports"]]:
                try:
                    __import__(module, fromlist=names)
                except Exception:  # noqa: BLE001
                    pass
            send({"ready": os.getpid()})
        elif request["op"] == "fork":
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    control.close()
                    exits.clear()   # earlier children's exit statuses are not this one's business
                    _become_child(request["uid"], *fds)
                finally:
                    os._exit(70)
            for fd in fds:
                os.close(fd)
            send({"pid": pid})
        elif request["op"] == "wait":
            import time
            deadline = time.monotonic() + min(float(request["timeout"]), 30.0)
            while request["pid"] not in exits and time.monotonic() < deadline:
                time.sleep(0.01)
                _reap(exits)
            send({"status": exits.pop(request["pid"], None)})


def _reap(exits):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exits[pid] = os.waitstatus_to_exitcode(status)


def _become_child(uid, requests_fd, replies_fd, stderr_fd):
    """One submission's process: the learner's uid, its own pipes, then the server.

    Nothing of the learner's runs before the first request arrives, and the
    grader sends it only after moving this process into the submission's cgroup."""
    import random
    import select
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)   # all ids non-zero: the capabilities are gone for good
    # Changing ids made this process non-dumpable (its /proc files root's): undo that,
    # as exec would, so the learner's process is an ordinary one of its uid.
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(4, 1, 0, 0, 0)   # PR_SET_DUMPABLE
    os.dup2(stderr_fd, 2)
    keep = sorted({0, 1, 2, requests_fd, replies_fd})
    for low, high in zip(keep, keep[1:] + [1 << 20]):
        os.closerange(low + 1, high)
    _remove_ipc_objects(libc)
    random.seed()   # as a fresh interpreter: the zygote's state is not the learner's
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    waiting = select.poll()
    waiting.register(requests_fd, select.POLLIN)
    waiting.poll()
    main(f"fds:{requests_fd},{replies_fd}")
    os._exit(0)


def _remove_ipc_objects(libc):
    """Remove the System V shared memory, semaphores and message queues an earlier
    child of this sandbox (this uid) left: the namespace outlives each submission."""
    ipc_rmid = 0
    for kind, remove in (("shm", lambda i: libc.shmctl(i, ipc_rmid, None)),
                         ("sem", lambda i: libc.semctl(i, 0, ipc_rmid)),
                         ("msg", lambda i: libc.msgctl(i, ipc_rmid, None))):
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                remove(int(fields[1]))


if __name__ == "__main__":
    # The second argument is the folder of the notebook's generated microgradlab: first on sys.path.
    if len(sys.argv) > 2:
        sys.path.insert(0, sys.argv[2])
    main(sys.argv[1])
    # Skip interpreter shutdown: learner atexit hooks and __del__ methods must not run.
    os._exit(0)
