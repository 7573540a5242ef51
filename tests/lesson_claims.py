"""Claims in the lessons' prose, written next to the sentence that makes them.

A markdown cell of a notebook source may carry, on a line of its own, an HTML comment

    <!-- claim {"says": "...", "prints": [...]} -->

(JupyterLab, nbconvert and GitHub show nothing of it). ``says`` is a phrase of that
cell's visible prose, so the sentence and its check cannot drift apart unnoticed; the
other keys say how to confirm it:

``prints``  numbers that appear, in this order, in the text output of the target code cell
            (with other numbers between them allowed); ``tol`` widens the match for figures
            the prose rounds;
``shows``   strings that appear, in this order, in the target cell's text output;
``holds``   a Python expression that is true in the notebook's namespace once the target
            cell has run (a list of them: all true);
``taught``  ``[notebook, words]``: a prerequisite. That notebook comes earlier and has a
            heading containing ``words``.

The target is the next code cell (``"cell": "below"``, the default) or the previous one
(``"cell": "above"``). ``holds`` expressions may use the helpers of ``PRELUDE``.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

CLAIM = re.compile(r"<!--\s*claim\s+(\{.*?\})\s*-->")
KEYS = {"says", "prints", "shows", "holds", "taught", "cell", "tol"}
#: A number as printed; digits that end a name (x1, dw2) are not numbers.
NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
MARK = "MGL-CLAIM "

#: Helpers a ``holds`` expression may use; run first in the kernel.
PRELUDE = r'''
import json as _mgl_json
import math
import random as _mgl_random
import sys


def approx(got, want, rel=1e-6, tol=1e-9):
    """got == want up to rounding (numbers, or sequences of numbers)."""
    if isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(approx(g, w, rel, tol) for g, w in zip(got, want))
    return abs(got - want) <= max(tol, rel * abs(want))


def alternates(numbers):
    """The signs flip at every step (no zeros)."""
    return all(a * b < 0 for a, b in zip(numbers, numbers[1:]))


def falls(numbers):
    return all(b < a for a, b in zip(numbers, numbers[1:]))


def grows(numbers):
    return all(b > a for a, b in zip(numbers, numbers[1:]))


def count_values(root):
    """How many distinct values the graph behind root holds (an explicit stack: deep graphs)."""
    seen, stack = set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(getattr(node, "_prev", ()))
    return len(seen)


def engine_grads(build, **leaves):
    """{leaf name: grad} for build(**leaves) made of microgradlab Values, after backward()."""
    from microgradlab import Value as _Value
    values = {name: _Value(number) for name, number in leaves.items()}
    build(**values).backward()
    return {name: value.grad for name, value in values.items()}


def torch_grads(build, **leaves):
    """The same as engine_grads, from PyTorch (float64 leaves, requires_grad)."""
    import torch
    values = {name: torch.tensor(number, dtype=torch.float64, requires_grad=True)
              for name, number in leaves.items()}
    build(**values).backward()
    return {name: value.grad.item() for name, value in values.items()}


def _mgl_claim(index, check):
    state = _mgl_random.getstate()  # a claim must not change what the notebook draws next
    try:
        result = {"index": index, "ok": bool(check())}
    except Exception as error:  # reported as a broken claim, with its error
        result = {"index": index, "ok": False, "error": f"{type(error).__name__}: {error}"}
    finally:
        _mgl_random.setstate(state)
    print("MGL-CLAIM " + _mgl_json.dumps(result))
'''

PRELUDE_NAMES = ("approx", "alternates", "falls", "grows", "count_values", "engine_grads",
                 "torch_grads")


@dataclass
class Claim:
    notebook: str
    cell_index: int          # the markdown cell that carries it
    data: dict
    problems: list[str] = field(default_factory=list)

    def __str__(self):
        return f"{self.notebook}, cell {self.cell_index}: {self.data.get('says', '?')!r}"

    @property
    def target(self) -> str:
        return self.data.get("cell", "below")


def visible_text(markdown: str) -> str:
    """The cell's prose as a reader sees it: claims removed, whitespace collapsed."""
    return " ".join(CLAIM.sub(" ", markdown).split())


