"""Notebook 04 (backward): the chain rule by hand, topological order, backward.

Graphs are built from ``microgradlab.Value`` (its ops and their local rules
are not what this notebook grades); the learner's code does the walking.
"""

from __future__ import annotations

from . import programs as P
from . import register as _register
from ._base import Exercise, LearnerOutputError, kind, named, nodes_inputs_first, number
from .gradient_check import case_of, gradient_check_exercise

NOTEBOOK = "04_backward"


# The graphs are built from the engine's Value, resolved where the learner's code
# runs (in the grader, the sandbox's own Value): never imported here.
PROVIDES = {"Value": "microgradlab.engine:Value"}


def course_example(a=3.0, b=-2.0, c=4.0, f=5.0):
    """e = a*b, d = e + c, L = d*f."""
    return {"leaves": {"a": a, "b": b, "c": c, "f": f},
            "ops": [["e", "mul", "a", "b"], ["d", "add", "e", "c"], ["L", "mul", "d", "f"]],
            "output": "L"}


def shared_example(a=2.0, b=3.0):
    """c = a*b + b: b is used twice."""
    return {"leaves": {"a": a, "b": b}, "ops": [["ab", "mul", "a", "b"], ["c", "add", "ab", "b"]],
            "output": "c"}


def twice_example(w1=0.7):
    return {"leaves": {"w1": w1}, "ops": [["y", "add", "w1", "w1"]], "output": "y"}


def build_labelled(program, Value):
    """The program built from ``Value`` (the engine's), each node labelled with its name."""
    nodes = P.build(program, Value)
    for name, node in nodes.items():
        node.label = name
    return nodes


# ---------------------------------------------------------------- ex04_by_hand
BY_HAND_KEYS = ("e", "d", "L", "dL_dd", "dL_df", "dL_de", "dL_dc", "dL_da", "dL_db")


def _by_hand_case(name, shown, a, b, c, f):
    return {"name": name, "shown": shown, "program": course_example(a, b, c, f),
            "inputs": [a, b, c, f]}


def _by_hand_fixed():
    return [_by_hand_case("a=3, b=-2, c=4, f=5 (the course example)", True, 3.0, -2.0, 4.0, 5.0),
            _by_hand_case("a=1, b=2, c=3, f=4", True, 1.0, 2.0, 3.0, 4.0),
            _by_hand_case("a=-1.5, b=0.5, c=-2, f=-3", False, -1.5, 0.5, -2.0, -3.0)]


def _by_hand_draw(rng):
    return [_by_hand_case("random numbers", False, *(round(rng.uniform(-4, 4), 3) for _ in range(4)))
            for _ in range(2)]


def _by_hand_produce(case, names):
    result = names["by_hand"](*case["inputs"])
    if not isinstance(result, dict):
        raise LearnerOutputError(f"by_hand should return a dict, got {kind(result)}")
    missing = [k for k in BY_HAND_KEYS if k not in result]
    if missing:
        raise LearnerOutputError(f"the dict by_hand returns lacks the key(s) {', '.join(missing)}")
    return {"values": {k: number(result[k], f"by_hand(...)[{k!r}]") for k in BY_HAND_KEYS}}


def _by_hand_report(case, values, grads):
    out = {k: values[k] for k in ("e", "d", "L")}
    out.update({f"dL_d{n}": grads[n] for n in ("d", "f", "e", "c", "a", "b")})
    return out


# ---------------------------------------------------------------- ex04_topological_order
def _order_fixed():
    return [
        {"name": "c = a*b + b (b used twice)", "shown": True, "program": shared_example()},
        {"name": "L = (a*b + c)*f", "shown": True, "program": course_example()},
        {"name": "a single leaf", "shown": True, "program": {"leaves": {"x": 7.0}, "ops": [], "output": "x"}},
        {"name": "a 2,000-deep chain", "shown": True, "program": P.chain_program(2000)},
        {"name": "y = w1 + w1", "shown": False, "program": twice_example()},
    ]


def _order_draw(rng):
    return [{"name": "a random graph with shared nodes",
             "program": P.random_program(rng, ops=("add", "mul", "sub", "mulc"), n_leaves=3, n_ops=8)}]


