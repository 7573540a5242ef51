"""Withholding by construction: the ``microgradlab`` a graded notebook's sandbox holds.

The sandbox of notebook k holds what the notebooks before k taught (the learner
wrote it there, so using it is fair) and the course's support, and nothing
else: every other definition of the package is absent, not stubbed.

``GIVES[notebook]`` maps ``module -> qualified names`` that notebook hands on.
Most of it is derived, so a new exercise or op needs no edit here:

* each op of :data:`microgradlab.ops.OPS` with ``taught_in == notebook`` gives
  its local derivatives (``ops.d_<name>``), the engine's entry for it
  (``engine._<NAME>``), its backward rule (``engine._<name>_backward``) and the
  ``Value`` methods Python calls for it (``__mul__`` and ``__rmul__``, ``tanh``);
* each ``uses`` name of the notebook's exercises that names a top-level function
  of ``numeric`` or a method of ``engine.Value`` gives that piece.

:data:`EXTRA_GIVES` holds the rest by hand: the plumbing those pieces read (the
``Value`` constructor and ``_backward``, the op table's machinery, the
topological walk ``backward`` needs). Pieces no notebook teaches (``Value.sum``,
``linear``, ``log``, ``sigmoid``, ``softplus``, pickling and deepcopy support,
``nn``) are in no sandbox.

:func:`build_package` writes the package of one notebook. A module keeps only
its top-level statements and class members whose names are listed, plus the
imports the kept code reads; a module with nothing listed is not written. The
generator refuses (:class:`WithholdingError`, naming the name) a listed name that
does not exist, and kept code that reads a global name that is neither kept,
imported nor a builtin, so the table cannot hand out a broken engine; then it
imports every written module, and each piece the notebook's producers are
``provides``-d, in a fresh interpreter.

Third-party packages: :func:`allowed_site_entries` lists the entries of
site-packages that the sandbox binds (numpy, matplotlib, IPython, ipywidgets and
the distributions they require, read from ``importlib.metadata``); nothing else
installed is importable there. From the standard library, :data:`BLOCKED_STDLIB`
(``graphlib``: its ``TopologicalSorter`` is notebook 04's graded piece ready-made)
is replaced by a module that raises ``ModuleNotFoundError``.
"""

from __future__ import annotations

import ast
import builtins
import compileall
import functools
import importlib.metadata
import shutil
import subprocess
import symtable
import sys
import sysconfig
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from microgradlab.exercises import NOTEBOOKS, exercises_of
from microgradlab.ops import OPS

PACKAGE = "microgradlab"
# Where an exercise's ``uses`` name is looked up as a reference piece (besides Value's methods).
PIECE_MODULES = ("numeric", "nn")
SUPPORT_MODULES = ("errors", "data")          # copied whole into every sandbox
STUB_PACKAGES = ("checking", "widgets", "exercises")  # do-nothing in every sandbox
# Third-party distributions a graded notebook may import; their requirements come too.
ALLOWED_DISTRIBUTIONS = ("numpy", "matplotlib", "ipython", "ipywidgets")
BLOCKED_STDLIB = ("graphlib",)
BLOCKED_STDLIB_TEXT = ('raise ModuleNotFoundError("No module named {name!r} while your notebook '
                       'is graded: the grade is for your own code", name={name!r})\n')

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

_SUPPORT_TEXT = {
    "checking": '''"""Withheld while grading: the grader tests your code itself."""


def _withheld(*args, **kwargs):
    return None


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _withheld
''',
    "exercises": '''"""Withheld while grading: the exercises and their cases stay with the grader."""

from microgradlab.errors import ReferenceSolutionUsed


def __getattr__(name):
    raise AttributeError(f"microgradlab.exercises.{name} is withheld while your notebook is graded")
''',
    "widgets": '''"""Nothing is shown while a notebook is graded: every widget is a do-nothing."""


class Nothing:
    """Accepts any arguments, any attribute, any call; shows nothing."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return Nothing()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Nothing()

    def __iter__(self):
        return iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __repr__(self):
        return "(not shown while grading)"


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return Nothing
''',
}
_WIDGETS_SUBMODULE = "from microgradlab.widgets import Nothing, __getattr__  # noqa: F401\n"


class WithholdingError(RuntimeError):
    """The table and the package disagree: a listed name is missing, or kept code
    reads a name nothing keeps."""


# --------------------------------------------------------------- the table
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


