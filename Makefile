# make demo: create .venv, install adgdm with its extras, run the breast-cancer demo (no download).
# make test: same environment, run the test suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ADGDM_DATA ?= ../shared/data

.PHONY: demo test install bench-tabular clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[all]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/adgdm demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The committed ADBench runs (see benchmarks/README.md); hours on 2 cores.
bench-tabular: $(STAMP)
	$(BIN)/adgdm bench tabular --data $(ADGDM_DATA)/adbench/Classical --seeds 5 --setting semi \
		--out benchmarks/results/adbench_semi.csv --anchors ../shared/anchors/dte_semi_auroc.csv --resume
	$(BIN)/adgdm bench tabular --data $(ADGDM_DATA)/adbench/Classical --seeds 1 --setting unsup \
		--out benchmarks/results/adbench_unsup.csv --anchors ../shared/anchors/dte_unsup_auroc.csv --resume

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
