"""Expression programs: one small description of a computation, many ways to run it.

A program is plain JSON, so a grader can store it, a sandbox can rebuild it and
PyTorch can replay it::

    {"leaves": {"a": 2.0, "b": 3.0},
     "ops": [["c", "mul", "a", "b"], ["d", "add", "c", "b"], ["L", "tanh", "d"]],
     "output": "L"}

Each op is ``[result_name, op_name, arg, ...]`` (single assignment: every name
is written once). An argument is the name of an earlier node or, for the
constant forms, a plain number:

=========  ======================  =========================
op         Python it runs          arguments
=========  ======================  =========================
add sub    ``a + b``  ``a - b``    two nodes
mul div    ``a * b``  ``a / b``    two nodes
neg        ``-a``                  one node
pow        ``a ** k``              node, number k
exp log    ``a.exp()`` ...         one node
tanh relu sigmoid                  one node
radd ...   ``c + a`` (rsub rmul    number c first, then node
           rdiv likewise)
addc ...   ``a + c`` (subc mulc    node first, then number c
           divc likewise)
=========  ======================  =========================

Three ways to run a program live here, none of which needs PyTorch:

* :func:`build` runs it with Python operators on any objects (the learner's
  ``Value``, ``microgradlab.Value``, torch tensors);
* :func:`evaluate` runs it on plain floats with :mod:`math`;
* :func:`gradients` is a tiny reverse-mode interpreter on floats whose
  chain-rule steps can be swapped one op at a time. The checker uses it to ask
  "what numbers would the learner get if they had made mistake X?".
"""

from __future__ import annotations

import math
import random

__all__ = [
    "NODE_OPS", "CONSTANT_OPS", "UNARY_OPS", "ALL_OPS",
    "build", "evaluate", "gradients", "topological_names", "random_program",
    "chain_program", "check_program", "leaf_names", "consumers",
]

BINARY_OPS = ("add", "sub", "mul", "div")
UNARY_OPS = ("neg", "exp", "log", "tanh", "relu", "sigmoid")
REFLECTED_OPS = ("radd", "rsub", "rmul", "rdiv")      # constant first: c + a
CONSTANT_OPS = ("addc", "subc", "mulc", "divc")        # constant second: a + c
NODE_OPS = BINARY_OPS + UNARY_OPS
ALL_OPS = BINARY_OPS + UNARY_OPS + ("pow",) + REFLECTED_OPS + CONSTANT_OPS


# ----------------------------------------------------------------------------
# Reading a program
# ----------------------------------------------------------------------------
def node_args(op):
    """The names of the nodes an op reads (constants left out), in operand order."""
    _, name, *args = op
    if name == "pow":
        return [args[0]]
    if name in REFLECTED_OPS:
        return [args[1]]
    if name in CONSTANT_OPS:
        return [args[0]]
    return list(args)


def leaf_names(program):
    return list(program["leaves"])


def consumers(program):
    """name -> how many times later ops read it (a node read twice counts twice)."""
    counts = {name: 0 for name in program["leaves"]}
    for op in program["ops"]:
        counts.setdefault(op[0], 0)
        for arg in node_args(op):
            counts[arg] += 1
    return counts


def check_program(program):
    """Raise ValueError naming the problem if ``program`` is not a valid program."""
    if not isinstance(program, dict) or not {"leaves", "ops", "output"} <= set(program):
        raise ValueError("a program is a dict with keys 'leaves', 'ops' and 'output'")
    known = set(program["leaves"])
    for op in program["ops"]:
        if not isinstance(op, (list, tuple)) or len(op) < 3:
            raise ValueError(f"an op is [result, op_name, args...], got {op!r}")
        result, name = op[0], op[1]
        if name not in ALL_OPS:
            raise ValueError(f"unknown op {name!r} in {op!r}; known ops: {', '.join(ALL_OPS)}")
        expected_len = 3 if name in UNARY_OPS else 4
        if len(op) != expected_len:
            raise ValueError(f"op {name!r} takes {expected_len - 2} argument(s), got {op!r}")
        for arg in node_args(op):
            if arg not in known:
                raise ValueError(f"{op!r} reads {arg!r} before it is defined")
        if result in known:
            raise ValueError(f"{op!r} writes {result!r} a second time (names are written once)")
        known.add(result)
    if program["output"] not in known:
        raise ValueError(f"the output {program['output']!r} is not a node of the program")


