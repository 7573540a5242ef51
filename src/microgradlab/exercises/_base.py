"""The Exercise record and the small tools every exercise's ``produce`` shares.

``produce`` runs learner code, and learner code can do anything: raise, return
a string, return a Value where a number was meant, call ``sys.exit()``. The
helpers here turn all of that into plain, JSON-able facts so the checker can
explain what happened instead of crashing.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..errors import LearnerOutputError, ReferenceSolutionUsed, kind
from ..errors import short_repr as _short
from ..graph import inputs_of, walk
from .seeds import fresh_seed

if TYPE_CHECKING:  # own_node imports this module
    from .own_node import OwnNodes

__all__ = [
    "Exercise", "LearnerOutputError", "ReferenceSolutionUsed", "number", "numbers",
    "inputs_of", "nodes_inputs_first", "run_backward", "error_result", "fresh_seed", "kind",
]


RTOL, ATOL = 1e-9, 1e-12  # float64 against float64: only rounding may differ


@dataclass(frozen=True, kw_only=True)
class Exercise:
    """One graded exercise: everything about it, in one place.

    ``fixed()`` returns the fixed cases (shown ones first); ``draw(rng)`` some
    random ones (it is called until there are ``random_cases`` of them);
    ``producer(case, names)`` builds a case with the learner's objects and
    returns numbers. Use :meth:`cases`, :meth:`produce` and :meth:`graph`;
    ``microgradlab.checking`` reads the other fields, and never asks which
    exercise it is looking at: whatever differs between exercises is here.
    """

    id: str
    notebook: str
    title: str
    uses: tuple[str, ...]
    hints: tuple[str, ...]
    fixed: Callable[[], list] = field(repr=False, compare=False)
    draw: Callable[[random.Random], list] = field(repr=False, compare=False)
    producer: Callable[[dict, dict], dict] = field(repr=False, compare=False)
    # How many random cases follow the fixed ones. A mistake that each random case
    # reveals with probability at least 1/2 slips through 20 draws with probability
    # at most 2**-20.
    random_cases: int = 20
    # For exercises whose cases carry a "program": report(case, values, grads)
    # turns per-node floats into the keys produce returns, so the checker can
    # compute the same keys with torch (expected) and with simulated mistakes.
    report: Callable[[dict, dict, dict], dict] | None = field(default=None, repr=False,
                                                                compare=False)
    # variants(case) -> {mistake name: program}: what a structural mistake builds.
    variants: Callable[[dict], dict] | None = field(default=None, repr=False, compare=False)
    # facts(case) -> {what: expected}: structure (an _op, a _prev, a yes/no) that
    # needs no arithmetic, compared for equality with produce's "facts".
    facts: Callable[[dict], dict] | None = field(default=None, repr=False, compare=False)
    # Reference pieces the producer needs, {name: "module:qualname"}, resolved
    # where the learner's code runs (by import here, through the channel in the grader).
    provides: dict = field(default_factory=dict, repr=False, compare=False)
    # Exercises whose code this one calls: a failure here may come from there.
    builds_on: tuple[str, ...] = ()
    # grapher(case, names) -> (root, {name: node}) or None: the learner's graph of a case.
    grapher: Callable[[dict, dict], tuple | None] | None = field(default=None, repr=False,
                                                                  compare=False)
    tolerance: tuple[float, float] = (RTOL, ATOL)
    # mistakes: {name: sentence} this exercise may name ("" for the catalogue's
    # sentence). A mistake is named only when it is listed here, so a name never
    # appears where the learner could not have made it.
    mistakes: dict = field(default_factory=dict, repr=False, compare=False)
    # {fact: mistake}: a wrong fact that by itself means that mistake.
    fact_mistakes: dict = field(default_factory=dict, repr=False, compare=False)
    # {exception type name: mistake}: learner code that raised this means that mistake.
    error_mistakes: dict = field(default_factory=dict, repr=False, compare=False)
    # explain_error(produced) -> str | None: this exercise's own words for an error result.
    explain_error: Callable[[dict], str | None] | None = field(default=None, repr=False,
                                                                compare=False)
    # candidates(case) -> {mistake: [values that mistake produces]}, for mistakes
    # that are not a swapped chain-rule step (computed on floats, no torch).
    candidates: Callable[[dict], dict] | None = field(default=None, repr=False, compare=False)
    # pytorch(case, torch_side) -> the expected values, for cases without a
    # program report; torch_side is checking's toolbox (run_program, function).
    pytorch: Callable | None = field(default=None, repr=False, compare=False)
    # where(case, key) -> the op or node to look at when that key is wrong (learner's terms).
    where: Callable[[dict, str], str] | None = field(default=None, repr=False, compare=False)
    # Ops the learner writes, graded on their own node besides the whole backward
    # pass (exercises.own_node.OwnNodes), or None.
    own_nodes: OwnNodes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if isinstance(self.random_cases, bool) or not isinstance(self.random_cases, int) \
                or self.random_cases < 0:
            raise ValueError(f"{self.id}: random_cases must be a whole number >= 0, "
                             f"got {self.random_cases!r}")
        named_here = set(self.fact_mistakes.values()) | set(self.error_mistakes.values())
        unlisted = sorted(named_here - set(self.mistakes))
        if unlisted:
            raise ValueError(f"{self.id}: fact_mistakes/error_mistakes name mistakes it does "
                             f"not list in mistakes: {', '.join(unlisted)}")

    def cases(self, seed: int | None = None) -> list[dict]:
        """The fixed cases followed by ``random_cases`` random ones drawn from
        ``random.Random(seed)`` (``draw`` is called until there are enough)."""
        if seed is None:
            seed = fresh_seed()
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__} {seed!r}")
        rng = random.Random(seed)
        drawn: list[dict] = []
        while len(drawn) < self.random_cases:
            more = list(self.draw(rng))
            if not more:
                raise ValueError(f"{self.id}: draw(rng) returned no case")
            drawn.extend(more)
        cases = list(self.fixed())
        for i, case in enumerate(drawn[:self.random_cases]):
            case.setdefault("name", f"random case {i + 1} (seed {seed})")
            case["shown"] = False
            cases.append(case)
        return cases

    def shown_cases(self) -> list[dict]:
        """The cases the notebook shows (the graded cell's visible tests)."""
        return [c for c in self.fixed() if c.get("shown")]

    def expected_facts(self, case: dict) -> dict:
        """What every fact of ``case`` should be (the spec's facts and its own nodes')."""
        facts = dict(self.facts(case)) if self.facts else {}
        if self.own_nodes is not None and "program" in case:
            facts.update(self.own_nodes.facts())
        return facts

    def mistake_of_fact(self, fact: str) -> str | None:
        """The mistake a wrong ``fact`` means by itself, or None."""
        own = self.own_nodes.fact_mistakes if self.own_nodes is not None else {}
        return self.fact_mistakes.get(fact) or own.get(fact)

    def mistake_of_error(self, error: str) -> str | None:
        """The mistake an error result means (``"RecursionError: ..."``), or None."""
        kind_name = str(error).partition(":")[0].strip()
        table = {**COMMON_ERROR_MISTAKES, **self.error_mistakes}
        return table.get(kind_name)

    def wording(self, case: dict, produced: dict, key: str, got, want, shown: bool):
        """This exercise's own words for a wrong value ``key``, or None for the plain
        "`key` is got, it should be want"."""
        if self.own_nodes is not None and "program" in case:
            return self.own_nodes.wording(case, produced, key, got, want, shown)
        return None

    def with_provided(self, names: dict) -> dict:
        """``names`` plus every provided reference piece it lacks, imported here."""
        full = dict(names)
        for name, piece in self.provides.items():
            if name not in full:
                full[name] = resolve_piece(piece)
        return full

    def produce(self, case: dict, names: dict) -> dict:
        """Run the learner's code on ``case``; numbers, or ``{"error": ...}``. Never raises
        (except KeyboardInterrupt, so a learner can still stop a runaway cell)."""
        missing = [n for n in self.uses if n not in names]
        if missing:
            return {"error": f"missing: {', '.join(missing)} (pass "
                             + ", ".join(f"{n}={n}" for n in self.uses) + ")",
                    "not_attempted": False, "reference_used": False}
        try:
            for name in self.uses:
                module = getattr(names[name], "__module__", None) or ""
                if isinstance(module, str) and module.startswith("microgradlab."):
                    raise ReferenceSolutionUsed(
                        f"exercise {self.id} is graded on your own code: the {name} you passed "
                        f"comes from {module}, the reference solution. Pass the {name} you "
                        "wrote in this notebook.")
            given = {n: names[n] for n in self.uses}
            given.update({n: names[n] for n in self.provides if n in names})
            return self.producer(case, self.with_provided(given))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - learner code may raise anything
            return error_result(exc)

    def graph(self, case: dict, names: dict):
        """(root, {name: node}) of the learner's graph of ``case``, for a drawing;
        None when the exercise has no graph. May raise (a broken learner graph)."""
        if self.grapher is None:
            return None
        return self.grapher(case, self.with_provided(names))


# Every exercise: the reference solution in place of the learner's code.
COMMON_ERROR_MISTAKES = {"ReferenceSolutionUsed": "reference_solution"}


def named(*names: str, **worded: str) -> dict:
    """An exercise's ``mistakes``: catalogue names (their standard sentence) and
    names with this exercise's own wording."""
    out = {name: "" for name in names}
    out.update(worded)
    return out


def resolve_piece(piece: str):
    """'module:qualname' -> the object, by import."""
    import importlib

    module_name, _, qualname = piece.partition(":")
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _learner_frame(exc: BaseException) -> str | None:
    """The function of the learner's code the exception came out of (the deepest
    frame outside microgradlab), or None."""
    name, tb, depth = None, getattr(exc, "__traceback__", None), 0
    while tb is not None and depth < 100_000:
        code = tb.tb_frame.f_code
        if not (code.co_filename or "").startswith(_PACKAGE_DIR) and code.co_name != "<module>":
            name = code.co_name
        tb, depth = tb.tb_next, depth + 1
    return name


def error_result(exc: BaseException) -> dict:
    """What happened, as JSON: the exception's type and text."""
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        text = "(the error message itself could not be printed)"
    result = {
        "error": f"{type(exc).__name__}: {text}"[:500],
        "not_attempted": isinstance(exc, NotImplementedError),
        "reference_used": isinstance(exc, ReferenceSolutionUsed),
    }
    where = _learner_frame(exc)
    if where:
        result["error_in"] = where[:80]
    return result


def number(x, what: str) -> float:
    """``x`` as a float, or a LearnerOutputError that says what ``what`` was instead."""
    if isinstance(x, bool):
        raise LearnerOutputError(f"{what} should be a number, got the bool {x!r}")
    if isinstance(x, (int, float)):
        return float(x)
    what_kind = kind(x)
    if hasattr(x, "data") and hasattr(x, "grad"):
        raise LearnerOutputError(f"{what} should be a plain number, got a {what_kind} "
                                 "(use its .data)")
    try:
        return float(x)  # numpy and torch scalars (and the grader's proxies)
    except BaseException:  # noqa: BLE001
        raise LearnerOutputError(f"{what} should be a number, got {what_kind} {_short(x)}") from None


def numbers(xs, what: str, length: int | None = None) -> list[float]:
    if isinstance(xs, (str, bytes)) or not hasattr(xs, "__iter__"):
        raise LearnerOutputError(f"{what} should be a list of numbers, got {kind(xs)} "
                                 f"{_short(xs)}")
    xs = list(xs)
    if length is not None and len(xs) != length:
        raise LearnerOutputError(f"{what} should have {length} entries, yours has {len(xs)}")
    return [number(x, f"{what}[{i}]") for i, x in enumerate(xs)]


def nodes_inputs_first(root, stop=()) -> list:
    """Every node ``root`` depends on, each after all its inputs (graph.walk: an
    explicit stack, so deep graphs are fine). Nodes in ``stop`` are not looked into."""
    return walk(root, stop=stop).order


def run_backward(root, seed_grad=1.0, stop=()):
    """Backpropagate through the learner's own graph with the learner's own
    ``_backward`` steps: seed ``root.grad`` and call each node's ``_backward()``
    in reverse topological order. (This is the checker's walk, used where the
    learner has not written ``backward`` yet.)"""
    order = nodes_inputs_first(root, stop)
    root.grad = seed_grad
    for node in reversed(order):
        step = getattr(node, "_backward", None)
        if callable(step):
            step()
    return order
