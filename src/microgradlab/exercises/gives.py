"""What each notebook gives the notebooks after it: the withholding table.

``GIVES[notebook]`` maps a module of the package (``""`` is its ``__init__``) to the
qualified names the learner wrote in ``notebook``. Most of it is derived, so a new
exercise or op needs no edit here:

* every op of the table (``microgradlab.ops``) with ``taught_in == notebook`` gives its
  local derivative, the engine's entry and backward step for it, and the ``Value``
  methods Python calls for it;
* every ``uses`` name of the notebook's exercises that is a function or class of
  ``numeric`` or ``nn`` (a class as its methods), or a ``Value`` method.

:data:`EXTRA_GIVES` adds what those pieces read. The grader's sandbox for notebook k
holds only what notebooks before k give (``microgradlab_grader.withholding`` builds it);
in the learner's kernel, :func:`microgradlab.exercises.withheld` trips every piece that
notebook k and the later ones give (:func:`graded_from`).
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

from ..ops import OPS
from . import NOTEBOOKS, exercises_of

PACKAGE = "microgradlab"
# Where an exercise's ``uses`` name is looked up as a reference piece (besides Value's methods).
PIECE_MODULES = ("numeric", "nn")

# Pieces handed on that are no exercise's ``uses`` and no op of the table: what the
# derived pieces read. Each line is checked (it must exist, and everything kept
# must read only kept, imported or builtin names).
EXTRA_GIVES: dict[str, dict[str, tuple[str, ...]]] = {
    # The numeric helpers' argument checks.
    "01_derivatives": {"numeric": ("_check_step", "_check_function")},
    # Notebook 02's Value lives in the learner's notebook. The package's Value already
    # carries notebook 03's backward rules for + and *, so 02 hands nothing on.
    "02_value": {},
    # The Value class itself (constructor, repr, the ``_backward`` micrograd names) and
    # the op table's machinery every op entry is registered with.
    "03_operations": {
        "": ("Value", "__version__", "__getattr__"),
        "engine": ("Value", "Value.__slots__", "Value.__init__", "Value.__array_ufunc__",
                   "Value.__repr__", "Value._backward", "_as_number", "_as_value", "_leaf",
                   "_node", "_new_object", "_nothing_to_push", "_one_input_step",
                   "_two_inputs_step", "__all__"),
        "ops": ("Op", "OPS", "op", "power", "__all__"),
    },
    # backward() and the one topological walk it runs on.
    "04_backward": {
        "engine": ("_interior_nodes_output_first",),
        "graph": ("GraphError", "Walk", "inputs_of", "walk", "_set_order", "_itself",
                  "_prev_of", "__all__"),
    },
    # exp's forward keeps large inputs at inf.
    "05_tanh_neuron": {"ops": ("exp",)},
    # nn (derived from 06's uses) is written in the last notebook: no sandbox holds any of it.
    "06_mlp": {"nn": ("Module", "Module.parameters", "Module.zero_grad", "mse_loss", "SGD",
                      "SGD.__init__", "SGD.zero_grad", "SGD.step")},
}

# Given pieces the checker itself runs on in the learner's kernel (graph.walk reads its
# helpers at run time; the op table's derivatives call the forward helpers): the
# in-kernel tripwire leaves these alone. The sandbox is built from GIVES alone.
CHECKER_RUNS_ON: dict[str, tuple[str, ...]] = {
    "graph": ("inputs_of", "_set_order", "_itself", "_prev_of"),
    "ops": ("op", "power", "exp"),
}


def _op_methods(entry) -> tuple[str, ...]:
    """The Value methods Python calls for an op: ``x.tanh()`` -> tanh; ``a * b`` ->
    __mul__ and, for ``2 * a``, __rmul__; ``a ** k`` -> __pow__ and __rpow__."""
    if isinstance(entry.python, str):
        return (entry.python,)
    if entry.python is None:
        return ()
    name = entry.python.__name__
    if entry.arity == 2 or entry.constant is not None:
        return (f"__{name}__", f"__r{name}__")
    return (f"__{name}__",)


def _derived(notebook: str) -> dict[str, tuple[str, ...]]:
    """What ``notebook`` gives by the op table and its exercises' ``uses``."""
    gives: dict[str, list[str]] = {}
    for entry in OPS.values():
        if entry.taught_in == notebook:
            gives.setdefault("ops", []).append(entry.local.__name__)
            gives.setdefault("engine", []).extend(
                [f"_{entry.name.upper()}", f"_{entry.name}_backward"]
                + [f"Value.{m}" for m in _op_methods(entry)])
    value_members = _class_member_names("engine", "Value")
    for exercise in exercises_of(notebook):
        for name in exercise.uses:
            for module in PIECE_MODULES:
                if name in _top_level_definitions(module):
                    # A class is given as its methods (the tripwire replaces functions).
                    methods = _class_member_names(module, name)
                    gives.setdefault(module, []).extend(
                        [name] + [f"{name}.{m}" for m in sorted(methods)])
                    break
            else:
                if name in value_members:
                    gives.setdefault("engine", []).append(f"Value.{name}")
    return {module: tuple(names) for module, names in gives.items()}


