"""environment.yml (conda) must describe the same environment as requirements.lock (pip)."""
from __future__ import annotations

import re
import tomllib

import pytest
import yaml

# conda-forge names that differ from the pip names of the same package.
CONDA_TO_PIP = {"pytorch": "torch", "python-graphviz": "graphviz"}
# conda packages that are not Python packages and so have no line in the lock.
CONDA_ONLY = {"python", "pip", "graphviz"}


def _normalise(name: str) -> str:
    """PEP 503 name normalisation: case and -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(spec: str) -> str:
    return _normalise(re.split(r"[<>=!~;\[ ]", spec.strip(), maxsplit=1)[0])


@pytest.fixture(scope="module")
def environment(repo_root):
    with open(repo_root / "environment.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def lock(repo_root):
    """{normalised name: pinned line} from requirements.lock."""
    pins = {}
    for line in (repo_root / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pins[_requirement_name(line)] = line
    return pins


@pytest.fixture(scope="module")
def top_level(repo_root):
    """The packages the project asks for by name: its dependencies and test extras."""
    project = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return {_requirement_name(s) for s in specs}


def _conda_specs(environment):
    return [d for d in environment["dependencies"] if isinstance(d, str)]


def _conda_name(spec: str) -> str:
    return re.split(r"[=<>!~ ]", spec.strip(), maxsplit=1)[0]


def test_uses_conda_forge(environment):
    assert "conda-forge" in environment["channels"], "environment.yml must use conda-forge"


def test_python_is_3_11(environment):
    pythons = [s for s in _conda_specs(environment) if _conda_name(s) == "python"]
    assert len(pythons) == 1, f"expected one python spec, found {pythons}"
    assert re.fullmatch(r"python\s*=\s*3\.11(\.\*)?", pythons[0]), pythons[0]


def test_every_top_level_package_is_pinned_in_the_lock(top_level, lock):
    missing = sorted(top_level - lock.keys())
    assert not missing, f"requirements.lock has no pin for {missing}"


def test_environment_names_the_same_packages_as_the_lock(environment, top_level):
    conda_names = {_conda_name(s) for s in _conda_specs(environment)}
    as_pip = {_normalise(CONDA_TO_PIP.get(n, n)) for n in conda_names - CONDA_ONLY}
    assert as_pip == top_level, (
        f"only in environment.yml: {sorted(as_pip - top_level)}; "
        f"only in requirements.lock/pyproject: {sorted(top_level - as_pip)}"
    )
    # the `dot` program is what makes graph drawings render; conda has it, pip does not
    assert "graphviz" in conda_names and "python-graphviz" in conda_names


def test_specs_are_valid_conda_match_specs(environment):
    # name, then optionally =version and =build; version/build use [A-Za-z0-9.*_+]
    pattern = re.compile(r"[a-z0-9][a-z0-9_.-]*(=[0-9A-Za-z.*_+]+(=[0-9A-Za-z.*_+]+)?)?")
    for spec in _conda_specs(environment):
        assert pattern.fullmatch(spec), f"not a valid conda spec: {spec!r}"


def test_pytorch_is_the_cpu_build(environment):
    torch_specs = [s for s in _conda_specs(environment) if _conda_name(s) == "pytorch"]
    assert torch_specs and torch_specs[0].endswith("=cpu*"), torch_specs


def test_the_package_itself_is_installed_editable_by_pip(environment):
    pip_sections = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert pip_sections and "-e ." in pip_sections[0]


def test_lock_pins_torch_exactly(lock):
    assert lock["torch"] == "torch==2.13.0", (
        f"requirements.lock must pin torch==2.13.0 (the CPU build), found {lock['torch']!r}"
    )


def test_reading_notebooks_and_computing_expected_values_loads_no_slow_extras():
    """Every grader, kernel and test process reads notebooks and asks PyTorch for the
    expected values: neither may pull in rfc3987_syntax (jsonschema builds its grammar
    on import, 1.2 s) or sympy (torch loads it when backward is handed a gradient
    tensor, 0.3 s)."""
    import subprocess
    import sys

    probe = (
        "import sys, nbformat, jsonschema\n"
        "from microgradlab import checking\n"
        "from microgradlab.exercises import get\n"
        "exercise = get('ex04_backward')\n"
        "for case in exercise.cases(1)[:3]:\n"
        "    checking.expected(exercise, case)\n"
        "print(sorted(m for m in ('rfc3987_syntax', 'sympy') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]", out
