"""The nbgrader course for microgradlab (nbgrader 0.9.6).

Run nbgrader from this folder (`cd autograder && nbgrader generate_assignment 04_backward`):
nbgrader reads `nbgrader_config.py` from the current directory only (it has no
`--config` option; run elsewhere it silently starts an empty course there). The
paths below are anchored to this file.

Layout nbgrader sees (its `directory_structure` is `{nbgrader_step}/{student_id}/{assignment_id}`):

    autograder/                   course root
      ../solutions/NN_name/       source step: the instructor notebooks, the ones in git
      release/NN_name/            student version (scripts/build_notebooks.py copies it to notebooks/)
      submitted/, autograded/, feedback/, gradebook.db, exchange/, grades.csv   (all gitignored)
"""
import os
from pathlib import Path

c = get_config()  # noqa: F821 - nbgrader injects get_config into config files

COURSE_ROOT = Path(__file__).resolve().parent

# One assignment per notebook; the assignment id is the notebook name, so a
# learner's `01_derivatives.ipynb` is graded as assignment `01_derivatives`.
ASSIGNMENTS = [
    "01_derivatives",
    "02_value",
    "03_operations",
    "04_backward",
    "05_tanh_neuron",
    "06_mlp",
]

# The course id names the course in the exchange and in the lab extension's lists.
c.CourseDirectory.course_id = "microgradlab"

# The hidden tests' verify(...) draws its random cases from this course's seeds when
# the kernel's environment names the course (kernels inherit nbgrader's environment),
# so nbgrader and `microgradlab grade` judge every learner on the same cases.
os.environ["MICROGRADLAB_COURSE_ID"] = c.CourseDirectory.course_id

# An absolute root, so the commands work from any folder (nbgrader's default root
# is the current directory, which silently creates a second, empty course).
c.CourseDirectory.root = str(COURSE_ROOT)

# The source step is a path *relative to the root*: nbgrader joins
# root/source_directory/./assignment_id. Pointing it at ../solutions makes the
# committed solutions the single source of truth: there is no second copy under
# autograder/source/ that could drift from what the tests execute.
c.CourseDirectory.source_directory = "../solutions"

# The instructor notebook folder also holds the hand-edited jupytext .py source.
# It is not part of the assignment, so it must not be released to learners
# (it contains the solutions in plain text).
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "*.py",
]

# The exchange is where `nbgrader release/collect` move files. The default
# (/usr/local/share/nbgrader/exchange) does not exist here, and a missing
# exchange makes the JupyterLab extension show errors, so keep it inside the
# course (gitignored) and create it on first use.
EXCHANGE = COURSE_ROOT / "exchange"
EXCHANGE.mkdir(exist_ok=True)
c.Exchange.root = str(EXCHANGE)

# Per-cell time limit during autograding. The slowest solution cell (training a
# small MLP in notebook 06) takes a few seconds; 60 s leaves room for a slow
# machine while still stopping an endless loop in a learner's code.
c.Execute.timeout = 60

# The gradebook. nbgrader 0.9 has no `db_assignments` setting: an assignment enters the gradebook when `generate_assignment`
# runs on it (GenerateAssignment.create_assignment, True by default) or with
# `nbgrader db assignment add NN_name`. scripts/build_notebooks.py runs
# generate_assignment against a throwaway gradebook so a build never writes here;
# the grader adds the assignments to this one.
c.CourseDirectory.db_url = f"sqlite:///{COURSE_ROOT / 'gradebook.db'}"
c.GenerateAssignment.create_assignment = True

# Feedback HTML shows hidden tests by default, which would hand learners the
# verify(...) calls and the cases they draw from. ClearHiddenTests removes the
# BEGIN/END HIDDEN TESTS block from each test cell before the HTML is written.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
