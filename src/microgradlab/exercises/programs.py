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

Every op name is an entry of :data:`microgradlab.ops.OPS` (what it computes,
its local derivatives, how it is written); the constant forms (``radd`` ...
``divc``) are derived from the two-input entries by
:func:`microgradlab.ops.with_constant`. Three ways to run a program live here,
none of which needs PyTorch:

* :func:`build` runs it with Python operators on any objects (the learner's
  ``Value``, ``microgradlab.Value``, torch tensors);
* :func:`evaluate` runs it on plain floats, with each op's ``forward``;
* :func:`gradients` is a tiny reverse-mode interpreter on floats, with each
  op's ``local`` derivatives, any of which can be swapped for a wrong one. The
  checker uses it to ask "what numbers would the learner get if they had made
  mistake X?".
"""

from __future__ import annotations

import math
import random

from ..graph import walk as walk_graph
from ..ops import OPS, with_constant

__all__ = [
    "NODE_OPS", "CONSTANT_OPS", "UNARY_OPS", "ALL_OPS", "PROGRAM_OPS",
    "build", "evaluate", "gradients", "topological_names", "random_program",
    "chain_program", "check_program", "leaf_names", "consumers",
]

# The ops a program may use, in this order (random_program draws from it).
BINARY_OPS = ("add", "sub", "mul", "div")
UNARY_OPS = ("neg", "exp", "log", "tanh", "relu", "sigmoid")
REFLECTED_OPS = tuple("r" + name for name in BINARY_OPS)   # constant first: c + a
CONSTANT_OPS = tuple(name + "c" for name in BINARY_OPS)    # constant second: a + c
NODE_OPS = BINARY_OPS + UNARY_OPS
ALL_OPS = BINARY_OPS + UNARY_OPS + ("pow",) + REFLECTED_OPS + CONSTANT_OPS

#: program op name -> its entry of the table (the constant forms derived here).
PROGRAM_OPS = {name: OPS[name] for name in NODE_OPS + ("pow",)}
for _name in BINARY_OPS:
    for _form in (with_constant(OPS[_name], 0), with_constant(OPS[_name], 1)):
        PROGRAM_OPS[_form.name] = _form
del _name, _form


# ----------------------------------------------------------------------------
# Reading a program
# ----------------------------------------------------------------------------
def node_args(op):
    """The names of the nodes an op reads (constants left out), in operand order."""
    _, name, *args = op
    constant = PROGRAM_OPS[name].constant
    return [arg for i, arg in enumerate(args) if i != constant]


def _operands(op, values):
    """The op's operands: the value of each node it reads, its constant as it is."""
    _, name, *args = op
    constant = PROGRAM_OPS[name].constant
    return [arg if i == constant else values[arg] for i, arg in enumerate(args)]


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
        entry = PROGRAM_OPS[name]
        expected_len = 2 + entry.arity + (entry.constant is not None)
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
def _call_method(name, x):
    return getattr(x, PROGRAM_OPS[name].python)()


def build(program, make_leaf, unary=None):
    """Build ``program`` from ``make_leaf(value)`` objects; return {name: node}.

    Only Python operators and methods are used, as the table says each op is
    written (``a * b``, ``2 - a``, ``a ** 3``, ``a.tanh()``), so the same call
    builds the graph from a learner's ``Value``, from ``microgradlab.Value``
    or from torch tensors. ``unary(op_name, x)`` replaces the method call for
    exp/log/tanh/relu/sigmoid when the objects have no such methods (notebook
    05's learner writes ``tanh(v)`` as a function).
    """
    unary = unary or _call_method
    nodes = {name: make_leaf(value) for name, value in program["leaves"].items()}
    for op in program["ops"]:
        entry = PROGRAM_OPS[op[1]]
        operands = _operands(op, nodes)
        if isinstance(entry.python, str):  # a method: x.tanh()
            nodes[op[0]] = unary(entry.name, *operands)
        else:  # an operator: a * b, 2 - a, a ** 3
            nodes[op[0]] = entry.python(*operands)
    return nodes


def _value(op, values):
    """The op's value on floats (its forward)."""
    return float(PROGRAM_OPS[op[1]].forward(*_operands(op, values)))


