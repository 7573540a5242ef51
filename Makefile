# The two commands a new user needs:
#   make lab    set up (first run) and start JupyterLab on the course
#   make test   set up (first run) and run the whole test suite
#   make test-fast   the suite without the `slow` tests (no nbgrader, browser, Dask,
#                    PostgreSQL or sandboxed class runs): the inner loop
# For instructors:
#   make instructor   JupyterLab with every nbgrader tool (formgrader, create assignment)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8888

.PHONY: setup lab instructor test test-fast notebooks bench clean-venv

setup:
	@bash scripts/setup.sh

lab: setup
	@$(BIN)/python scripts/lab.py --port $(PORT)

instructor: setup
	@$(BIN)/python scripts/lab.py --instructor --port $(PORT)

test: setup
	@bash scripts/test.sh

test-fast: setup
	@bash scripts/test.sh -m "not slow"

notebooks: setup
	@$(BIN)/python scripts/build_notebooks.py

bench: setup
	@$(BIN)/python bench/bench_engine.py

clean-venv:
	rm -rf $(VENV)
