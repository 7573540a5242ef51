"""The instructor-side grader: ``microgradlab grade`` (see docs/GRADING.md).

One concept per module, in the order a submission meets them:

* ``submissions`` -- find ``(student, notebook)`` pairs in a folder, a zip or nbgrader's layout
* ``source``      -- what the SOURCE notebook says is graded (grade ids, points, checksums)
* ``withholding`` -- what each notebook's sandbox holds: the generated package, the allowed packages
* ``sandbox``     -- the bubblewrap command and resource limits
* ``runner``      -- runs inside the sandbox: the learner's cells, then ``produce`` per case
* ``grading``     -- supervises one sandboxed run, compares in our own process, scores it
* ``batch``       -- draws the cases once, computes PyTorch's answers once, fans out
* ``cluster``     -- the same, one task per submission on a Dask distributed cluster
* ``certs``       -- the course CA and TLS certificates of a cluster (``cluster-certs``)
* ``fingerprints``-- sha256 of what a grade or an output depends on (course code, outputs)
* ``gradebook``   -- the database every grade is written to as it arrives (SQLAlchemy)
* ``classrun``    -- what a run grades (new or changed rows, a subset), outputs from the gradebook
* ``exports``     -- per-student totals, Canvas and Moodle CSVs, the late policy
* ``feedback``    -- one HTML page per learner and notebook, verdicts, no hidden tests
* ``report``      -- grades.csv, report.txt, report.png
* ``cli``         -- the command line
"""
