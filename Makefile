# Two commands on a fresh machine: `make run` and `make test`.
# Everything lives in .venv/ inside the checkout; it is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-display lint typecheck unit benchmarks bench-engine bench-peers screenshot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/marginlab

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check core gui tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -p no:cacheprovider

# The few tests the offscreen platform cannot run (shortcuts, window sizes, real paints), on a
# virtual X server. Needs xvfb-run and Qt's xcb libraries: .ci/run installs them when missing.
test-display: $(STAMP)
	MARGINLAB_DISPLAY_TESTS=1 QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1920x1080x24" \
		$(BIN)/python -m pytest -q -p no:cacheprovider -m display tests/gui

benchmarks: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/engine.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/simulate.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/gui.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/theatre.py

# The liquidation solver alone: 10k to 10M positions against bare numpy, and the scalar path.
bench-engine: $(STAMP)
	$(BIN)/python benchmarks/engine.py

# Against a peer, freqtrade 2024.10, on the same positions. Not part of `make test` or
# `make benchmarks`: the first run installs freqtrade in its own environment under the user cache
# folder (needs PyPI once).
bench-peers: $(STAMP)
	$(BIN)/python benchmarks/peers.py

screenshot: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/marginlab --screenshot docs/screenshot.png

clean:
	rm -rf $(VENV) build *.egg-info