def _order_produce(case, names):
    program = case["program"]
    nodes = build_labelled(program, names["Value"])
    order = names["topological_order"](nodes[program["output"]])
    if isinstance(order, (str, bytes, dict)) or not hasattr(order, "__iter__"):
        raise LearnerOutputError(f"topological_order should return a list, got {kind(order)}")
    order = list(order)
    position = {}
    for i, node in enumerate(order):
        position.setdefault(id(node), i)
    every = [name for name in program["leaves"]] + [op[0] for op in program["ops"]]
    needed = set(P.topological_names(program))  # the nodes the output depends on
    misplaced = None
    for op in program["ops"]:
        if op[0] in needed and id(nodes[op[0]]) in position:
            for arg in P.node_args(op):
                if id(nodes[arg]) in position and position[id(nodes[arg])] > position[id(nodes[op[0]])]:
                    misplaced = misplaced or f"{op[0]} comes before its input {arg}"
    missing = [n for n in every if n in needed and id(nodes[n]) not in position]
    # constants the engine wrapped (x * 0.999 holds a Value 0.999) must be listed too
    unlisted = [n for n in nodes_inputs_first(nodes[program["output"]]) if id(n) not in position]
    if unlisted and not missing:
        missing = [getattr(unlisted[0], "label", "") or repr(unlisted[0])]
    repeated = len(order) - len(position)
    problems = []
    if missing:
        problems.append(f"your order leaves out {', '.join(missing[:3])}")
    if repeated:
        problems.append(f"your order lists {repeated} node(s) more than once (remember the "
                        "nodes you have visited)")
    if misplaced:
        problems.append(f"in your order {misplaced}")
    if order and order[-1] is not nodes[program["output"]]:
        problems.append("your order does not end with the output node")
    if not order:
        problems.append("your order is empty")
    return {"values": {}, "facts": {
        "every node listed exactly once": len(position) == len(order) and not missing,
        "each node after all its inputs": misplaced is None,
        "the output comes last": bool(order) and order[-1] is nodes[program["output"]],
    }, "detail": "; ".join(problems)}


def _order_facts(case):
    return {"every node listed exactly once": True, "each node after all its inputs": True,
            "the output comes last": True}


def _order_report(case, values, grads):
    return {}  # the order is judged by its facts alone


# ---------------------------------------------------------------- ex04_backward
def _backward_fixed():
    return [
        {"name": "L = (a*b + c)*f with a=3, b=-2, c=4, f=5", "shown": True, "program": course_example()},
        {"name": "y = w1 + w1 (w1 used twice)", "shown": True, "program": twice_example()},
        {"name": "shared subexpression c = a*b + b with a=2, b=3", "shown": True, "program": shared_example()},
        {"name": "a 2,000-deep chain", "shown": False, "program": P.chain_program(2000, 1.0)},
        {"name": "a diamond: s = x*x, t = s + x, u = t*s", "shown": False, "program": {
            "leaves": {"x": -1.5}, "ops": [["s", "mul", "x", "x"], ["t", "add", "s", "x"],
                                          ["u", "mul", "t", "s"]], "output": "u"}},
        # The same diamond with u's inputs the other way round: a walk that pushes a
        # node's gradient before all its users are done fails one of the two,
        # whichever order it visits inputs in.
        {"name": "the mirrored diamond: s = x*x, t = s + x, u = s*t", "shown": False, "program": {
            "leaves": {"x": 0.75}, "ops": [["s", "mul", "x", "x"], ["t", "add", "s", "x"],
                                          ["u", "mul", "s", "t"]], "output": "u"}},
    ]


def _backward_draw(rng):
    return [{"name": "a random graph with shared nodes",
             "program": P.random_program(rng, ops=("add", "mul", "sub", "div", "pow", "rsub"),
                                         n_leaves=3, n_ops=7)} for _ in range(2)]


def _backward_produce(case, names):
    program = case["program"]
    nodes = build_labelled(program, names["Value"])
    names["backward"](nodes[program["output"]])
    deep = len(program["ops"]) > 50
    shown = ([program["output"], *program["leaves"]] if deep else list(nodes))
    return {"values": {f"{n}.grad": number(nodes[n].grad, f"{n}.grad") for n in shown}}


def _backward_graph(case, names):
    program = case["program"]
    nodes = build_labelled(program, names["Value"])
    names["backward"](nodes[program["output"]])
    return nodes[program["output"]], nodes


def _backward_where(case, key):
    node, _, attribute = key.partition(".")
    if attribute != "grad":
        return None
    users = P.users_of(case["program"], node)
    if node == case["program"]["output"]:
        return f"`{node}` is the output: its grad starts at 1.0."
    if not users:
        return None
    return (f"`{node}` is used by " + ", ".join(f"`{u}`" for u in users) + f": its grad is "
            "complete only once each of those nodes has run its _backward, so look at when "
            f"your walk calls `{node}`'s _backward.")


def _backward_report(case, values, grads):
    program = case["program"]
    shown = [program["output"], *program["leaves"]] if len(program["ops"]) > 50 else list(values)
    return {f"{n}.grad": grads[n] for n in shown}


# A recursive walk overflows Python's stack on the 2,000-deep chain.
DEEP_GRAPH_ERRORS = {"RecursionError": "recursion_too_deep"}

