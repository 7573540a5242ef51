"""Withholding by construction: the ``microgradlab`` a graded notebook's sandbox holds.

The sandbox of notebook k holds what the notebooks before k taught (the learner
wrote it there, so using it is fair) and the course's support, and nothing
else: every other definition of the package is absent, not stubbed.

The table, ``GIVES[notebook]`` (``module -> qualified names`` that notebook hands on,
mostly derived from the op table and the exercises' ``uses``), lives with the course in
:mod:`microgradlab.exercises.gives`; this module builds sandboxes from it. Pieces no
notebook teaches (``Value.sum``, ``linear``, ``log``, ``sigmoid``, ``softplus``, pickling
and deepcopy support, ``nn``) are in no sandbox.

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

from microgradlab.exercises import exercises_of
from microgradlab.exercises.gives import PACKAGE, _source_path, given_before

SUPPORT_MODULES = ("errors", "data")          # copied whole into every sandbox
STUB_PACKAGES = ("checking", "widgets", "exercises")  # do-nothing in every sandbox
# Third-party distributions a graded notebook may import; their requirements come too.
ALLOWED_DISTRIBUTIONS = ("numpy", "matplotlib", "ipython", "ipywidgets")
BLOCKED_STDLIB = ("graphlib",)
BLOCKED_STDLIB_TEXT = ('raise ModuleNotFoundError("No module named {name!r} while your notebook '
                       'is graded: the grade is for your own code", name={name!r})\n')


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
                               "renamed or removed? Update microgradlab.exercises.gives.EXTRA_GIVES.")
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


def build_package(notebook: str, target: Path, sources: dict[str, str] | None = None) -> Path:
    """Write the ``microgradlab`` of ``notebook``'s sandbox to ``target`` (a folder named
    microgradlab), byte-compile it, and import it in a fresh interpreter. Returns target.
    ``sources``: :func:`generate_sources`'s result, when the caller already has it."""
    sources = generate_sources(notebook) if sources is None else sources
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
    open_to_sandbox(target)
    return target


def open_to_sandbox(target: Path) -> None:
    """Make the package at ``target`` readable by the sandbox's uids: its files 0644,
    its folders and the one holding it 0755. (The run's work folder above that is
    the caller's, which opens it: nothing further up is touched.)"""
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    target.parent.chmod(0o755)


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


__all__ = ["WithholdingError", "generate_sources", "build_package", "open_to_sandbox",
           "check_imports", "distribution_closure", "allowed_site_entries",
           "blocked_stdlib_files", "ALLOWED_DISTRIBUTIONS", "BLOCKED_STDLIB"]

