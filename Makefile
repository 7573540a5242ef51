# The two commands a new user needs:
#   make lab    set up (first run) and start JupyterLab on the course
#   make test   set up (first run) and run the whole test suite
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8888

.PHONY: setup lab test notebooks bench clean-venv

setup:
	@bash scripts/setup.sh

lab: setup
	@$(BIN)/python scripts/lab.py --port $(PORT)

test: setup
	@bash scripts/test.sh

notebooks: setup
	@$(BIN)/python scripts/build_notebooks.py

bench: setup
	@$(BIN)/python bench/bench_engine.py

clean-venv:
	rm -rf $(VENV)