def claims_of(notebook, name: str) -> list[Claim]:
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for raw in CLAIM.findall(cell.source):
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as error:
                claim = Claim(name, index, {"says": raw[:60]})
                claim.problems.append(f"not valid JSON: {error}")
                found.append(claim)
                continue
            claim = Claim(name, index, data if isinstance(data, dict) else {})
            if not isinstance(data, dict):
                claim.problems.append("a claim is a JSON object")
            else:
                unknown = set(data) - KEYS
                if unknown:
                    claim.problems.append(f"unknown keys {sorted(unknown)}")
                if not isinstance(data.get("says"), str) or not data["says"].strip():
                    claim.problems.append('no "says" phrase')
                elif " ".join(data["says"].split()) not in visible_text(cell.source):
                    claim.problems.append("its cell's prose does not say that (any more)")
                if not set(data) & {"prints", "shows", "holds", "taught"}:
                    claim.problems.append("says nothing to check (prints, shows, holds or taught)")
                if data.get("cell", "below") not in ("above", "below"):
                    claim.problems.append('"cell" is "above" or "below"')
            found.append(claim)
    return found


def target_cell(notebook, claim: Claim):
    """The code cell a claim is about (None when there is none on that side)."""
    cells = notebook.cells
    indexes = (range(claim.cell_index - 1, -1, -1) if claim.target == "above"
               else range(claim.cell_index + 1, len(cells)))
    return next((cells[i] for i in indexes if cells[i].cell_type == "code"), None)


def output_text(cell) -> str:
    """Everything a code cell printed or showed as text."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif output.get("output_type") in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def numbers_in(text: str) -> list[float]:
    return [float(n.replace("−", "-")) for n in NUMBER.findall(text)]


def prints_in_order(text: str, wanted: list, tol: float | None) -> str | None:
    """None when every wanted number appears in order in text; else what is missing."""
    found = numbers_in(text)
    position = 0
    for want in wanted:
        allowed = tol if tol is not None else max(1e-9, 1e-6 * abs(want))
        while position < len(found) and not math.isclose(found[position], want, rel_tol=0,
                                                          abs_tol=allowed):
            position += 1
        if position == len(found):
            return f"{want} (within {allowed:g}) not printed after the numbers before it"
        position += 1
    return None


def with_checks(notebook, claims: list[Claim]):
    """A copy of the notebook's cell list with the prelude first and a check cell for each
    ``holds`` claim where it is to be judged; returns (cells, {claim number: holds list})."""
    import nbformat

    after = {}  # id(cell) -> check cells to insert after it
    expressions = {}
    for number, claim in enumerate(claims):
        holds = claim.data.get("holds")
        if holds is None or claim.problems:
            continue
        holds = [holds] if isinstance(holds, str) else list(holds)
        expressions[number] = holds
        anchor = (notebook.cells[claim.cell_index] if claim.target == "above"
                  else target_cell(notebook, claim))
        if anchor is None:
            claim.problems.append("no code cell below it")
            continue
        source = "\n".join(f"_mgl_claim({number}, lambda: ({expression}))" for expression in holds)
        after.setdefault(id(anchor), []).append(nbformat.v4.new_code_cell(source))
    cells = [nbformat.v4.new_code_cell(PRELUDE)]
    for cell in notebook.cells:
        cells.append(cell)
        cells.extend(after.get(id(cell), []))
    return cells, expressions


def judge_outputs(notebook, claims: list[Claim], executed_cells) -> None:
    """Record on each claim what its run showed to be wrong."""
    results = {}
    for cell in executed_cells:
        for line in output_text(cell).splitlines():
            if line.startswith(MARK):
                result = json.loads(line[len(MARK):])
                results[result["index"]] = result
    for number, claim in enumerate(claims):
        if claim.problems:
            continue
        data = claim.data
        target = target_cell(notebook, claim)
        if ("prints" in data or "shows" in data) and target is None:
            claim.problems.append(f"no code cell {claim.target} it")
            continue
        if "prints" in data:
            missing = prints_in_order(output_text(target), data["prints"], data.get("tol"))
            if missing:
                claim.problems.append(f"prints: {missing}; the cell printed "
                                      f"{output_text(target)[:400]!r}")
        position, shown = 0, output_text(target)
        for text in data.get("shows", []):
            found = shown.find(text, position)
            if found < 0:
                claim.problems.append(f"shows: {text!r} is not in {shown[:400]!r}"
                                      + (" after the texts before it" if position else ""))
                break
            position = found + len(text)
        if "holds" in data:
            result = results.get(number)
            if result is None:
                claim.problems.append("holds: its check never ran")
            elif not result["ok"]:
                claim.problems.append(f"holds: {data['holds']!r} is not true"
                                      + (f" ({result['error']})" if "error" in result else ""))
