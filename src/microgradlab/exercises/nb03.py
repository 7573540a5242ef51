"""Notebook 03 (operations): each op with its local chain-rule step.

Ops are checked one at a time: build ``out`` from fresh inputs with the
learner's Value, check ``out.data`` and that ``out`` records its inputs, set
``out.grad = g`` and run the learner's ``_backward`` steps from ``out`` down to
the inputs (one step for a direct op; several if the learner built the op from
others, as in ``a / b = a * b**-1``), then read the inputs' grads. Then every
op node is graded on its own (:mod:`.own_node`): what its ``_backward()``
alone adds to each input, and that it changes no other grad.
"""

from __future__ import annotations

from . import programs as P
from . import register as _register
from ._base import Exercise, named, nodes_inputs_first, number, run_backward
from .nb02 import require_class
from .own_node import OwnNodes

NOTEBOOK = "03_operations"

_SHOW = {"add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b", "neg": "-a",
         "radd": "{c} + a", "rsub": "{c} - a", "rmul": "{c} * a", "rdiv": "{c} / a",
         "addc": "a + {c}", "subc": "a - {c}", "mulc": "a * {c}", "divc": "a / {c}",
         "pow": "a ** {c}"}


def op_case(kind, a, b=None, c=None, g=1.0, shown=False, same=False):
    """One op as a program: out = a <op> b (or with the constant c)."""
    leaves = {"a": a} if (b is None or same) else {"a": a, "b": b}
    second = "a" if same else "b"
    if kind in ("add", "sub", "mul", "div"):
        op = ["out", kind, "a", second]
    elif kind == "neg":
        op = ["out", "neg", "a"]
    elif kind in ("radd", "rsub", "rmul", "rdiv"):
        op = ["out", kind, c, "a"]
    else:  # addc subc mulc divc pow
        op = ["out", kind, "a", c]
    text = _SHOW[kind].format(c=c)
    if same:
        text = text.replace("b", "a")
    values = ", ".join(f"{k}={v}" for k, v in leaves.items())
    return {"name": f"out = {text} with {values}, out.grad = {g}", "shown": shown,
            "program": {"leaves": leaves, "ops": [op], "output": "out"}, "g": g}


def expression_case(text, leaves, ops, g=1.0):
    """A small expression whose output is "out", where an input is used twice."""
    values = ", ".join(f"{k}={v}" for k, v in leaves.items())
    return {"name": f"{text} with {values}, out.grad = {g}", "shown": False,
            "program": {"leaves": leaves, "ops": ops, "output": "out"}, "g": g}


def _constants_of(program):
    return [arg for op in program["ops"] for arg in op[2:]
            if isinstance(arg, (int, float)) and op[1] != "pow"]


def _produce(case, names, own_nodes):
    Value = names["Value"]
    require_class(Value)
    program = case["program"]
    nodes = P.build(program, Value)
    leaves = [nodes[n] for n in program["leaves"]]
    out = nodes[program["output"]]
    values, facts = {}, {}
    values["out.data"] = number(getattr(out, "data", None), "out.data")
    graph = nodes_inputs_first(out, stop=leaves)
    reached = {id(n) for n in graph}
    for name in program["leaves"]:
        facts[f"out records {name} (through _prev)"] = id(nodes[name]) in reached
    for c in _constants_of(program):
        # the wrapped constant: a Value holding c (or -c, for a - c written as a + (-c))
        facts[f"out records the constant {c} as a Value"] = any(
            not getattr(n, "_prev", ()) and id(n) not in {id(x) for x in leaves}
            and getattr(n, "data", None) in (c, -c) for n in graph)
    if facts and not all(facts.values()):
        return {"values": values, "facts": facts}
    run_backward(out, case["g"], stop=leaves)
    for name in program["leaves"]:
        values[f"{name}.data"] = number(getattr(nodes[name], "data", None), f"{name}.data")
        values[f"{name}.grad"] = number(getattr(nodes[name], "grad", None), f"{name}.grad")
    alone = own_nodes.grade(case, nodes)
    values.update(alone["values"])
    facts.update(alone["facts"])
    return {"values": values, "facts": facts, "detail": alone["detail"],
            "pieces": alone["pieces"]}


def _graph(case, names):
    program = case["program"]
    nodes = P.build(program, names["Value"])
    run_backward(nodes[program["output"]], case.get("g", 1.0),
                 stop=[nodes[n] for n in program["leaves"]])
    return nodes[program["output"]], nodes


def _variants(case):
    """What an __rsub__ / __rtruediv__ with its operands the wrong way round builds."""
    out = {}
    for kind, plain, mistake in (("rsub", "subc", "rsub_reversed"), ("rdiv", "divc", "rdiv_reversed")):
        ops = case["program"]["ops"]
        if any(op[1] == kind for op in ops):
            flipped = [[op[0], plain, op[3], op[2]] if op[1] == kind else op for op in ops]
            out[mistake] = {**case["program"], "ops": flipped}
    return out


