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

# The committed ADBench runs (benchmarks/results/); hours on 2 cores, resumable (--resume).
ADB := $(BIN)/adgdm bench tabular --data $(ADGDM_DATA)/adbench/Classical --threads 1 --resume
SMALL := 42_WBC,15_Hepatitis,21_Lymphography,45_wine,39_vertebral,14_glass,29_Pima,20_letter,7_Cardiotocography,38_thyroid,18_Ionosphere,46_WPBC,43_WDBC,2_annthyroid,17_InternetAds,27_PageBlocks,30_satellite,41_Waveform,35_SpamBase,31_satimage-2,26_optdigits,24_mnist,25_musk
bench-tabular: $(STAMP)
	$(ADB) --setting semi --seeds 5 --detectors 'diffusion;pyod-knn;dte-np;ddpm;pyod-iforest;pyod-ecod' \
		--out benchmarks/results/adbench_semi_a.csv
	$(ADB) --setting semi --seeds 5 --detectors 'dte-c;dte-ig;pyod-lof;pyod-ocsvm' --out benchmarks/results/adbench_semi_b.csv
	$(ADB) --setting semi --seeds 5 --detectors 'ddpm;ddpm:steps=100' --datasets $(SMALL) \
		--out benchmarks/results/adbench_semi_fewstep.csv
	$(ADB) --setting unsup --seeds 1 --out benchmarks/results/adbench_unsup.csv
	$(BIN)/adgdm bench summarize benchmarks/results/adbench_semi_a.csv benchmarks/results/adbench_semi_b.csv \
		--md benchmarks/results/adbench_semi.md --anchors ../shared/anchors/dte_semi_auroc.csv

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
