"""The runner that executes ONE learner notebook inside the sandbox.

This file is started by the grader as ``python runner.py JOB.json`` inside
bubblewrap, with the file descriptor named in the job (``result_fd``) the write end of a pipe to the grader.
It imports only the standard library, IPython and ``microgradlab.exercises``
(the sandbox has no torch and no reference solution).

What it does, in order:

1. keep private references to everything it needs later (``os.write``,
   ``json.dumps``, each exercise's ``produce``), *before* any learner code runs,
   so a learner who patches ``json`` or ``os`` afterwards changes nothing here;
2. run the notebook's code cells in order with IPython's ``InteractiveShell``
   (so ``%magics`` work), but never the text of a graded test cell;
3. at the position of each graded test cell, call
   ``exercise.produce(case, names)`` for every case the grader drew and write
   each result to the grader at once. A result, once written, is the grader's:
   nothing the learner runs later can take it back.

Messages are JSON lines: ``{"event": "cell", "index": i}`` before each cell
(the grader's per-cell clock), ``{"event": "result", ...}`` per case and
``{"event": "done"}`` at the end.
"""

import builtins
import json
import os
import sys

RESULT_FD = 3  # replaced by the job's result_fd before any learner code runs

# Private copies, taken before learner code exists.
_write = os.write
_dumps = json.dumps
_settrace = sys.settrace
_setprofile = sys.setprofile
_BUILTINS = dict(vars(builtins))
_builtins_dict = vars(builtins)


def restore_builtins():
    """Put back any builtin the learner replaced (``isinstance``, ``float``...): the
    harness needs them, and no learner code legitimately rebinds them."""
    for name, value in _BUILTINS.items():
        if _builtins_dict.get(name) is not value:
            _builtins_dict[name] = value
_MAX_LINE = 256_000  # one result line; the grader ignores anything longer


def send(message):
    """One JSON line to the grader. A learner who closed fd 3 only loses their own results."""
    restore_builtins()
    try:
        line = _dumps(message, allow_nan=False, default=repr)
    except (TypeError, ValueError):
        line = _dumps({"event": message.get("event"), "bad": True})
    data = (line[:_MAX_LINE] + "\n").encode("utf-8", "replace")
    view = memoryview(data)
    while view:
        written = _write(RESULT_FD, view)
        view = view[written:]


def grade_id_of(cell):
    """The cell's nbgrader grade_id, or None (metadata may be mangled in any way)."""
    metadata = cell.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def main(job_path):
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    global RESULT_FD
    RESULT_FD = int(job["result_fd"])
    with open(job["notebook"], encoding="utf-8") as handle:
        notebook = json.load(handle)

    from microgradlab import exercises
    graded = {}  # grade_id -> (produce, uses, cases)
    for item in job["graded"]:
        exercise = exercises.get(item["exercise"])
        graded[item["grade_id"]] = (exercise.produce, tuple(exercise.uses), item["cases"],
                                    item["exercise"])

    test_texts = {text.strip(): grade_id for grade_id, text in job["test_texts"].items()
                  if text.strip()}

    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    # Nothing a graded notebook displays is shown to anyone: keep plain text
    # only, so rich reprs (a graphviz drawing runs `dot`) cost nothing.
    shell.display_formatter.active_types = ["text/plain"]
    shell.display_formatter.mimebundle_formatter.enabled = False
    shell.display_formatter.ipython_display_formatter.enabled = False
    namespace = shell.user_ns  # the learner may rebind shell attributes; keep the dict

    def grade_here(grade_id):
        produce, uses, cases, exercise_id = graded.pop(grade_id)
        names = {n: namespace[n] for n in uses if n in namespace}
        # A learner's trace function could rewrite our local variables; drop it.
        _settrace(None)
        _setprofile(None)
        restore_builtins()
        for number, case in enumerate(cases):
            send({"event": "case", "exercise": exercise_id, "case": number})
            try:
                produced = produce(case, names)
            except BaseException as exc:  # noqa: BLE001 - produce is meant never to raise
                produced = {"error": f"{type(exc).__name__} while running the case",
                            "not_attempted": False}
            send({"event": "result", "exercise": exercise_id, "case": number,
                  "produced": produced})

    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        send({"event": "cell", "index": index})
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(line) for line in source)
        if not isinstance(source, str):
            source = ""
        grade_id = grade_id_of(cell)
        if grade_id not in job["skip"]:
            # A test cell retyped without its metadata is still a test cell.
            grade_id = test_texts.get(source.strip(), grade_id)
        if grade_id in job["skip"]:
            # A graded test cell: its text never runs (the grader owns the test).
            if grade_id in graded:
                grade_here(grade_id)
            continue
        try:
            shell.run_cell(source, store_history=True)
        except BaseException:  # noqa: BLE001 - keep going like a kernel would
            pass

    # Test cells the learner deleted (or whose metadata they removed): graded on
    # the final state of the notebook, in source order. The grader flags them.
    for grade_id in [g for g in job["order"] if g in graded]:
        send({"event": "cell", "index": -1})
        grade_here(grade_id)
    send({"event": "done"})


if __name__ == "__main__":
    main(sys.argv[1])
    # Skip interpreter shutdown: learner atexit hooks and __del__ methods must not run after "done".
    os._exit(0)