_REFLECTED = {"__radd__": "+", "__rmul__": "*", "__rsub__": "-", "__rtruediv__": "/"}


def _explain_error(produced):
    """A reflected op (``2 + v`` calls ``v.__radd__(2)``) written as ``other + self``
    asks Python for ``2 + v`` again, without end: say so in the notebook's terms."""
    error, where = str(produced.get("error", "")), produced.get("error_in") or ""
    dunder = "__" + where.strip("_") + "__"
    dunder = "__rtruediv__" if dunder == "__rdiv__" else dunder
    if not error.startswith("RecursionError") or dunder not in _REFLECTED:
        return None
    sym = _REFLECTED[dunder]
    return (f"your `{dunder}` calls itself without end (RecursionError). For `2 {sym} v` "
            f"Python calls `v.{dunder}(2)`; writing `other {sym} self` inside it asks "
            f"for `2 {sym} v` again. Wrap the number as a Value and compute the result "
            "from that Value and self.")


def _facts(case):
    program = case["program"]
    facts = {f"out records {n} (through _prev)": True for n in program["leaves"]}
    facts.update({f"out records the constant {c} as a Value": True for c in _constants_of(program)})
    return facts


def _bind(own_nodes):
    def produce(case, names):
        return _produce(case, names, own_nodes)
    return produce


def _report(case, values, grads):
    program = case["program"]
    out = {"out.data": values[program["output"]]}
    for name in program["leaves"]:
        out[f"{name}.data"] = values[name]
        out[f"{name}.grad"] = grads[name]
    return out


# expression_ops: the random whole-expression case of an exercise uses only that exercise's own
# ops, so a mistake in another exercise's op never costs this one points (it would, by chance).
def _make(exercise_id, title, fixed, kinds, expression_ops, hints, builds_on=(), mistakes=()):
    def draw(rng):
        cases = []
        for kind in rng.sample(kinds, min(3, len(kinds))):
            a = round(rng.choice([-1, 1]) * rng.uniform(0.5, 3), 3)
            b = round(rng.choice([-1, 1]) * rng.uniform(0.5, 3), 3)
            c = rng.choice([2, 3, -1, 0.5]) if kind == "pow" else round(rng.uniform(0.5, 3), 2)
            if kind == "pow" and c == 0.5:
                a = abs(a)
            g = round(rng.uniform(-2, 2), 3)
            cases.append(op_case(kind, a, b if kind in ("add", "sub", "mul", "div") else None, c, g))
        program = P.random_program(rng, ops=expression_ops, n_leaves=2, n_ops=4)
        # The output is named "out" so the report reads the same as for one op.
        last = program["ops"][-1][0]
        program = {"leaves": program["leaves"], "output": "out",
                   "ops": [[("out" if x == last else x) if i == 0 or isinstance(x, str) else x
                            for i, x in enumerate(op)] for op in program["ops"]]}
        cases.append({"name": "a random expression using " + ", ".join(expression_ops),
                      "program": program, "g": 1.0})
        return cases

    own_nodes = OwnNodes(tuple(kinds))
    _register(Exercise(
        id=exercise_id, notebook=NOTEBOOK, title=title, uses=("Value",), hints=hints,
        fixed=fixed, draw=draw, producer=_bind(own_nodes), report=_report, facts=_facts,
        grapher=_graph, builds_on=builds_on, variants=_variants, own_nodes=own_nodes,
        explain_error=_explain_error,
        mistakes=named("assign_not_accumulate", "backward_adds_nothing", "reaches_past_inputs",
                       "grad_not_stored", "hard_coded", *mistakes)))


_make("ex03_add_mul", "+ and * with their _backward", lambda: [
    op_case("add", 2.0, -3.0, shown=True),
    op_case("mul", 2.0, -3.0, shown=True),
    op_case("mul", 2.0, -3.0, g=0.5, shown=True),
    op_case("add", 1.5, same=True),
    op_case("mul", -1.5, same=True, g=2.0),
    op_case("addc", 2.0, c=3.0), op_case("radd", 2.0, c=3.0, g=-1.0),
    op_case("mulc", 2.0, c=4.0, g=0.5), op_case("rmul", -2.0, c=4.0),
    # Every op's _backward once more where its input is used again, so `=` for `+=` shows.
    expression_case("out = a*b + a (a used twice)", {"a": 1.5, "b": -2.0},
                    [["ab", "mul", "a", "b"], ["out", "add", "ab", "a"]]),
    expression_case("out = (3 + a) + a", {"a": 0.5}, [["t", "radd", 3.0, "a"], ["out", "add", "t", "a"]]),
    expression_case("out = (a + 2) * a", {"a": -1.25}, [["t", "addc", "a", 2.0], ["out", "mul", "t", "a"]]),
    expression_case("out = (4 * a) * a", {"a": 0.75}, [["t", "rmul", 4.0, "a"], ["out", "mul", "t", "a"]], g=2.0),
    expression_case("out = (a * 3) + a", {"a": 2.5}, [["t", "mulc", "a", 3.0], ["out", "add", "t", "a"]]),
], ["add", "mul", "addc", "radd", "mulc", "rmul"], ("add", "mul", "addc", "rmul"), (
    "Each op must also tell its inputs how much they moved the output: that is _backward.",
    "For out = a + b both inputs get out.grad; for out = a * b, a gets b.data * out.grad and b "
    "gets a.data * out.grad (the OTHER factor).",
    "Add (+=) into self.grad and other.grad instead of assigning: in a * a or a + a the same "
    "Value receives two shares. Wrap a plain number with Value(...) first, and let __radd__ "
    "and __rmul__ reuse __add__ and __mul__.",
), mistakes=("mul_uses_own_data",))

