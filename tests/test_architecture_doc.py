"""docs/ARCHITECTURE.md names only what exists, and docs/THREAT_MODEL.md only tests that exist.

Every backticked name in ARCHITECTURE.md (outside fenced code blocks) is resolved:

* a path (it has a ``/`` or a file suffix) must be a file or folder of the repository, found
  from the root, from ``src/microgradlab/`` or from ``autograder/microgradlab_grader/``;
* a dotted name (``microgradlab.checking.verdict``, ``sandbox.Confinement``,
  ``exercises._base.kind``) must import: as written, or under ``microgradlab``,
  ``microgradlab_grader``, ``microgradlab.checking`` or ``microgradlab.exercises``;
* a call (``walk(root, stop=(), ...)``) or a capitalised name (``Value``, ``Exercise``) must
  be defined in some module of the two packages, or (a method, an attribute, a message of
  the channel, a name the learner writes) occur as a name in their source, or be a builtin;
  in ``node._backward()`` and ``a.grad``, whose head is a variable, the last part counts.

Placeholders (``NN_name``, ``nb01.py ... nb06.py``, ``<pid>``) and JSON or code fragments are
not names and are skipped. Each test fails naming every name it could not resolve.
"""
from __future__ import annotations

import builtins
import importlib
import pkgutil
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
THREAT_MODEL = ROOT / "docs" / "THREAT_MODEL.md"
PATH_ROOTS = (ROOT, ROOT / "src" / "microgradlab", ROOT / "autograder" / "microgradlab_grader",
              ROOT / "src", ROOT / "autograder")
PREFIXES = ("", "microgradlab.", "microgradlab_grader.", "microgradlab.checking.",
            "microgradlab.exercises.")
SUFFIXES = (".py", ".md", ".toml", ".ipynb", ".json", ".sh", ".txt", ".csv", ".db", ".yml")
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
DOTTED = re.compile(rf"^{IDENTIFIER}(\.{IDENTIFIER})+$")
CALL = re.compile(rf"^({IDENTIFIER}(?:\.{IDENTIFIER})*)\(")
CAPITALISED = re.compile(r"^[A-Z][a-z]+[A-Za-z0-9]*$")
PLACEHOLDER = re.compile(r"NN|\.\.\.|<|\{|\*|%|\s")


def backticked(text: str) -> list[str]:
    """Every `...` span outside fenced code blocks, in order."""
    outside = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.findall(r"`([^`\n]+)`", outside)


def is_path(token: str) -> bool:
    return "/" in token or token.endswith(SUFFIXES)


def path_exists(token: str) -> bool:
    relative = token.strip().rstrip("/")
    return any((base / relative).exists() for base in PATH_ROOTS)


def resolve_dotted(name: str) -> bool:
    """True when ``name`` (module path, then attributes) resolves under one of PREFIXES."""
    for prefix in PREFIXES:
        parts = (prefix + name).split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                break
            return True
    return False


@lru_cache(maxsize=1)
def all_modules() -> tuple:
    modules = []
    for package_name in ("microgradlab", "microgradlab_grader"):
        package = importlib.import_module(package_name)
        modules.append(package)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            modules.append(importlib.import_module(info.name))
    return tuple(modules)


@lru_cache(maxsize=1)
def source_names() -> frozenset:
    """Every identifier in the source of the two packages (defs, attributes, strings)."""
    names = set()
    for base in PATH_ROOTS[1:3]:
        for path in base.rglob("*.py"):
            names.update(re.findall(IDENTIFIER, path.read_text(encoding="utf-8")))
    return frozenset(names)


def defined_somewhere(name: str) -> bool:
    return any(name in vars(module) for module in all_modules())


def named_somewhere(name: str) -> bool:
    """``name`` (dotted or not) is defined, or is a builtin, or its last part occurs in the source."""
    if "." in name:
        head = name.split(".")[0]
        if any(_importable(prefix + head) for prefix in PREFIXES):
            return resolve_dotted(name)
        name = name.rsplit(".", 1)[1]
    return (name in vars(builtins) or defined_somewhere(name) or name in source_names())


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def unresolved(token: str) -> str | None:
    """Why ``token`` names nothing that exists, or None when it does (or is no name)."""
    token = token.strip()
    if is_path(token):
        if PLACEHOLDER.search(token) or token.startswith(("/", "http", "$", ".venv")):
            return None
        if token.endswith("/") and "." in token.rstrip("/").rsplit("/", 1)[-1]:
            return None
        return None if path_exists(token) else f"no file or folder {token}"
    call = CALL.match(token)
    if call:
        name = call.group(1)
        return None if named_somewhere(name) else f"no function or class {name}"
    if DOTTED.match(token):
        return None if named_somewhere(token) else f"no module or attribute {token}"
    if CAPITALISED.match(token):
        return None if named_somewhere(token) else f"no class or function {token}"
    return None


def test_every_name_in_the_architecture_doc_exists():
    missing = sorted({why for token in backticked(ARCHITECTURE.read_text(encoding="utf-8"))
                      if (why := unresolved(token))})
    assert not missing, "docs/ARCHITECTURE.md names what does not exist:\n  " + "\n  ".join(missing)


def test_the_checker_finds_a_name_that_is_gone():
    """The control: names that do not exist are reported, real ones are not."""
    assert unresolved("microgradlab.graph.walk") is None
    assert unresolved("sandbox.Confinement") is None
    assert unresolved("src/microgradlab/ops.py") is None
    assert unresolved("inputs_of(node) -> tuple") is None
    assert unresolved("microgradlab.graph.walk_backwards") == "no module or attribute microgradlab.graph.walk_backwards"
    assert unresolved("autograder/microgradlab_grader/allowlist.py") is not None
    assert unresolved("gather_inputs(node)") == "no function or class gather_inputs"
    assert unresolved("Valeu") == "no class or function Valeu"


TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def test_every_test_the_threat_model_cites_exists():
    text = THREAT_MODEL.read_text(encoding="utf-8")
    cited = TEST_REFERENCE.findall(text)
    assert len(cited) >= 20, "the threat model cites its tests as `tests/file.py::test_name`"
    missing = []
    for path, name in cited:
        source = ROOT / path
        if not source.exists() or not re.search(rf"^def {name}\(", source.read_text(encoding="utf-8"), re.M):
            missing.append(f"{path}::{name}")
    assert not missing, "docs/THREAT_MODEL.md cites tests that do not exist:\n  " + "\n  ".join(missing)


@pytest.mark.parametrize("doc", ["README.md", "docs/GRADING.md", "docs/ARCHITECTURE.md",
                                 "docs/THREAT_MODEL.md"])
def test_relative_links_in_the_docs_lead_somewhere(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    broken = [target for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
              if not target.startswith(("http://", "https://", "mailto:"))
              and not ((ROOT / doc).parent / target).exists()]
    assert not broken, f"{doc} links to files that do not exist: {broken}"
