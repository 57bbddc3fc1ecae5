PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# pip-compile with PyPI's hashes, whatever this machine's pip config adds (mirrors, find-links, constraints):
# the platform installs from PyPI. PIP_INDEX_URL, when set, still applies.
COMPILE := PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile \
	--quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: install run sandbox screenshot test gate-content gate-code lint check clean lock

# Let Python keep the bytecode it compiles (a machine may set PYTHONDONTWRITEBYTECODE): the tests start
# many processes, and each would otherwise compile bot/, intents/ and every library module it imports.
unexport PYTHONDONTWRITEBYTECODE

# A fresh .venv holding exactly requirements-dev.txt (hash-checked), then this project, editable and
# without dependencies; rebuilt whenever a lock changes, so nothing removed from a lock lingers.
$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	@# setuptools warns about every editable install (a UserWarning, several lines): not ours to act on.
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet --disable-pip-version-check --no-deps \
		--no-build-isolation -e .
	touch $@

install: $(BIN)/.installed

# Both locks from pyproject.toml: the runtime first, then runtime + dev constrained by it, so the two
# agree on every runtime version. Keeps the pins a range still allows; to move some or all of them:
#   make lock LOCK_ARGS="--upgrade-package aiohttp"     make lock LOCK_ARGS=--upgrade
lock: install
	$(COMPILE) --output-file requirements.txt pyproject.toml
	$(COMPILE) --extra dev --constraint requirements.txt --output-file requirements-dev.txt pyproject.toml

run: install
	$(BIN)/python -m bot run

sandbox: install
	$(BIN)/python -m bot sandbox

# Refresh the staff guide's picture of the sandbox (docs/images/sandbox.png) from the browser test.
screenshot: install
	UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest -q tests/test_sandbox_browser.py

# The gates before the tests: the content, matching on the blind sets, lint and types. The first two and
# the last two run side by side (one core each), each one's output kept together; then the tests, on both.
test: install
	$(MAKE) --no-print-directory -j2 -Otarget gate-content gate-code
	$(BIN)/python -m pytest -n 2 --dist worksteal --durations=15

gate-content: install
	$(BIN)/python -m bot check responses.yaml
	@# Blind sets only: training/*.tsv is what the model learns from, so it measures nothing.
	$(BIN)/python -m bot eval tests/data/blind.tsv --summary --min-accuracy 0.93 --min-oos-recall 0.96
	$(BIN)/python -m bot eval tests/data/holdout.tsv --summary --min-accuracy 0.93 --min-oos-recall 0.98
	$(BIN)/python -m bot eval tests/data/blind2.tsv --summary --min-accuracy 0.90 --min-oos-recall 0.97
	$(BIN)/python -m bot eval tests/data/blind3.tsv --summary --min-accuracy 0.93 --min-oos-recall 0.98
	$(BIN)/python -m bot eval tests/data/blind4.tsv --summary --min-accuracy 0.96 --min-oos-recall 0.92
	$(BIN)/python -m bot eval tests/data/blind5.tsv --summary --min-accuracy 0.96 --min-oos-recall 0.95
	$(BIN)/python -m bot eval tests/data/blind6.tsv --summary --min-accuracy 0.95 --min-oos-recall 0.93
	$(BIN)/python -m bot eval tests/data/blind7.tsv --summary --min-accuracy 0.92 --min-oos-recall 0.95

gate-code: install
	$(BIN)/ruff check .
	$(BIN)/mypy

check: install
	$(BIN)/python -m bot check responses.yaml

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis .cache
