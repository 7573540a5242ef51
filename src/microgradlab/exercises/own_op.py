"""An operation the learner writes as a function of a Value: ``exp(v)``, ``relu(v)``.

Notebook 05 grows the engine by one-input operations, each written the same
way: compute the number, record ``(v,)`` and the op's name, attach a
``_backward`` that adds  local derivative * out.grad  into ``v.grad``. Every
such exercise is graded the same way, so it is made here from its op kind:

* its cases are programs (``microgradlab.exercises.programs``) in which the
  learner's function stands in for every op of that kind, and the engine's
  ``Value`` does + and *; PyTorch replays the same program;
* each node of that kind must record ``_op`` and ``_prev`` as the notebook asks;
* the whole backward pass (the checker's own walk over the learner's
  ``_backward`` steps) must give PyTorch's gradients, and each node of that
  kind is graded on its own as well (:mod:`.own_node`);
* a wrong local rule is named through the op table's ``mistakes``.
"""

from __future__ import annotations

from ..ops import OPS
from . import programs as P
from ._base import Exercise, named, number, run_backward
from .nb02 import describe_prev, name_nodes, prev_detail, prev_text
from .own_node import OwnNodes, rule_text

PROVIDES = {"Value": "microgradlab.engine:Value"}  # resolved where the learner's code runs


def program_case(name, shown, leaves, ops, output):
    """One case: a program over ``leaves`` (the notebook shows it when ``shown``)."""
    return {"name": name, "shown": shown,
            "program": {"leaves": leaves, "ops": ops, "output": output}}


def build_with(program, function, Value, kind):
    """{name: node} of ``program``, the learner's ``function`` standing in for every
    op of ``kind`` (the engine's Value does the others)."""
    def unary(name, x):
        if name != kind:
            raise ValueError(f"this exercise's programs use only {kind}, got {name}")
        return function(x)

    return P.build(program, Value, unary=unary)


def own_op_exercise(*, kind: str, id: str, notebook: str, title: str, hints: tuple,
                    fixed, draw, mistakes: dict, builds_on: tuple = ()) -> Exercise:
    """The exercise "write ``kind(v)``": the learner passes a function named ``kind``.

    ``mistakes`` are the op table's names this exercise may give (``named(...)``);
    ``assign_not_accumulate`` and the own-node facts' mistakes are always listed.
    """
    symbol = OPS[kind].symbol
    alone = OwnNodes((kind,))

    def facts(case):
        return {k: v for op in case["program"]["ops"] if op[1] == kind
                for k, v in ((f"{op[0]}._op", symbol), (f"{op[0]}._prev", prev_text([op[2]])))}

    def produce(case, names):
        program = case["program"]
        nodes = build_with(program, names[kind], names["Value"], kind)
        naming = name_nodes(nodes)
        found = {}
        for op in program["ops"]:
            if op[1] == kind:
                node = nodes[op[0]]
                found[f"{op[0]}._op"] = getattr(node, "_op", None)
                found[f"{op[0]}._prev"] = describe_prev(node, naming, allow_set=True)
        values = {f"{n}.data": number(getattr(nodes[n], "data", None), f"{n}.data")
                  for n in nodes}
        detail = prev_detail(found, facts(case))
        if any(k in detail for k in found):
            return {"values": values, "facts": found, "detail": detail}
        run_backward(nodes[program["output"]])
        for name in program["leaves"]:
            values[f"{name}.grad"] = number(nodes[name].grad, f"{name}.grad")
        graded = alone.grade(case, nodes)
        values.update(graded["values"])
        found.update(graded["facts"])
        detail.update(graded["detail"])
        return {"values": values, "facts": found, "detail": detail, "pieces": graded["pieces"]}

    def report(case, values, grads):
        out = {f"{n}.data": v for n, v in values.items()}
        out.update({f"{n}.grad": grads[n] for n in case["program"]["leaves"]})
        return out

    def where(case, key):
        node, _, attribute = key.partition(".")
        if attribute == "data":
            made = P.producer_of(case["program"], node)
            return f"Look at the value your {kind} computes for `{made}`." if made else None
        ops = [op for op in case["program"]["ops"] if op[1] == kind]
        first = ops[0]
        return (f"The gradient reaches `{node}` through your {kind} ("
                + ", ".join(f"`{P.describe_op(op)}`" for op in ops)
                + f"): look at the _backward your {kind} attaches to the new Value. For "
                f"`{P.describe_op(first)}` it must add {rule_text(first, first[2])} to "
                f"{first[2]}.grad, with +=.")

    def graph(case, names):
        program = case["program"]
        nodes = build_with(program, names[kind], names["Value"], kind)
        run_backward(nodes[program["output"]])
        return nodes[program["output"]], nodes

    listed = named("reaches_past_inputs", "grad_not_stored", "hard_coded")
    listed["assign_not_accumulate"] = (
        f"your {kind}'s _backward assigns the input's grad: add into it with +=, so a Value "
        "used again keeps its other shares.")
    listed.update(mistakes)
    return Exercise(id=id, notebook=notebook, title=title, uses=(kind,), hints=hints,
                    fixed=fixed, draw=draw, producer=produce, report=report, facts=facts,
                    provides=PROVIDES, grapher=graph, where=where, own_nodes=alone,
                    builds_on=builds_on, mistakes=listed)