_make("ex03_sub_neg", "-a, a - b and 1 - a", lambda: [
    op_case("sub", 2.0, -3.0, shown=True),
    op_case("neg", 2.0, shown=True),
    op_case("rsub", 2.0, c=1.0, shown=True),
    op_case("sub", 1.25, same=True),
    op_case("subc", 2.0, c=5.0, g=0.5), op_case("rsub", -1.5, c=4.0, g=2.0),
    op_case("neg", -0.75, g=-3.0),
    expression_case("out = -a - a (a used twice)", {"a": 1.5}, [["n", "neg", "a"], ["out", "sub", "n", "a"]]),
    expression_case("out = (4 - a) - a", {"a": 0.5}, [["t", "rsub", 4.0, "a"], ["out", "sub", "t", "a"]]),
    expression_case("out = (a - 2) - a", {"a": -1.25}, [["t", "subc", "a", 2.0], ["out", "sub", "t", "a"]], g=2.0),
    expression_case("out = a - (b - a)", {"a": 0.75, "b": 2.0}, [["t", "sub", "b", "a"], ["out", "sub", "a", "t"]]),
], ["sub", "neg", "subc", "rsub"], ("sub", "neg", "rsub"), (
    "Nudge each input and watch the output: raising a raises a - b, raising b lowers it.",
    "For out = a - b: d(out)/da = 1 and d(out)/db = -1, so b's grad goes DOWN by out.grad; "
    "for out = -a, d(out)/da = -1. Each gets its own node: _op '-' with children (self, other), "
    "_op 'neg' with the one child (self,).",
    "For 1 - a Python calls a.__rsub__(1), with self = a and other = 1: wrap the number as a "
    "Value and subtract in the order of the expression, the number first (unlike + and *, the "
    "order matters).",
), builds_on=("ex03_add_mul",), mistakes=("sub_sign_flipped", "rsub_reversed"))

_make("ex03_div_pow", "a ** k, a / b and 1 / a", lambda: [
    op_case("pow", 2.0, c=3, shown=True),
    op_case("div", 3.0, 2.0, shown=True),
    op_case("rdiv", 2.0, c=1.0, shown=True),
    op_case("pow", 4.0, c=0.5), op_case("pow", -2.0, c=3, g=0.5), op_case("pow", 2.0, c=-1),
    op_case("pow", 1.5, c=2, g=-2.0),
    op_case("div", -1.5, 0.5, g=2.0), op_case("div", 1.25, same=True),
    op_case("divc", 3.0, c=4.0), op_case("rdiv", -0.5, c=2.0, g=3.0),
    expression_case("out = a**2 / a**3 (a used twice)", {"a": 1.5},
                    [["p", "pow", "a", 2], ["q", "pow", "a", 3], ["out", "div", "p", "q"]]),
    expression_case("out = (2 / a) / a", {"a": 0.8}, [["t", "rdiv", 2.0, "a"], ["out", "div", "t", "a"]]),
    expression_case("out = (a / 4) / a", {"a": -1.25}, [["t", "divc", "a", 4.0], ["out", "div", "t", "a"]], g=2.0),
    expression_case("out = a / (b / a)", {"a": 0.75, "b": 2.0}, [["t", "div", "b", "a"], ["out", "div", "a", "t"]]),
], ["pow", "div", "divc", "rdiv"], ("div", "pow"), (
    "The power rule: the derivative of a**k is k * a**(k - 1), for any number k.",
    "Division is multiplication by a reciprocal, a / b = a * b**-1; the power rule with k = -1 "
    "then gives the two local derivatives d(out)/da = 1/b and d(out)/db = -a/b**2 for the '/' "
    "node.",
    "Your _backward closure for a ** k can use k directly (it is a plain number, captured when "
    "the node is built) and multiplies the power rule by out.grad. For 1 / a, which operand "
    "comes first when __rtruediv__(self=a, other=1) is called?",
), builds_on=("ex03_add_mul",), mistakes=("pow_missing_minus_one", "rdiv_reversed"))