# ----------------------------------------------------------------------------
# Running a program with Python operators
# ----------------------------------------------------------------------------
def _apply(op, nodes, unary):
    """Run one op on already-built operand objects. ``unary(name, x)`` runs exp/log/..."""
    _, name, *args = op
    if name in BINARY_OPS:
        a, b = nodes[args[0]], nodes[args[1]]
        if name == "add":
            return a + b
        if name == "sub":
            return a - b
        if name == "mul":
            return a * b
        return a / b
    if name == "neg":
        return -nodes[args[0]]
    if name in UNARY_OPS:
        return unary(name, nodes[args[0]])
    if name == "pow":
        return nodes[args[0]] ** args[1]
    if name in REFLECTED_OPS:
        c, a = args[0], nodes[args[1]]
        return {"radd": lambda: c + a, "rsub": lambda: c - a,
                "rmul": lambda: c * a, "rdiv": lambda: c / a}[name]()
    a, c = nodes[args[0]], args[1]
    return {"addc": lambda: a + c, "subc": lambda: a - c,
            "mulc": lambda: a * c, "divc": lambda: a / c}[name]()


def _call_method(name, x):
    return getattr(x, name)()


def build(program, make_leaf, unary=None):
    """Build ``program`` from ``make_leaf(value)`` objects; return {name: node}.

    Only Python operators and methods are used (``a * b``, ``2 - a``, ``a ** 3``,
    ``a.tanh()``), so the same call builds the graph from a learner's ``Value``,
    from ``microgradlab.Value`` or from torch tensors. ``unary(op_name, x)``
    replaces the method call for exp/log/tanh/relu/sigmoid when the objects have
    no such methods (notebook 05's learner writes ``tanh(v)`` as a function).
    """
    unary = unary or _call_method
    nodes = {name: make_leaf(value) for name, value in program["leaves"].items()}
    for op in program["ops"]:
        nodes[op[0]] = _apply(op, nodes, unary)
    return nodes


def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


FLOAT_FUNCTIONS = {
    "exp": math.exp, "log": math.log, "tanh": math.tanh,
    "relu": lambda x: x if x > 0 else 0.0, "sigmoid": _sigmoid,
}


def evaluate(program, leaves=None):
    """Every node's value on plain floats: {name: float}. ``leaves`` overrides the leaf values."""
    values = dict(program["leaves"])
    if leaves is not None:
        values.update(leaves)
    values = {k: float(v) for k, v in values.items()}
    for op in program["ops"]:
        values[op[0]] = float(_apply(op, values, lambda name, x: FLOAT_FUNCTIONS[name](x)))
    return values


def as_function(program):
    """The program as a plain function of its leaves in order: f(*xs) -> float."""
    names = leaf_names(program)

    def f(*xs):
        if len(xs) != len(names):
            raise TypeError(f"this function takes {len(names)} numbers, got {len(xs)}")
        return evaluate(program, dict(zip(names, xs)))[program["output"]]

    return f


# ----------------------------------------------------------------------------
# A reverse-mode interpreter on floats with swappable chain-rule steps
# ----------------------------------------------------------------------------
def local_derivatives(op, values):
    """d(result)/d(each node argument) for one op, in the order of node_args(op).

    These are the correct rules; a mistake replaces some of them.
    """
    _, name, *args = op
    out = values[op[0]]
    if name in BINARY_OPS:
        a, b = values[args[0]], values[args[1]]
        if name == "add":
            return (1.0, 1.0)
        if name == "sub":
            return (1.0, -1.0)
        if name == "mul":
            return (b, a)
        return (1.0 / b, -a / (b * b))
    x = values[node_args(op)[0]]
    if name == "neg":
        return (-1.0,)
    if name == "exp":
        return (out,)
    if name == "log":
        return (1.0 / x,)
    if name == "tanh":
        return (1.0 - out * out,)
    if name == "relu":
        return (1.0 if out > 0 else 0.0,)
    if name == "sigmoid":
        return (out * (1.0 - out),)
    if name == "pow":
        k = args[1]
        return (k * x ** (k - 1),)
    if name in REFLECTED_OPS:
        c = args[0]
        if name == "rdiv":
            return (-c / (x * x),)
        return ({"radd": 1.0, "rsub": -1.0, "rmul": c}[name],)
    c = args[1]
    return ({"addc": 1.0, "subc": 1.0, "mulc": c, "divc": 1.0 / c}[name],)


def topological_names(program):
    """Op results in the order a depth-first walk from the output finishes them
    (each node after all of its inputs), the order micrograd-style code builds."""
    by_name = {op[0]: op for op in program["ops"]}
    order, seen = [], set()
    stack = [(program["output"], iter(node_args(by_name[program["output"]]))
              if program["output"] in by_name else iter(()))]
    seen.add(program["output"])
    while stack:
        name, inputs = stack[-1]
        for arg in inputs:
            if arg not in seen:
                seen.add(arg)
                stack.append((arg, iter(node_args(by_name[arg])) if arg in by_name else iter(())))
                break
        else:
            stack.pop()
            order.append(name)
    return order


