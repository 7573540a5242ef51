"""Notebook 02 (the Value object): + and * that record the graph.

The learner's ``Value`` builds each case's program; we read back ``data``,
``_op`` and ``_prev`` (as names of the program's nodes) and the untouched
``grad`` of every node.
"""

from __future__ import annotations

from . import programs as P
from . import register as _register
from ._base import Exercise, kind, named, number

NOTEBOOK = "02_value"
OP_SYMBOLS = {"add": "+", "mul": "*", "sub": "-", "div": "/", "neg": "neg", "tanh": "tanh",
              "exp": "exp", "log": "log"}


def require_class(Value):
    """``Value`` must be a class (or at least callable) to build anything with."""
    if not isinstance(Value, type) and not callable(Value):
        raise TypeError(f"Value should be your class, got {kind(Value)} {Value!r}")


def name_nodes(nodes):
    """id(node) -> program name, so the learner's _prev can be read as names."""
    names = {}
    for name, node in nodes.items():
        names.setdefault(id(node), name)
    return names


def prev_text(names):
    """How the notebook writes a _prev: the input names in operand order, "(a, b)"."""
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


def describe_prev(node, names, allow_set=False):
    """The learner's _prev as text in the notebook's terms. Notebook 02 decides:
    a tuple or a list in operand order (both read "(a, b)"); a set is not
    enough (it loses the order and the second a of a + a), shown "{a}"."""
    prev = getattr(node, "_prev", None)
    if isinstance(prev, (set, frozenset)) and allow_set:  # from notebook 03 on, micrograd's set is fine
        return prev_text(sorted(names.get(id(p), "?") for p in prev))
    if isinstance(prev, (set, frozenset)):
        return "{" + ", ".join(sorted(names.get(id(p), "?") for p in prev)) + "} (a set)"
    if not isinstance(prev, (tuple, list)):
        return f"a {kind(prev)}, not a tuple"
    return prev_text([names.get(id(p), "?") for p in prev])


def structure_facts(program):
    """What _op and _prev each op node should record, from the program itself."""
    facts = {}
    for op in program["ops"]:
        facts[f"{op[0]}._op"] = OP_SYMBOLS.get(op[1], op[1])
        facts[f"{op[0]}._prev"] = prev_text(P.node_args(op))
    return facts


def prev_detail(facts, want):
    """A sentence for each wrong _prev or _op, in the notebook's terms."""
    detail = {}
    for key, got in facts.items():
        if key not in want or got == want[key]:
            continue
        node, _, field_name = key.partition(".")
        if field_name == "_prev" and isinstance(got, str) and got.endswith("(a set)"):
            detail[key] = (f"`{node}._prev` is {got[:-8]}, a set: it should be {want[key]}. A set "
                           "keeps no order and holds a repeated input (a + a) only once: store "
                           "_children as a tuple.")
        elif field_name == "_prev":
            detail[key] = (f"`{node}._prev` is {got}, it should be {want[key]}: the inputs of the "
                           "operation, in operand order (self first, then other)")
        else:
            detail[key] = f"`{key}` is {got!r}, it should be {want[key]!r}"
    return detail


def _produce(case, names):
    Value = names["Value"]
    require_class(Value)
    program = case["program"]
    nodes = P.build(program, Value)
    naming = name_nodes(nodes)
    values, facts = {}, {}
    for name, node in nodes.items():
        values[f"{name}.data"] = number(getattr(node, "data", None), f"{name}.data")
        values[f"{name}.grad"] = number(getattr(node, "grad", None), f"{name}.grad")
    for op in program["ops"]:
        node = nodes[op[0]]
        facts[f"{op[0]}._op"] = getattr(node, "_op", None)
        facts[f"{op[0]}._prev"] = describe_prev(node, naming)
    for leaf in program["leaves"]:
        facts[f"{leaf}._prev"] = describe_prev(nodes[leaf], naming)
    return {"values": values, "facts": facts, "detail": prev_detail(facts, expected_facts(case))}


def _graph(case, names):
    nodes = P.build(case["program"], names["Value"])
    return nodes[case["program"]["output"]], nodes


def _report(case, values, grads):
    out = {f"{n}.data": v for n, v in values.items()}
    out.update({f"{n}.grad": 0.0 for n in values})  # nothing has run backward yet
    return out


def expected_facts(case):
    facts = structure_facts(case["program"])
    facts.update({f"{leaf}._prev": "()" for leaf in case["program"]["leaves"]})
    return facts


def _fixed():
    def prog(leaves, ops, out):
        return {"leaves": leaves, "ops": ops, "output": out}
    return [
        {"name": "e = a * b, d = e + c with a=2, b=-3, c=10", "shown": True,
         "program": prog({"a": 2.0, "b": -3.0, "c": 10.0},
                         [["e", "mul", "a", "b"], ["d", "add", "e", "c"]], "d")},
        {"name": "a + a with a=2 (a used twice)", "shown": True,
         "program": prog({"a": 2.0}, [["twice", "add", "a", "a"]], "twice")},
        {"name": "shared subexpression c = a*b + b with a=2, b=3", "shown": False,
         "program": prog({"a": 2.0, "b": 3.0}, [["ab", "mul", "a", "b"], ["c", "add", "ab", "b"]], "c")},
        {"name": "L = (a*b + c)*f with a=3, b=-2, c=4, f=5", "shown": False,
         "program": prog({"a": 3.0, "b": -2.0, "c": 4.0, "f": 5.0},
                         [["e", "mul", "a", "b"], ["d", "add", "e", "c"], ["L", "mul", "d", "f"]], "L")},
        {"name": "reversed operands f = b * a", "shown": False,
         "program": prog({"a": 1.5, "b": -0.5}, [["f", "mul", "b", "a"]], "f")},
    ]


def _draw(rng):
    return [{"name": "a random expression of + and *",
             "program": P.random_program(rng, ops=("add", "mul"), n_leaves=3, n_ops=4)}
            for _ in range(2)]


HINTS = (
    "A Value is a box for one number plus a memory of where it came from.",
    "__add__ and __mul__ must return a NEW Value; its _prev is the tuple of the two operands "
    "(self first, then other), its _op is '+' or '*'.",
    "Store _children as a tuple in __init__, start grad at 0.0, and never change self or other "
    "inside an operation: only read their .data.",
)

_register(Exercise(
    id="ex02_value", notebook=NOTEBOOK, title="The Value class with + and *", uses=("Value",),
    hints=HINTS, fixed=_fixed, draw=_draw, producer=_produce, report=_report,
    facts=expected_facts, grapher=_graph, mistakes=named("hard_coded")))