_register(Exercise(
    id="ex04_by_hand", notebook=NOTEBOOK, title="The chain rule by hand", uses=("by_hand",),
    hints=(
        "Work backwards from L: first the local derivatives of L = d*f, then of d = e + c, then of e = a*b.",
        "dL/dL = 1. A product passes each factor the OTHER factor times the gradient arriving; a "
        "sum passes the arriving gradient unchanged to both inputs.",
        "Start from dL_dL = 1; dL_dd = dL_dL * f and dL_df = dL_dL * d. The sum d = e + c hands "
        "dL_dd on unchanged; which factor of e = a*b multiplies dL_de for dL_da?",
    ), fixed=_by_hand_fixed, draw=_by_hand_draw, producer=_by_hand_produce,
    report=_by_hand_report, mistakes=named("hard_coded")))

_register(Exercise(
    id="ex04_topological_order", notebook=NOTEBOOK,
    title="Topological order with your own stack", uses=("topological_order",), hints=(
        "A node may only be listed once all the nodes in its _prev are listed.",
        "Depth-first: visit a node's inputs first, then append the node; remember visited nodes in a set.",
        "Recursion breaks at about 1,000 levels: keep a list of (node, inputs_done) pairs as your own "
        "stack. A pair with inputs_done True means its inputs are placed: append the node. Otherwise "
        "push (node, True) back first, then (child, False) for each input; what must you skip?",
    ), fixed=_order_fixed, draw=_order_draw, producer=_order_produce, report=_order_report,
    facts=_order_facts, provides=PROVIDES, error_mistakes=DEEP_GRAPH_ERRORS,
    mistakes=named("recursion_too_deep")))

_register(Exercise(
    id="ex04_backward", notebook=NOTEBOOK, title="backward()", uses=("backward",), hints=(
        "The output's gradient with respect to itself is 1: start there.",
        "A node may push its gradient to its inputs only when everything that uses it has pushed into it.",
        "Three lines: the seed root.grad = 1.0, the order from your topological_order(root), and a loop "
        "calling node._backward() on each node. Which end of the order must the loop start from?",
    ), fixed=_backward_fixed, draw=_backward_draw, producer=_backward_produce,
    report=_backward_report, provides=PROVIDES, grapher=_backward_graph, where=_backward_where,
    builds_on=("ex04_topological_order",), error_mistakes=DEEP_GRAPH_ERRORS,
    mistakes=named("output_not_seeded", "no_topological_order", "not_reversed",
                   "recursion_too_deep", "hard_coded")))


# ---------------------------------------------------------------- ex04_gradient_check
def _check_fixed():
    squared = {"leaves": {"a": 3.0, "b": -2.0, "c": 4.0, "f": 5.0},
               "ops": [["e", "mul", "a", "b"], ["d", "add", "e", "c"], ["s", "pow", "d", 2],
                       ["L", "div", "s", "f"]], "output": "L"}
    cubed = {"leaves": {"x": 0.5, "y": -1.5},
             "ops": [["p", "mul", "x", "y"], ["q", "pow", "p", 3], ["r", "sub", "q", "x"],
                     ["z", "div", "r", "y"]], "output": "z"}
    return [
        case_of("L = (a*b + c)**2 / f with a=3, b=-2, c=4, f=5, h = 1e-5", True, squared, 1e-5),
        case_of("c = a*b + b with a=2, b=3 (b used twice), h = 1e-5", True, shared_example(),
                1e-5),
        case_of("z = ((x*y)**3 - x) / y with x=0.5, y=-1.5, h = 1e-4", False, cubed, 1e-4),
        case_of("one input: y = x**3 at x = 1.2, h = 1e-4", False,
                {"leaves": {"x": 1.2}, "ops": [["y", "pow", "x", 3]], "output": "y"}, 1e-4),
    ]


def _check_draw(rng):
    program = P.random_program(rng, ops=("add", "sub", "mul", "div", "pow"),
                               n_leaves=rng.randint(2, 3), n_ops=4)
    h = rng.choice([1e-5, 1e-4])
    return [case_of(f"a random graph, h = {h:g}", False, program, h)]


_register(gradient_check_exercise(
    id="ex04_gradient_check", notebook=NOTEBOOK, builds_on=("ex04_backward",),
    fixed=_check_fixed, draw=_check_draw, provides=PROVIDES, hints=(
        "Two routes to the same numbers: one backward pass gives every input's gradient at once; "
        "the central difference of notebook 01 measures one input's slope at a time.",
        "For the backward route, build the graph once from fresh Values and call backward once. "
        "For input i, f is a function of that one number: the others stay as they are in xs.",
        "Make leaves = [Value(x) for x in xs], call backward(build(*leaves)); then for each i "
        "write f(t) that copies xs, puts t at position i and returns build(*...).data. "
        "What do you hand to central_difference?",
    )))
