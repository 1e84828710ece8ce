# phasetrace developer entry points. `make demo` and `make test` are the whole set-up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out/demo

.PHONY: demo test lint install clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the project's metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# The main job on the bundled (simulated) heating series: phases, wt %, onsets, reports and figures.
demo: install
	$(BIN)/phasetrace series sample_data --out $(OUT) --jobs 2
	@echo "demo report: $(OUT)/report_*.md, summary $(OUT)/summary.json, onset figure $(OUT)/onsets.png"

lint: install
	$(BIN)/ruff check src tests benchmarks sample_data

test: lint
	$(BIN)/python -m pytest -q

# Speed and accuracy benchmark (about 10 minutes; not part of `make test`): writes benchmarks/results.md.
bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .hypothesis
