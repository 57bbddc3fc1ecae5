PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run sandbox screenshot test lint check clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/python -m bot run

sandbox: install
	$(BIN)/python -m bot sandbox

# Refresh the staff guide's picture of the sandbox (docs/images/sandbox.png) from the browser test.
screenshot: install
	UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest -q tests/test_sandbox_browser.py

test: install
	$(BIN)/python -m bot check responses.yaml
	$(BIN)/python -m bot eval tests/data/eval.tsv --summary --min-accuracy 0.92 --min-oos-recall 0.92
	$(BIN)/python -m bot eval tests/data/blind.tsv --summary --min-accuracy 0.88 --min-oos-recall 0.91
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

check: install
	$(BIN)/python -m bot check responses.yaml

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .cache
