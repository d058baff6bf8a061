#!/usr/bin/env bash
# The reproduction grid of refactor_repro.md, run on one checkout: bash benchmarks/refactor_repro.sh CHECKOUT OUT
# (CHECKOUT's src/ goes first on PYTHONPATH, the .venv of this checkout runs it). One seed, --threads 1.
set -euo pipefail
SRC="$(cd "$1" && pwd)/src"; OUT="$2"; mkdir -p "$OUT"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
D="${ADGDM_DATA:-$HERE/../shared/data}"
A=(env PYTHONPATH="$SRC" "$HERE/.venv/bin/adgdm")
"${A[@]}" bench tabular --data "$D/adbench/Classical" --datasets 42_WBC,15_Hepatitis,21_Lymphography,45_wine,39_vertebral,14_glass,29_Pima,20_letter,7_Cardiotocography,38_thyroid,18_Ionosphere,46_WPBC,43_WDBC,2_annthyroid,17_InternetAds,27_PageBlocks,30_satellite,41_Waveform,35_SpamBase,31_satimage-2,26_optdigits --detectors 'diffusion,dte-np,ddpm' --seeds 1 --setting semi --threads 1 --out "$OUT/tabular.csv" --resume
"${A[@]}" bench series --suite skab --data "$D/skab" --detectors 'series;series-impute' --seeds 1 --threads 1 --out "$OUT/series.csv" --resume
"${A[@]}" bench video --suite ped2 --data "$D/ped2" --seeds 1 --detectors 'video;video-diff' --threads 1 --out "$OUT/video.csv" --resume
"${A[@]}" bench multimodal --suite digits-captions --data "$D/mnist" --seeds 1 --threads 1 --out "$OUT/multimodal.csv" --resume
"${A[@]}" bench image --suite mtd --data "$D/mtd" --detectors image --seeds 1 --size 128 --threads 1 --out "$OUT/image.csv" --resume