def _gives(notebook: str) -> dict[str, tuple[str, ...]]:
    merged: dict[str, list[str]] = {}
    for part in (_derived(notebook), EXTRA_GIVES.get(notebook, {})):
        for module, names in part.items():
            kept = merged.setdefault(module, [])
            kept.extend(n for n in names if n not in kept)
    return {module: tuple(names) for module, names in merged.items()}


def _source_path(module: str) -> Path:
    package = Path(sys.modules[PACKAGE].__file__).parent if PACKAGE in sys.modules \
        else Path(__import__(PACKAGE).__file__).parent
    return package / ("__init__.py" if module == "" else f"{module}.py")


def _top_level_definitions(module: str) -> set[str]:
    """The functions and classes ``module`` defines (not what it imports)."""
    tree = ast.parse(_source_path(module).read_text(encoding="utf-8"))
    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _class_member_names(module: str, cls: str) -> set[str]:
    tree = ast.parse(_source_path(module).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return {member.name for member in node.body
                    if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return set()


class _Gives(dict):
    """``GIVES[notebook] -> {module: qualnames}`` (module "" is the package's __init__)."""

    def __missing__(self, notebook):
        if notebook not in NOTEBOOKS:
            raise KeyError(f"no notebook {notebook!r}; known notebooks: {', '.join(NOTEBOOKS)}")
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
    if notebook not in NOTEBOOKS:
        raise KeyError(f"no notebook {notebook!r}; known notebooks: {', '.join(NOTEBOOKS)}")
    merged: dict[str, list[str]] = {}
    for earlier in NOTEBOOKS[:NOTEBOOKS.index(notebook)]:
        for module, names in GIVES[earlier].items():
            kept = merged.setdefault(module, [])
            kept.extend(n for n in names if n not in kept)
    return merged


def graded_from(notebook: str) -> list[str]:
    """'microgradlab.module:qualname' of every piece ``notebook`` and the later notebooks
    give, less :data:`CHECKER_RUNS_ON`: the in-kernel tripwire's list."""
    if notebook not in NOTEBOOKS:
        raise KeyError(f"no notebook {notebook!r}; known notebooks: {', '.join(NOTEBOOKS)}")
    pieces = []
    for later in NOTEBOOKS[NOTEBOOKS.index(notebook):]:
        for module, names in GIVES[later].items():
            dotted = PACKAGE + (f".{module}" if module else "")
            pieces.extend(f"{dotted}:{name}" for name in names
                          if name not in CHECKER_RUNS_ON.get(module, ()))
    return pieces


# --------------------------------------------------------------- the generator
def _bound_names(node) -> list[str]:
    """The names a top-level statement (or class member) binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).partition(".")[0] for a in node.names]
    if isinstance(node, ast.Assign):
        return [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _is_docstring(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
        and isinstance(node.value.value, str)


def _keep_members(cls: ast.ClassDef, members: set[str]) -> ast.ClassDef:
    body = [m for i, m in enumerate(cls.body)
            if (i == 0 and _is_docstring(m)) or set(_bound_names(m)) & members]
    cls.body = body or [ast.Pass()]
    return cls


def _filter_all(node: ast.Assign, kept: set[str]) -> ast.Assign:
    """``__all__`` lists only the names kept."""
    if isinstance(node.value, (ast.List, ast.Tuple)):
        node.value.elts = [e for e in node.value.elts
                           if isinstance(e, ast.Constant) and e.value in kept]
    return node


def _generate(module: str, text: str, names: tuple[str, ...]) -> tuple[str, list[ast.ImportFrom]]:
    """The module's text keeping only ``names`` (and the imports they read)."""
    label = PACKAGE + (f".{module}" if module else "")
    tree = ast.parse(text)
    top = {n for n in names if "." not in n}
    members: dict[str, set[str]] = {}
    for n in names:
        if "." in n:
            cls, _, member = n.partition(".")
            members.setdefault(cls, set()).add(member)
    found: set[str] = set()
    kept, imports = [], []
    for i, node in enumerate(tree.body):
        bound = _bound_names(node)
        if i == 0 and _is_docstring(node):
            kept.append(node)
        elif isinstance(node, ast.ImportFrom) and node.module == "__future__":
            kept.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node)
            found.update(n for n in bound if n in top)
        elif isinstance(node, ast.ClassDef) and node.name in members:
            present = {b for m in node.body for b in _bound_names(m)}
            missing = members[node.name] - present
            if missing:
                raise WithholdingError(f"{label}: class {node.name} has no "
                                       f"{', '.join(sorted(missing))} (listed in GIVES)")
            found.update(f"{node.name}.{m}" for m in members[node.name])
            node = _keep_members(node, members[node.name])  # listed members only
            kept.append(node)
            found.add(node.name)
        elif set(bound) & top:
            found.update(set(bound) & top)
            kept.append(node)
    for cls in members:
        if cls not in found:
            raise WithholdingError(f"{label}: no class {cls} (GIVES lists {cls}.* there)")
    missing = sorted(top - found)
    if missing:
        raise WithholdingError(f"{label} has no {', '.join(missing)} (listed in GIVES): "
                               "renamed or removed? Update withholding.EXTRA_GIVES.")
    kept_names = {b for node in kept for b in _bound_names(node)} | top
    kept = [_filter_all(n, kept_names) if "__all__" in _bound_names(n) else n for n in kept]
    # The imports the kept code reads (or that bind a listed name), with only those names.
    reads = _global_reads("\n".join(ast.unparse(n) for n in kept), label)
    wanted = reads | top
    chosen = []
    for node in imports:
        aliases = [a for a in node.names if (a.asname or a.name).partition(".")[0] in wanted]
        if aliases:
            node.names = aliases
            chosen.append(node)
    future = [n for n in kept if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    rest = [n for n in kept if n not in future]
    doc = [rest.pop(0)] if rest and _is_docstring(rest[0]) else []
    body = doc + future + chosen + rest
    out = ast.unparse(ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))) + "\n"
    defined = {b for node in body for b in _bound_names(node)}
    unknown = sorted(_global_reads(out, label) - defined - set(dir(builtins))
                     - {"__name__", "__file__", "__doc__", "__spec__", "__path__",
                        "__package__", "__loader__", "__builtins__"})
    if unknown:
        raise WithholdingError(f"{label}: the kept code reads {', '.join(unknown)}, which no "
                               "notebook before this one gives: add it to GIVES, or keep the "
                               "code that reads it out")
    return out, [n for n in chosen if isinstance(n, ast.ImportFrom)]