def evaluate(program, leaves=None):
    """Every node's value on plain floats: {name: float}. ``leaves`` overrides the leaf values."""
    values = dict(program["leaves"])
    if leaves is not None:
        values.update(leaves)
    values = {k: float(v) for k, v in values.items()}
    for op in program["ops"]:
        values[op[0]] = _value(op, values)
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
def topological_names(program):
    """Every name the output depends on, each after all of its inputs, in the
    order a depth-first walk from the output finishes them (graph.walk over
    names): the order micrograd-style code builds."""
    by_name = {op[0]: op for op in program["ops"]}

    def inputs(name):
        return node_args(by_name[name]) if name in by_name else ()

    return walk_graph(program["output"], inputs, key=None).order


def gradients(program, swap=None, accumulate=True, seed=1.0, walk="reverse_topological",
              leaves=None):
    """Every node's grad after a backward pass from the output, on floats.

    Each op's step adds its table ``local`` derivatives times the op's grad to
    its inputs. ``swap={op_name: wrong_local}`` runs a wrong local rule in
    place of the right one (to simulate a mistake); ``accumulate=False``
    writes ``=`` instead of ``+=`` (a set of op names: only those ops assign);
    ``seed`` is the output's starting grad (0.0 = forgot to seed); ``walk``
    chooses the order the steps run in:

    * ``"reverse_topological"`` -- correct: every node after all its consumers;
    * ``"forward"`` -- topological order not reversed;
    * ``"recursive"`` -- a node's step runs as soon as one consumer reaches it
      (depth-first from the output, remembering visited nodes);
    * ``"recursive_no_seen"`` -- the same without remembering visited nodes.
    """
    swap = swap or {}
    values = evaluate(program, leaves)
    by_name = {op[0]: op for op in program["ops"]}
    grads = {name: 0.0 for name in values}
    grads[program["output"]] = seed

    def step(name):
        op = by_name.get(name)
        if op is None:
            return
        g = grads[name]
        local = swap.get(op[1]) or PROGRAM_OPS[op[1]].local
        adds = accumulate if isinstance(accumulate, bool) else op[1] not in accumulate
        for arg, d in zip(node_args(op), local(*_operands(op, values), values[name])):
            grads[arg] = grads[arg] + d * g if adds else d * g

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
    """The op's value if it is safe to test with (the table's ``testable``: away from
    poles and overflow; finite and at most 1e3 in size), else None."""
    entry = PROGRAM_OPS[op[1]]
    if entry.testable is not None and not entry.testable(*_operands(op, values)):
        return None
    try:
        result = _value(op, values)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if not math.isfinite(result) or abs(result) > 1e3:
        return None
    return result


def _random_op(rng, name, result, names):
    """A random use of the op ``name``: nodes drawn from ``names``, a constant from
    the table's ``constants`` (pow's exponents) or else a number in +-[0.5, 3].
    That number is drawn for every one-node op, whether it takes a constant or
    not: drawing it only where it is used would change the program every
    recorded seed gives."""
    entry = PROGRAM_OPS[name]
    if entry.arity == 2:
        return [result, name, rng.choice(names), rng.choice(names)]
    if entry.constants:
        return [result, name, rng.choice(names), rng.choice(list(entry.constants))]
    c = _round(rng.choice([-1, 1]) * rng.uniform(0.5, 3.0))
    count = entry.arity + (entry.constant is not None)
    return [result, name] + [c if i == entry.constant else rng.choice(names) for i in range(count)]


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


def describe_op(op):
    """One op as the learner would write it: ``"s = x * x"``, ``"t = tanh(d)"``."""
    name, kind, *args = op
    entry = PROGRAM_OPS.get(kind)
    if entry is not None and len(args) == entry.arity + (entry.constant is not None):
        return f"{name} = " + entry.text.format(*args)
    return f"{name} = {kind}({', '.join(str(a) for a in args)})"


def users_of(program, node):
    """The ops that read ``node``, as text (``["s = x * x", "t = s + x"]``)."""
    return [describe_op(op) for op in program["ops"] if node in node_args(op)]


def producer_of(program, node):
    """The op that computes ``node`` as text, or None for a leaf."""
    return next((describe_op(op) for op in program["ops"] if op[0] == node), None)