def _merged(parts) -> dict[str, list[str]]:
    """module -> names of every part, in order, each name once."""
    merged: dict[str, list[str]] = {}
    for part in parts:
        for module, names in part.items():
            kept = merged.setdefault(module, [])
            kept.extend(n for n in names if n not in kept)
    return merged


def _known(notebook: str) -> None:
    if notebook not in NOTEBOOKS:
        raise KeyError(f"no notebook {notebook!r}; known notebooks: {', '.join(NOTEBOOKS)}")


def _gives(notebook: str) -> dict[str, tuple[str, ...]]:
    merged = _merged((_derived(notebook), EXTRA_GIVES.get(notebook, {})))
    return {module: tuple(names) for module, names in merged.items()}


def _source_path(module: str) -> Path:
    package = Path(sys.modules[PACKAGE].__file__).parent if PACKAGE in sys.modules \
        else Path(__import__(PACKAGE).__file__).parent
    return package / ("__init__.py" if module == "" else f"{module}.py")


@functools.cache
def _module_tree(module: str) -> ast.Module:
    """``module``'s source, parsed once (every notebook's table reads the same files)."""
    return ast.parse(_source_path(module).read_text(encoding="utf-8"))


def _top_level_definitions(module: str) -> set[str]:
    """The functions and classes ``module`` defines (not what it imports)."""
    return {node.name for node in _module_tree(module).body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _class_member_names(module: str, cls: str) -> set[str]:
    for node in _module_tree(module).body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return {member.name for member in node.body
                    if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return set()


class _Gives(dict):
    """``GIVES[notebook] -> {module: qualnames}`` (module "" is the package's __init__)."""

    def __missing__(self, notebook):
        _known(notebook)
        self[notebook] = _gives(notebook)
        return self[notebook]

    def __iter__(self):
        return iter(NOTEBOOKS)

    def __len__(self):
        return len(NOTEBOOKS)

    def keys(self):
        return list(NOTEBOOKS)

    def items(self):
        return [(nb, self[nb]) for nb in NOTEBOOKS]

    def values(self):
        return [self[nb] for nb in NOTEBOOKS]


GIVES: dict[str, dict[str, tuple[str, ...]]] = _Gives()


def given_before(notebook: str) -> dict[str, list[str]]:
    """module -> qualnames the sandbox of ``notebook`` holds (what earlier notebooks gave)."""
    _known(notebook)
    return _merged(GIVES[earlier] for earlier in NOTEBOOKS[:NOTEBOOKS.index(notebook)])


def graded_from(notebook: str) -> list[str]:
    """'microgradlab.module:qualname' of every piece ``notebook`` and the later notebooks
    give, less :data:`CHECKER_RUNS_ON`: the in-kernel tripwire's list."""
    _known(notebook)
    pieces = []
    for later in NOTEBOOKS[NOTEBOOKS.index(notebook):]:
        for module, names in GIVES[later].items():
            dotted = PACKAGE + (f".{module}" if module else "")
            pieces.extend(f"{dotted}:{name}" for name in names
                          if name not in CHECKER_RUNS_ON.get(module, ()))
    return pieces