def _global_reads(text: str, label: str) -> set[str]:
    """Every global name the code ``text`` reads, at any depth (symtable's view)."""
    reads: set[str] = set()

    def visit(table, top):
        for symbol in table.get_symbols():
            if not symbol.is_referenced():
                continue
            if top and not symbol.is_assigned() and not symbol.is_imported():
                reads.add(symbol.get_name())
            elif not top and (symbol.is_global() or (table.get_type() == "class"
                                                     and not symbol.is_assigned()
                                                     and not symbol.is_local())):
                reads.add(symbol.get_name())
        for child in table.get_children():
            visit(child, False)

    root = symtable.symtable(text, label, "exec")
    visit(root, True)
    # A module's own top-level names are read by code below too.
    for symbol in root.get_symbols():
        if symbol.is_referenced():
            reads.add(symbol.get_name())
    return reads


def _module_name_of(node: ast.ImportFrom, module: str) -> str | None:
    """The package module an import inside ``module`` reads ("" = the package), or None."""
    if node.level == 0:
        if node.module == PACKAGE:
            return ""
        if node.module and node.module.startswith(PACKAGE + "."):
            return node.module[len(PACKAGE) + 1:]
        return None
    base = [] if module == "" else module.split(".")[:-1]
    parts = base[:len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join(parts + ([node.module] if node.module else []))


def generate_sources(notebook: str) -> dict[str, str]:
    """module path inside the package ("engine.py", "widgets/__init__.py") -> text,
    for the sandbox of ``notebook``."""
    given = given_before(notebook)
    out: dict[str, str] = {}
    imports: dict[str, list[ast.ImportFrom]] = {}
    for module, names in given.items():
        text = _source_path(module).read_text(encoding="utf-8")
        source, imported = _generate(module, text, tuple(names))
        out["__init__.py" if module == "" else f"{module}.py"] = source
        imports[module] = imported
    if "" not in given:
        out["__init__.py"] = f'"""{PACKAGE}, as the sandbox of {notebook} holds it."""\n'
    for module in SUPPORT_MODULES:
        out[f"{module}.py"] = _source_path(module).read_text(encoding="utf-8")
    for package in STUB_PACKAGES:
        out[f"{package}/__init__.py"] = _SUPPORT_TEXT[package]
    widgets = _source_path("").parent / "widgets"
    for path in sorted(widgets.glob("*.py")):
        if path.stem != "__init__":
            out[f"widgets/{path.name}"] = _WIDGETS_SUBMODULE
    # An import of the package must find what it imports there.
    for module, nodes in imports.items():
        for node in nodes:
            target = _module_name_of(node, module)
            if target is None:
                continue
            if target in SUPPORT_MODULES or target in STUB_PACKAGES:
                continue
            names = set(given.get(target, ()))
            lacking = sorted(a.name for a in node.names if a.name not in names)
            if target not in given or lacking:
                raise WithholdingError(
                    f"{PACKAGE}.{module or '__init__'} imports "
                    f"{', '.join(lacking) or target} from {PACKAGE}.{target}, which the "
                    f"sandbox of {notebook} does not hold")
    return out


def build_package(notebook: str, target: Path) -> Path:
    """Write the ``microgradlab`` of ``notebook``'s sandbox to ``target`` (a folder named
    microgradlab), byte-compile it, and import it in a fresh interpreter. Returns target."""
    sources = generate_sources(notebook)
    if target.exists():
        shutil.rmtree(target)
    for relative, text in sources.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    # Byte-compiled once here: inside, the copy is read-only and every learner
    # would otherwise compile the whole package again.
    compileall.compile_dir(str(target), quiet=1)
    check_imports(notebook, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    for parent in target.parents:  # up to the run's work folder
        if parent.name.startswith("mglab-"):
            break
        parent.chmod(0o755)
    return target


def check_imports(notebook: str, target: Path) -> None:
    """Import every module of the generated package and each provided piece of the
    notebook's exercises, with ``target``'s parent first on sys.path."""
    modules = sorted(PACKAGE + ("." + str(p.relative_to(target).with_suffix("")).replace("/", ".")
                                if p.name != "__init__.py" else
                                ("." + str(p.parent.relative_to(target)).replace("/", ".")
                                 if p.parent != target else ""))
                     for p in target.rglob("*.py"))
    pieces = sorted({piece for e in exercises_of(notebook) for piece in e.provides.values()})
    script = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(target.parent)!r})\n"
        # As in the sandbox, where site-packages holds no editable-install finder.
        "sys.meta_path[:] = [f for f in sys.meta_path\n"
        "                    if not str(getattr(f, '__module__', '')).startswith('__editable__')]\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(target)!r}), module.__file__\n"
        f"for piece in {pieces!r}:\n"
        "    module, _, qualname = piece.partition(':')\n"
        "    obj = importlib.import_module(module)\n"
        "    for part in qualname.split('.'):\n"
        "        obj = getattr(obj, part)\n")
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg",
                                            "LANG": "C.UTF-8"})
    if done.returncode != 0:
        raise WithholdingError(f"the generated {PACKAGE} of {notebook} does not import: "
                               f"{done.stderr.strip()[-1500:]}")