def gradients(program, rule=None, accumulate=True, seed=1.0, walk="reverse_topological",
              leaves=None):
    """Every node's grad after a backward pass from the output, on floats.

    rule(op, values) -> local derivatives replaces :func:`local_derivatives`
    (to simulate a wrong chain-rule step); ``accumulate=False`` writes ``=``
    instead of ``+=`` (a set of op names: only those ops assign); ``seed`` is the output's starting grad (0.0 = forgot to
    seed); ``walk`` chooses the order the steps run in:

    * ``"reverse_topological"`` -- correct: every node after all its consumers;
    * ``"forward"`` -- topological order not reversed;
    * ``"recursive"`` -- a node's step runs as soon as one consumer reaches it
      (depth-first from the output, remembering visited nodes);
    * ``"recursive_no_seen"`` -- the same without remembering visited nodes.
    """
    rule = rule or local_derivatives
    values = evaluate(program, leaves)
    by_name = {op[0]: op for op in program["ops"]}
    grads = {name: 0.0 for name in values}
    grads[program["output"]] = seed

    def step(name):
        op = by_name.get(name)
        if op is None:
            return
        g = grads[name]
        adds = accumulate if isinstance(accumulate, bool) else op[1] not in accumulate
        for arg, local in zip(node_args(op), rule(op, values)):
            grads[arg] = grads[arg] + local * g if adds else local * g

    order = topological_names(program)
    if walk == "reverse_topological":
        for name in reversed(order):
            step(name)
    elif walk == "forward":
        for name in order:
            step(name)
    elif walk in ("recursive", "recursive_no_seen"):
        seen = set()
        stack = [program["output"]]
        budget = 100_000  # the no-seen walk is exponential on deep shared graphs
        while stack and budget:
            budget -= 1
            name = stack.pop()
            if walk == "recursive" and name in seen:
                continue
            seen.add(name)
            step(name)
            if name in by_name:
                stack.extend(reversed(node_args(by_name[name])))
    else:
        raise ValueError(f"unknown walk {walk!r}")
    return grads


# ----------------------------------------------------------------------------
# Drawing programs at random
# ----------------------------------------------------------------------------
def _round(x):
    return round(x, 3)


def _valid_result(op, values):
    """The op's value if it is safe to test with, else None."""
    _, name, *args = op
    xs = [values[a] for a in node_args(op)]
    if name in ("div",) and abs(xs[1]) < 0.3:
        return None
    if name == "rdiv" and abs(xs[0]) < 0.3:
        return None
    if name == "log" and xs[0] < 0.1:
        return None
    if name == "exp" and xs[0] > 5:
        return None
    if name == "pow":
        base, k = xs[0], args[1]
        if base < 0 and not float(k).is_integer():
            return None
        if k < 1 and abs(base) < 0.3:
            return None
    try:
        result = float(_apply(op, values, lambda n, x: FLOAT_FUNCTIONS[n](x)))
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if not math.isfinite(result) or abs(result) > 1e3:
        return None
    return result


def _random_op(rng, name, result, names):
    if name in BINARY_OPS:
        return [result, name, rng.choice(names), rng.choice(names)]
    if name == "pow":
        return [result, name, rng.choice(names), rng.choice([2, 3, -1, 0.5])]
    c = _round(rng.choice([-1, 1]) * rng.uniform(0.5, 3.0))
    if name in REFLECTED_OPS:
        return [result, name, c, rng.choice(names)]
    if name in CONSTANT_OPS:
        return [result, name, rng.choice(names), c]
    return [result, name, rng.choice(names)]


def _join(ops, preference, result, left, right, values):
    """The op that joins ``left`` and ``right`` into ``result``: the first binary op of
    ``preference`` that ``ops`` allows and that gives a safe value (either order of the
    two); ``add`` (then ``mul``) only when ``ops`` offers no such op."""
    allowed = [name for name in preference if name in ops]
    for name in allowed + ["add", "mul"]:
        for a, b in ((left, right), (right, left)):
            op = [result, name, a, b]
            if _valid_result(op, values) is not None:
                return op
    return [result, "add", left, right]


