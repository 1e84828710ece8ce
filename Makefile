# phasetrace developer entry points. `make demo` and `make test` are the whole set-up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out/demo

.PHONY: demo test lint install clean bench browser

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
	@echo "demo report: $(OUT)/report.html (interactive), $(OUT)/report_*.md, summary $(OUT)/summary.json, onset figure $(OUT)/onsets.png"

lint: install
	$(BIN)/ruff check src tests benchmarks sample_data examples

test: lint browser
	$(BIN)/python -m pytest -q

# The HTML report is tested in headless Chromium (Debian packages chromium, chromium-driver). Installed here
# when missing and we are root; otherwise those tests skip and say why. Nothing is downloaded at run time.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver for the HTML report tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } || \
	    echo "could not install chromium: the browser tests will be skipped"; \
	  else \
	    echo "chromium not installed and not root: the browser tests will be skipped"; \
	  fi; \
	fi

# Speed and accuracy benchmark (about 10 minutes; not part of `make test`): writes benchmarks/results.md.
bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .hypothesis
