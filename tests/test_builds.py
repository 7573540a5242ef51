"""A run's builds from the course are kept by what they are built from (builds.py)."""

from __future__ import annotations

import filecmp
import stat
import subprocess
import sys

from microgradlab_grader import builds, sandbox, withholding


def same_tree(left, right) -> bool:
    compared = filecmp.dircmp(left, right)
    if compared.left_only or compared.right_only or compared.diff_files or compared.funny_files:
        return False
    return all(same_tree(left / name, right / name) for name in compared.common_dirs)


def counting(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def wrapped(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, wrapped)
    return calls


def test_a_kept_package_is_the_package_a_fresh_build_writes(tmp_path, monkeypatch):
    root = tmp_path / "kept"
    built = counting(monkeypatch, withholding, "build_package")
    first = builds.package("03_operations", tmp_path / "mglab-a" / "p" / "microgradlab", root=root)
    second = builds.package("03_operations", tmp_path / "mglab-b" / "p" / "microgradlab", root=root)
    assert len(built) == 1          # the second run copied the kept build
    fresh = withholding.build_package("03_operations", tmp_path / "fresh" / "microgradlab")
    assert same_tree(first, fresh) and same_tree(second, fresh)
    # The copy keeps each source's modification time, so its .pyc files stay valid.
    compiled = sorted((second / "__pycache__").glob("*.pyc"))
    assert compiled
    for pyc in compiled:
        source = second / (pyc.name.split(".")[0] + ".py")
        header = pyc.read_bytes()[8:12]
        assert int.from_bytes(header, "little") == int(source.stat().st_mtime), pyc
    for path in [second, *second.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o755 if path.is_dir() else 0o644), path


def test_other_sources_are_another_key(monkeypatch):
    sources = withholding.generate_sources("04_backward")
    key = builds.package_key("04_backward", sources)
    assert builds.package_key("04_backward", dict(sources)) == key
    changed = dict(sources, **{"engine.py": sources["engine.py"] + "\n# one more line\n"})
    assert builds.package_key("04_backward", changed) != key
    assert builds.package_key("05_tanh_neuron", sources) != key
    builds._bound_versions.cache_clear()      # read once a process: read again here
    monkeypatch.setattr(builds.importlib.metadata, "version", lambda name: "0.0-other")
    try:
        assert builds.package_key("04_backward", sources) != key
    finally:
        builds._bound_versions.cache_clear()


def test_a_font_list_that_cannot_be_built_is_tried_once(tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(sandbox, "build_matplotlib_cache", lambda folder: built.append(folder))
    assert builds.matplotlib_fonts(tmp_path / "run", root=tmp_path / "kept") is None
    assert len(built) == 1 and not any((tmp_path / "kept").iterdir())


def test_the_font_list_is_kept_and_copied(tmp_path, monkeypatch):
    root = tmp_path / "kept"
    built = counting(monkeypatch, sandbox, "build_matplotlib_cache")
    first = builds.matplotlib_fonts(tmp_path / "one", root=root)
    second = builds.matplotlib_fonts(tmp_path / "two", root=root)
    assert len(built) == 1
    assert first is not None and list(first.glob("fontlist-*.json"))
    assert second == tmp_path / "two" / "matplotlib-cache" and same_tree(first, second)


def test_a_root_that_is_a_file_builds_in_the_run_instead(tmp_path):
    root = tmp_path / "a-file"
    root.write_text("not a folder")
    target = builds.package("02_value", tmp_path / "run" / "microgradlab", root=root)
    assert (target / "__init__.py").is_file()
    assert builds.matplotlib_fonts(tmp_path / "run", root=root) is not None


def test_two_runs_building_one_key_at_once_both_get_the_whole_build(tmp_path):
    """Three grading processes start at once with nothing kept yet."""
    root = tmp_path / "kept"
    script = ("import sys; from pathlib import Path; from microgradlab_grader import builds; "
              "builds.package('04_backward', Path(sys.argv[1]), root=Path(sys.argv[2]))")
    runs = {name: subprocess.Popen([sys.executable, "-c", script,
                                    str(tmp_path / f"mglab-{name}" / "p" / "microgradlab"),
                                    str(root)], stderr=subprocess.PIPE, text=True)
            for name in ("a", "b", "c")}
    for name, run in runs.items():
        assert run.wait(timeout=120) == 0, (name, run.stderr.read())
        run.stderr.close()
    kept = list(root.iterdir())
    assert len(kept) == 1 and not kept[0].name.startswith(".")   # no half build left behind
    results = [tmp_path / f"mglab-{name}" / "p" / "microgradlab" for name in runs]
    assert all(same_tree(results[0], other) for other in results[1:])


def test_opening_a_package_to_the_sandbox_touches_nothing_above_its_folder(tmp_path):
    above = tmp_path / "above"
    above.mkdir(mode=0o700)
    above.chmod(0o700)
    target = withholding.build_package("02_value", above / "holder" / "microgradlab")
    assert stat.S_IMODE(above.stat().st_mode) == 0o700
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o755