def random_program(rng, ops=("add", "sub", "mul", "tanh"), n_leaves=3, n_ops=5,
                   reuse=True, low=-2.0, high=2.0):
    """A random valid program drawn from ``rng`` (a ``random.Random``).

    Leaves get values in [low, high] rounded to 3 decimals. Ops are drawn from
    ``ops`` and kept only if their value is safe: log only of values >= 0.1, no
    division by values near 0, a negative base only to an integer power,
    nothing above 1e3 in size. Nodes nobody reads are joined into the output at
    the end, so every leaf matters. With ``reuse=True`` some node is read twice
    (a shared sub-expression), which is where ``=``-instead-of-``+=`` shows. The
    joins use a binary op of ``ops`` too (add or mul only when ``ops`` has none).
    """
    if not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
    if n_leaves < 1 or n_ops < 1:
        raise ValueError(f"need n_leaves >= 1 and n_ops >= 1, got {n_leaves}, {n_ops}")
    unknown = set(ops) - set(ALL_OPS)
    if unknown:
        raise ValueError(f"unknown ops {sorted(unknown)}; known ops: {', '.join(ALL_OPS)}")
    # A draw whose joins had to leave ``ops`` (every allowed join was unsafe) is drawn
    # again; after 50 tries (never seen) the last one is kept.
    for _attempt in range(50):
        program = _draw_program(rng, ops, n_leaves, n_ops, reuse, low, high)
        if not BINARY_OPS_SET & set(ops) or {op[1] for op in program["ops"]} <= set(ops):
            return program
    return program


BINARY_OPS_SET = frozenset(BINARY_OPS)


def _draw_program(rng, ops, n_leaves, n_ops, reuse, low, high):
    leaf_list = "abcdefghjkmnpqrstuvw"
    leaves = {}
    for i in range(n_leaves):
        value = 0.0
        while abs(value) < 0.2:  # keep leaves away from 0: 1/x and log stay tame
            value = _round(rng.uniform(low, high))
        leaves[leaf_list[i] if i < len(leaf_list) else f"x{i}"] = value
    program = {"leaves": leaves, "ops": [], "output": None}
    values = dict(leaves)
    names = list(leaves)
    unread = set(names)
    for i in range(n_ops):
        for _attempt in range(50):
            op = _random_op(rng, rng.choice(list(ops)), f"n{i + 1}", names)
            # prefer ops that read something nobody has read yet
            if unread and not set(node_args(op)) & unread and rng.random() < 0.7:
                continue
            result = _valid_result(op, values)
            if result is not None:
                break
        else:
            op = [f"n{i + 1}", "mulc", rng.choice(names), 0.5]
            result = _valid_result(op, values)
        program["ops"].append(op)
        values[op[0]] = result
        unread -= set(node_args(op))
        unread.add(op[0])
        names.append(op[0])
    # Fold every node nobody reads into the output, and (reuse) read one leaf again,
    # with ops from ``ops`` only: a join drawn from outside them would make a mistake
    # in another exercise's op cost this exercise points, by chance of the draw.
    dangling = [n for n in names if n in unread]
    out = dangling[-1] if dangling else names[-1]
    k = n_ops
    for other in dangling[:-1]:
        k += 1
        op = _join(ops, ("add", "sub", "mul", "div"), f"n{k}", out, other, values)
        program["ops"].append(op)
        value = _valid_result(op, values)
        values[op[0]] = 1e3 if value is None else value  # (only later joins read it)
        out = f"n{k}"
    if reuse and all(c < 2 for c in consumers({**program, "output": out}).values()):
        k += 1
        op = _join(ops, ("mul", "add", "sub", "div"), f"n{k}", out, names[0], values)
        program["ops"].append(op)
        value = _valid_result(op, values)
        values[op[0]] = 1e3 if value is None else value  # (only later joins read it)
        out = f"n{k}"
    program["output"] = out
    return program


def chain_program(depth, start=0.5):
    """A chain x -> n1 -> n2 -> ... of ``depth`` ops (alternating *0.999 and +0.001,
    so values stay tame): the deep graph that breaks a recursive walk."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    ops, prev = [], "x"
    for i in range(1, depth + 1):
        op = ["mulc", prev, 0.999] if i % 2 else ["addc", prev, 0.001]
        ops.append([f"n{i}", *op])
        prev = f"n{i}"
    return {"leaves": {"x": start}, "ops": ops, "output": prev}


_OP_TEXT = {"add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}",
            "neg": "-{0}", "pow": "{0} ** {1}", "radd": "{0} + {1}", "rsub": "{0} - {1}",
            "rmul": "{0} * {1}", "rdiv": "{0} / {1}", "addc": "{0} + {1}", "subc": "{0} - {1}",
            "mulc": "{0} * {1}", "divc": "{0} / {1}"}


def describe_op(op):
    """One op as the learner would write it: ``"s = x * x"``, ``"t = tanh(d)"``."""
    name, kind, *args = op
    if kind in _OP_TEXT:
        return f"{name} = " + _OP_TEXT[kind].format(*args)
    return f"{name} = {kind}({', '.join(str(a) for a in args)})"


def users_of(program, node):
    """The ops that read ``node``, as text (``["s = x * x", "t = s + x"]``)."""
    return [describe_op(op) for op in program["ops"] if node in node_args(op)]


def producer_of(program, node):
    """The op that computes ``node`` as text, or None for a leaf."""
    return next((describe_op(op) for op in program["ops"] if op[0] == node), None)