# --------------------------------------------------------------- third-party packages
def distribution_closure(roots=ALLOWED_DISTRIBUTIONS) -> list[str]:
    """The canonical names of ``roots`` and every distribution they require (extras and
    markers that do not hold here left out), found installed."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(canonicalize_name(req.name))
    return sorted(seen)


@functools.cache
def allowed_site_entries(roots=ALLOWED_DISTRIBUTIONS) -> tuple[Path, ...]:
    """The top-level files and folders of site-packages the allowed distributions own
    (their packages, modules, ``.libs`` folders and ``.dist-info``)."""
    site = Path(sysconfig.get_paths()["purelib"])
    entries: set[Path] = set()
    for name in distribution_closure(roots):
        dist = importlib.metadata.distribution(name)
        for file in dist.files or ():
            parts = Path(file).parts
            if not parts or parts[0] in ("..", "__pycache__") or parts[0].startswith("/"):
                continue
            entry = site / parts[0]
            if entry.exists() and not parts[0].endswith(".pth"):
                entries.add(entry)
    return tuple(sorted(entries))


def blocked_stdlib_files() -> dict[Path, str]:
    """Standard-library module file -> the text that replaces it in the sandbox."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return {stdlib / f"{name}.py": BLOCKED_STDLIB_TEXT.format(name=name)
            for name in BLOCKED_STDLIB if (stdlib / f"{name}.py").is_file()}


__all__ = ["GIVES", "EXTRA_GIVES", "WithholdingError", "given_before", "graded_from",
           "generate_sources", "build_package", "check_imports", "distribution_closure",
           "allowed_site_entries", "blocked_stdlib_files", "ALLOWED_DISTRIBUTIONS",
           "BLOCKED_STDLIB"]

