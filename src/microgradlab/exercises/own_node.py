"""Each op node graded on its own: what one ``_backward()`` adds, and to which grads.

A whole backward pass can come out right for the wrong reasons: gradients
worked out in the forward pass, a ``grad`` property that computes its own
answer, an ``out._backward`` that reaches past its inputs to the leaves while
the inner nodes' ``_backward`` do nothing, ``=`` instead of ``+=`` where no
input happens to be used twice. So besides the whole pass, every op node of a
case is graded alone:

1. every grad in the learner's little graph is set to a distinct non-zero
   number (and read back: it must keep what was stored in it);
2. the op node's grad is set to ``g`` and its ``_backward()`` is called once;
3. each input ``x`` must have gained exactly  d(node)/d(x) * g  (the chain
   rule's one step, with ``+=``), and no other grad may have changed.

An op the learner built from others (``a / b`` as ``a * b**-1``) is a node
whose inputs are not the op's inputs: its inner nodes start at grad 0 (they
are new), the node's ``_backward()`` and then theirs are called, each may
change only its own inputs, and together they must add d(node)/d(x) * g.

The amounts are values like any other (``"out._backward() adds to a.grad"``):
PyTorch computes what they should be from :meth:`OwnNodes.steps` (the op alone,
its output's grad ``g``), and the checker simulates chain-rule mistakes on the
same steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import programs as P
from ._base import inputs_of, nodes_inputs_first, number

STORES = "every grad keeps the value stored in it"
ONLY_INPUTS = "each _backward changes only the grads of its own inputs"


def start_grads(program) -> dict:
    """{node name: the grad it holds before a node is graded alone}: distinct, non-zero,
    and unlike the usual out.grad values (1, 0.5, 2, -1), so no mistake hides behind them."""
    names = [*program["leaves"], *(op[0] for op in program["ops"])]
    return {name: round(0.3 + 0.37 * i, 2) for i, name in enumerate(names)}


# What a node's _backward adds to each input (in operand order), as the learner
# writes it: {0} {1} the inputs, {out} the node, {c} the constant, {k} the exponent.
RULE_TEXT = {
    "add": ("{out}.grad", "{out}.grad"),
    "sub": ("{out}.grad", "-{out}.grad"),
    "mul": ("{1}.data * {out}.grad", "{0}.data * {out}.grad"),
    "div": ("{out}.grad / {1}.data", "-{0}.data / {1}.data**2 * {out}.grad"),
    "neg": ("-{out}.grad",),
    "pow": ("{k} * {0}.data**{km1} * {out}.grad",),
    "exp": ("{out}.data * {out}.grad",),
    "tanh": ("(1 - {out}.data**2) * {out}.grad",),
    "relu": ("(1 if {out}.data > 0 else 0) * {out}.grad",),
    "radd": ("{out}.grad",), "rsub": ("-{out}.grad",), "rmul": ("{c} * {out}.grad",),
    "rdiv": ("-{c} / {0}.data**2 * {out}.grad",),
    "addc": ("{out}.grad",), "subc": ("{out}.grad",), "mulc": ("{c} * {out}.grad",),
    "divc": ("{out}.grad / {c}",),
}


def _num(x) -> str:
    return f"{x:.10g}" if isinstance(x, (int, float)) else str(x)


def rule_text(op, arg) -> str:
    """What ``op``'s node must add to ``arg``'s grad, in the learner's terms
    (``"b.data * out.grad"``; an input used twice gets both shares)."""
    args = P.node_args(op)
    constant = next((x for x in op[2:] if not isinstance(x, str)), None)
    number_ = isinstance(constant, (int, float))
    fill = {"out": op[0], "c": _num(constant), "k": _num(constant),
            "km1": _num(constant - 1) if number_ else ""}
    texts = RULE_TEXT.get(op[1], ("d({out})/d(input) * {out}.grad",) * len(args))
    shares = [texts[i].format(*args, **fill) for i, a in enumerate(args) if a == arg]
    return " + ".join(shares)


@dataclass(frozen=True)
class Step:
    """One op node graded alone."""
    op: list
    node: str                   # the op's result, by its program name
    inputs: tuple[str, ...]     # the op's inputs, each once, in operand order
    grad: float                 # what the node's grad is set to
    start: dict                 # {input: its grad before the call}
    program: dict               # the op alone: its inputs as leaves, its node as output


@dataclass(frozen=True)
class OwnNodes:
    """The op kinds (program names: "mul", "tanh", ...) the learner writes in this
    exercise; every op of those kinds in a case is graded on its own node."""

    kinds: tuple[str, ...]

    fact_mistakes = {STORES: "grad_not_stored", ONLY_INPUTS: "reaches_past_inputs"}

    @staticmethod
    def key(node: str, arg: str) -> str:
        return f"{node}._backward() adds to {arg}.grad"

    @staticmethod
    def facts() -> dict:
        return {STORES: True, ONLY_INPUTS: True}

    def steps(self, case) -> list[Step]:
        """The ops of ``case`` graded alone, in program order."""
        program = case["program"]
        values = P.evaluate(program)
        start = start_grads(program)
        found = []
        for op in program["ops"]:
            if op[1] not in self.kinds:
                continue
            inputs = tuple(dict.fromkeys(P.node_args(op)))
            grad = case.get("g", 1.0) if op[0] == program["output"] else start[op[0]]
            alone = {"leaves": {x: values[x] for x in inputs}, "ops": [list(op)],
                     "output": op[0]}
            found.append(Step(list(op), op[0], inputs, grad, {x: start[x] for x in inputs},
                              alone))
        return found

    def report(self, case, added: dict) -> dict:
        """{key: amount} from {node: {input: what its _backward added}}."""
        return {self.key(step.node, x): added[step.node][x]
                for step in self.steps(case) for x in step.inputs}

    # ------------------------------------------------------------ on the learner's objects
    def grade(self, case, nodes) -> dict:
        """Run every step on the learner's graph of ``case`` (``nodes``: program name ->
        the learner's Value). Returns {"values", "facts", "detail", "pieces"}."""
        program = case["program"]
        graph = nodes_inputs_first(nodes[program["output"]])
        names = {}
        for name, node in nodes.items():
            names.setdefault(id(node), name)
        start = start_grads(program)
        preset, others = {}, 0
        for node in graph:
            if id(node) in names:
                preset[id(node)] = start[names[id(node)]]
            else:  # a constant the learner wrapped, or an inner node of a built-up op
                others += 1
                preset[id(node)] = -round(0.25 + 0.37 * others, 2)

        def text(node):
            if id(node) in names:
                return names[id(node)]
            data = getattr(node, "data", None)
            return f"Value({_num(data)})" if not inputs_of(node) else \
                f"the inner node Value({_num(data)})"

        values, facts, detail, pieces = {}, self.facts(), {}, {}
        for step in self.steps(case):
            node = nodes[step.node]
            stop = [nodes[x] for x in step.inputs]
            stop_ids = {id(n) for n in stop}
            below = nodes_inputs_first(node, stop=stop)
            inner = [n for n in below
                     if n is not node and id(n) not in stop_ids and inputs_of(n)]
            inner_ids = {id(n) for n in inner}
            wanted = {}
            for n in graph:
                wanted[id(n)] = (step.grad if n is node else 0.0 if id(n) in inner_ids
                                 else preset[id(n)])
                n.grad = wanted[id(n)]
            before = {}
            for n in graph:
                before[id(n)] = number(getattr(n, "grad", None), f"{text(n)}.grad")
                if before[id(n)] != wanted[id(n)] and facts[STORES]:
                    facts[STORES] = False
                    detail[STORES] = (
                        f"after `{text(n)}.grad = {_num(wanted[id(n)])}`, reading "
                        f"{text(n)}.grad gives {_num(before[id(n)])}: grad must be a plain "
                        "number stored on the Value (each _backward adds into it), not "
                        "something worked out when it is read")
            if not facts[STORES]:
                break
            started = {x: before[id(nodes[x])] for x in step.inputs}
            for caller in [n for n in reversed(below) if n is node or id(n) in inner_ids]:
                run = getattr(caller, "_backward", None)
                if callable(run):
                    run()
                after = {id(n): number(getattr(n, "grad", None), f"{text(n)}.grad")
                         for n in graph}
                own = inputs_of(caller)
                allowed = {id(p) for p in own}
                stray = [n for n in graph if after[id(n)] != before[id(n)]
                         and id(n) not in allowed]
                if stray and facts[ONLY_INPUTS]:
                    facts[ONLY_INPUTS] = False
                    inputs_text = ", ".join(text(p) for p in own) or "nothing"
                    detail[ONLY_INPUTS] = (
                        f"`{text(caller)}._backward()` changed {text(stray[0])}.grad, but "
                        f"{text(stray[0])} is not an input of {text(caller)} (its _prev "
                        f"holds {inputs_text}): a node's _backward adds only to the grads "
                        "of its own inputs, and each inner node passes the gradient on "
                        "one step further when its own _backward runs")
                before = after
            values.update({self.key(step.node, x): before[id(nodes[x])] - started[x]
                           for x in step.inputs})
            if inner:
                pieces[step.node] = [text(n) for n in inner]
        return {"values": values, "facts": facts, "detail": detail, "pieces": pieces}

    # ------------------------------------------------------------ messages
    def wording(self, case, produced, key, got, want, shown) -> str | None:
        """"`out._backward()` added 0.0 to a.grad; it should add b.data * out.grad = -3"
        (the number only for a case the notebook shows)."""
        for step in self.steps(case):
            for x in step.inputs:
                if self.key(step.node, x) != key:
                    continue
                built = produced.get("pieces") if isinstance(produced, dict) else None
                inner = built.get(step.node) if isinstance(built, dict) else None
                who = f"`{step.node}._backward()`"
                if inner:
                    who += (" and the _backward of the nodes your "
                            f"`{step.node}` is built from")
                text = (f"{who} (with {step.node}.grad = {_num(step.grad)}) added "
                        f"{_num(got)} to {x}.grad; it should add {rule_text(step.op, x)}")
                return text + (f" = {_num(want)}" if shown else "")
        return None
