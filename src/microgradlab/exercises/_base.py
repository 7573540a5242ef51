"""The Exercise record and the small tools every exercise's ``produce`` shares.

``produce`` runs learner code, and learner code can do anything: raise, return
a string, return a Value where a number was meant, call ``sys.exit()``. The
helpers here turn all of that into plain, JSON-able facts so the checker can
explain what happened instead of crashing.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass, field
from typing import Callable

__all__ = [
    "Exercise", "LearnerOutputError", "ReferenceSolutionUsed", "number", "numbers",
    "nodes_inputs_first", "run_backward", "error_result", "fresh_seed",
]


class ReferenceSolutionUsed(RuntimeError):
    """Raised by a withheld reference piece: the learner's code called the
    solution that ships with microgradlab instead of their own."""


class LearnerOutputError(TypeError):
    """The learner's code returned something of the wrong kind (a string, a Value
    where a number belongs, a list of the wrong length)."""


def fresh_seed() -> int:
    return int.from_bytes(os.urandom(4), "little")


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: what the learner provides and how to test it.

    ``fixed(...)`` returns the fixed cases (shown ones first); ``draw(rng)`` the
    random ones; ``producer(case, names)`` builds a case with the learner's
    objects and returns numbers. Use :meth:`cases` and :meth:`produce`.
    """

    id: str
    notebook: str
    title: str
    uses: tuple[str, ...]
    hints: tuple[str, ...]
    fixed: Callable[[], list] = field(repr=False, compare=False)
    draw: Callable[[random.Random], list] = field(repr=False, compare=False)
    producer: Callable[[dict, dict], dict] = field(repr=False, compare=False)
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

    def cases(self, seed: int | None = None) -> list[dict]:
        """The fixed cases followed by random ones drawn from ``random.Random(seed)``."""
        if seed is None:
            seed = fresh_seed()
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__} {seed!r}")
        rng = random.Random(seed)
        cases = list(self.fixed())
        for i, case in enumerate(self.draw(rng)):
            case.setdefault("name", f"random case {i + 1} (seed {seed})")
            case["shown"] = False
            cases.append(case)
        return cases

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
            return self.producer(case, {n: names[n] for n in self.uses})
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - learner code may raise anything
            return error_result(exc)


def error_result(exc: BaseException) -> dict:
    """What happened, as JSON: the exception's type and text."""
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        text = "(the error message itself could not be printed)"
    if isinstance(exc, RecursionError):
        text += " (recursion too deep: use a list as a stack instead of recursion)"
    return {
        "error": f"{type(exc).__name__}: {text}"[:500],
        "not_attempted": isinstance(exc, NotImplementedError),
        "reference_used": isinstance(exc, ReferenceSolutionUsed),
    }


def number(x, what: str) -> float:
    """``x`` as a float, or a LearnerOutputError that says what ``what`` was instead."""
    if isinstance(x, bool):
        raise LearnerOutputError(f"{what} should be a number, got the bool {x!r}")
    if isinstance(x, (int, float)):
        return float(x)
    kind = type(x).__name__
    if hasattr(x, "data") and hasattr(x, "grad"):
        raise LearnerOutputError(f"{what} should be a plain number, got a {kind} "
                                 "(use its .data)")
    try:
        return float(x.__float__())  # numpy and torch scalars
    except BaseException:  # noqa: BLE001
        raise LearnerOutputError(f"{what} should be a number, got {kind} {_short(x)}") from None


def numbers(xs, what: str, length: int | None = None) -> list[float]:
    if isinstance(xs, (str, bytes)) or not hasattr(xs, "__iter__"):
        raise LearnerOutputError(f"{what} should be a list of numbers, got {type(xs).__name__} "
                                 f"{_short(xs)}")
    xs = list(xs)
    if length is not None and len(xs) != length:
        raise LearnerOutputError(f"{what} should have {length} entries, yours has {len(xs)}")
    return [number(x, f"{what}[{i}]") for i, x in enumerate(xs)]


def _short(x) -> str:
    try:
        text = repr(x)
    except BaseException:  # noqa: BLE001
        return "(unprintable)"
    return text if len(text) <= 60 else text[:57] + "..."


def inputs_of(node) -> tuple:
    prev = getattr(node, "_prev", ())
    if isinstance(prev, (set, frozenset)):  # micrograd stores a set: order is lost, accept it
        prev = tuple(prev)
    if not isinstance(prev, (tuple, list)):
        raise LearnerOutputError(f"_prev should be a tuple of Values, got {type(prev).__name__}")
    return tuple(prev)


def nodes_inputs_first(root, stop=()) -> list:
    """Every node ``root`` depends on, each after all its inputs (an explicit
    stack, so deep graphs are fine). Nodes in ``stop`` are not looked into."""
    stop_ids = {id(n) for n in stop}
    order, seen = [], {id(root)}
    stack = [(root, iter(() if id(root) in stop_ids else inputs_of(root)))]
    while stack:
        node, it = stack[-1]
        for child in it:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append((child, iter(() if id(child) in stop_ids else inputs_of(child))))
                break
        else:
            stack.pop()
            order.append(node)
    return order


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


def finite_or_text(x: float):
    """JSON has no inf/nan: keep them as text."""
    return x if math.isfinite(x) else repr(x)
