"""Reading a walked tree as a class: which learner handed in which notebook.

The layouts it knows: a folder per learner (the notebooks in it or one level down,
as nbgrader's ``submitted/<student>/<notebook>/``), nbgrader's ``submitted/`` itself
or a folder that only wraps the class, and an LMS download of flat files that name
the learner (Canvas, Moodle, ``ann_02_value.ipynb``). Every file that is no course
notebook is listed; every link is refused and said so; each learner gets one id
(:mod:`.ids`), and a timestamp.txt beside a notebook is read strictly
(:func:`..untrusted.read_submission_time`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..untrusted import read_submission_time
from .choice import Candidate, choose
from .ids import Learners, name_text
from .model import SYMLINK, UNREADABLE, Discovery, Submission
from .names import CANVAS, MOODLE, Match, NotebookNames
from .tree import CLUTTER, Node


@dataclass
class Learner:
    name: str                                   # as the input names them (storable text)
    ids: dict[str, str] = field(default_factory=dict)   # the LMS's own ids
    full_name: str | None = None
    linked: Node | None = None                  # the whole student folder is a link


class Finder:
    def __init__(self, notebooks: list[str], label: str):
        self.names = NotebookNames(notebooks)
        self.notebooks = list(notebooks)
        self.label = label
        self.learners = Learners()
        self.students: dict[str, Learner] = {}
        self.candidates: dict[tuple[str, str], list[Candidate]] = {}
        self.timestamps: dict[str, Node] = {}      # folder rel -> its timestamp.txt
        self.unrecognised: list[str] = []
        self.layout: list[str] = []     # what shape the input was
        self.notes: list[str] = []      # about one path each; sorted in the result
        self.clutter = 0
        self.has_folders = False

    # -- learners
    def student(self, name: str, lms: dict[str, str] | None = None,
                full_name: str | None = None) -> str | None:
        """The id of the learner ``name`` (None if the name is empty). An LMS's person id
        (not its per-submission id) is part of who they are: two Jane Smiths stay two."""
        if not name:
            return None
        lms = lms or {}
        person = [v for k, v in lms.items() if not k.endswith("_submission")]
        key = f"{name}_{person[0]}" if person else name
        sid = self.learners.id_for(key)
        known = self.students.get(sid)
        if known is None:
            self.students[sid] = Learner(name_text(name), dict(lms), full_name)
        else:
            known.ids.update(lms)
        return sid

    def add(self, student: str, node: Node, shown: str, match: Match, late=False) -> None:
        self.candidates.setdefault((student, match.notebook), []).append(
            Candidate(node, shown, match, late))

    def stray(self, node: Node, why: str | None = None) -> None:
        self.unrecognised.append(node.rel + ("/" if node.kind == "dir" else ""))
        if node.kind == "link":
            self.link_note(node, "and not a course notebook")
        elif why or node.kind == "broken":
            why = why or node.target
            self.notes.append(f"{node.rel}: {why}")

    def link_note(self, node: Node, what: str) -> None:
        self.notes.append(f"{node.rel} is a symbolic link (to {node.target!r}): not followed, "
                          f"{what}")

    # -- the layout
    def run(self, tree: Node) -> Discovery:
        root = self.unwrap(tree)
        self.has_folders = any(c.kind == "dir" and not CLUTTER.match(c.name)
                               for c in root.children.values())
        for child in root.children.values():
            if CLUTTER.match(child.name):
                self.clutter += 1
            elif child.kind == "dir":
                self.student_folder(child)
            elif child.kind == "link" and (child.to_folder or (
                    child.to_folder is None and "." not in child.name.lstrip("."))):
                student = self.student_of_folder(child)
                self.students[student].linked = child
                self.link_note(child, f"the student folder is refused; {student}'s rows "
                                      "are marked symlink")
            elif child.kind in ("file", "link", "broken"):
                self.flat_file(child)
            else:
                self.stray(child, "not a regular file or folder")
        return self.finish()

    def unwrap(self, node: Node) -> Node:
        """Step into nbgrader's ``submitted/`` and into folders that only wrap the class."""
        for _ in range(4):
            submitted = node.children.get("submitted")
            kids = [c for c in node.children.values() if not CLUTTER.match(c.name)]
            if submitted is not None and submitted.kind == "dir":
                self.layout.append(f"nbgrader's submitted/ layout ({submitted.rel}/)")
                for other in kids:
                    if other is not submitted:
                        self.stray(other)
                node = submitted
            elif len(kids) == 1 and kids[0].kind == "dir" and self.wraps_a_class(kids[0]):
                node = kids[0]
            else:
                return node
        return node

    def wraps_a_class(self, folder: Node) -> bool:
        """A lone folder at the top that holds the class (folders or LMS files), not a student."""
        kids = [c for c in folder.children.values() if not CLUTTER.match(c.name)]
        if any(self.names.match(c.name) or (c.kind == "dir" and c.name in self.notebooks)
               for c in kids):
            return False      # a student's own notebooks
        return any(c.kind == "dir" or CANVAS.match(c.name) or MOODLE.match(c.name)
                   or self.names.with_student(c.name) for c in kids)

    def student_of_folder(self, folder: Node) -> str:
        moodle = MOODLE.match(folder.name)
        if moodle and not moodle["rest"]:
            return self.student(moodle["name"], {"moodle_participant": moodle["pid"]},
                                moodle["name"])
        student = self.student(folder.name)
        if student != folder.name:
            self.notes.append(f"{folder.rel}/: student id {student!r} (the folder name is "
                              "not a plain id)")
        return student

    def student_folder(self, folder: Node) -> None:
        student = self.student_of_folder(folder)
        # The notebooks sit in the folder or one level down (nbgrader: <notebook>/).
        stack = [(folder, 0)]
        while stack:
            node, depth = stack.pop()
            for child in node.children.values():
                shown = child.rel[len(folder.rel) + 1:]
                if CLUTTER.match(child.name):
                    self.clutter += 1
                elif child.kind == "dir":
                    if depth < 2 and not child.truncated:
                        stack.append((child, depth + 1))
                    elif child.children or child.truncated:
                        self.stray(child, "folders this deep in a student folder are "
                                          "not searched")
                elif child.kind == "link":
                    match = self.names.match(child.name) or \
                        self.names.match(child.name + ".ipynb")
                    if match:
                        self.add(student, child, shown, match)
                    else:
                        self.stray(child)
                elif child.kind == "file" and child.name == "timestamp.txt":
                    self.timestamps[node.rel] = child
                elif child.kind in ("file", "broken") and (match := self.match_in_folder(child)):
                    self.add(student, child, shown, match)
                else:
                    self.stray(child)

    def match_in_folder(self, node: Node) -> Match | None:
        """A notebook's file in a student's folder, possibly named ``ann_02_value.ipynb``."""
        named = self.names.with_student(node.name)
        if named:    # never exact: in a folder, the file should be named as the course names it
            return self.names.match(node.name) or Match(named[1].notebook, False, named[1].copy)
        return self.names.match(node.name)

    def flat_file(self, node: Node) -> None:
        """A file at the top: an LMS download names the student in the file name."""
        canvas, moodle = CANVAS.match(node.name), MOODLE.match(node.name)
        if canvas:
            student = self.student(canvas["name"], {"canvas_user": canvas["uid"],
                                                    "canvas_submission": canvas["sid"]})
            rest, late = canvas["rest"], bool(canvas["late"])
        elif moodle and moodle["rest"]:
            student = self.student(moodle["name"], {"moodle_participant": moodle["pid"]},
                                   moodle["name"])
            rest, late = moodle["rest"], False
        elif (named := self.names.with_student(node.name)) and named[0]:
            self.add(self.student(named[0]), node, node.name, named[1])
            return
        elif match := self.names.match(node.name):
            # One student's notebooks given directly: the folder (or zip) names them.
            student = None if self.has_folders else self.student(self.label)
            if student is None:
                self.stray(node, "a notebook outside any student folder, with no student "
                                 "name in it")
                return
            self.add(student, node, node.name, match)
            return
        else:
            self.stray(node, "a zip inside the submissions is not unpacked"
                       if node.name.lower().endswith(".zip") else None)
            return
        match = self.names.match(rest)
        if match is None or student is None:
            self.stray(node, f"{rest!r} is not a course notebook")
            return
        self.add(student, node, node.name, match, late)

    # -- one row per (student, notebook)
    def finish(self) -> Discovery:
        rows = []
        for student in sorted(self.students):
            info = self.students[student]
            for notebook in self.notebooks:
                rows.append(self.row(student, info, notebook))
        notes = self.layout + sorted(self.notes)
        nobody = [n for n in self.notebooks
                  if rows and all(r.path is None for r in rows if r.notebook == n)]
        if nobody:
            notes.append(f"nobody handed in {', '.join(nobody)}")
        if self.clutter:
            notes.append(f"ignored {self.clutter} system files and folders "
                         "(names starting with '.', __MACOSX, Thumbs.db)")
        return Discovery(rows, sorted(self.unrecognised), notes)

    def row(self, student: str, info: Learner, notebook: str) -> Submission:
        base = dict(student_ids=dict(info.ids), full_name=info.full_name, name=info.name)
        if info.linked is not None:
            return Submission(student, notebook, None, SYMLINK,
                              f"the student folder {info.linked.rel} is a symbolic link (to "
                              f"{info.linked.target!r}); it was not followed and nothing in it "
                              "was read", source=info.linked.rel, **base)
        found = self.candidates.get((student, notebook), [])
        if not found:
            return Submission(student, notebook, None, **base)
        choice = choose(found, notebook)
        chosen, warnings = choice.chosen, choice.warnings
        if choice.is_link:
            self.link_note(chosen.node, f"{student}'s {notebook} row is marked symlink")
            return Submission(student, notebook, None, SYMLINK,
                              f"{chosen.shown} is a symbolic link (to {chosen.node.target!r}); "
                              "it was not followed and nothing was read from it",
                              tuple(warnings), source=chosen.node.rel, **base)
        if chosen.node.kind == "broken":
            return Submission(student, notebook, None, UNREADABLE,
                              f"{chosen.shown} {chosen.node.target}", tuple(warnings),
                              source=chosen.node.rel, **base)
        timestamp = self.timestamp(chosen.node, warnings)
        return Submission(student, notebook, chosen.node.path, warnings=tuple(warnings),
                          timestamp=timestamp, late=chosen.late, source=chosen.node.rel, **base)

    def timestamp(self, node: Node, warnings: list[str]) -> str | None:
        """The canonical time in the timestamp.txt beside ``node``, UNKNOWN_TIME when that
        file cannot be read as one (said in ``warnings``), None when there is none."""
        folder = node.rel.rpartition("/")[0]
        stamp = self.timestamps.get(folder)
        if stamp is None or stamp.path is None:
            return None
        moment, why = read_submission_time(stamp.path)
        if why:
            warnings.append(f"{stamp.rel}: {why}")
        return moment
