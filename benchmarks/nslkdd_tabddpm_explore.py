"""Exploratory (not used to choose defaults): tabddpm variants on NSL-KDD, same split and metric as
``adgdm bench generation --suite nsl-kdd`` (seed 0). Rows go to a separate CSV.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/nslkdd_tabddpm_explore.py OUT.csv '{"label": {params}}'
"""
import json
import sys
import time

import numpy as np
import pandas as pd
import torch

torch.set_num_threads(1)
from adgdm.bench.generation import NSL_NOT_FEATURES, nsl_halves  # noqa: E402
from adgdm.detectors import TabDDPMDetector  # noqa: E402
from adgdm.metrics.fidelity import fidelity_report  # noqa: E402

out, configs = sys.argv[1], json.loads(sys.argv[2])
df = pd.read_csv("../shared/data/nsl-kdd/KDDTrain+.csv")
normal = df[df["attack"] == "normal"].drop(columns=list(NSL_NOT_FEATURES)).reset_index(drop=True)
seed = 0
train, held, encode, E_tr, E_held, ref = nsl_halves(normal, seed)
with open(out, "a") as fh:
    for label, kw in configs.items():
        t0 = time.perf_counter()
        gen = TabDDPMDetector(noise_levels=(0.1,), n_repeats=1, random_state=seed, **kw).fit(train)
        fit_s = time.perf_counter() - t0
        S = encode(gen.sample(min(len(held), 2000), random_state=seed))
        rep = fidelity_report(ref, E_held, S, random_state=seed)
        row = [label, json.dumps(kw).replace(",", ";"), sum(k == "categorical" for k in gen.kinds_)] + \
              [round(float(rep[k]), 4) for k in ("c2st_auc", "mmd", "density", "coverage", "dcr_ratio")] + [round(fit_s, 1)]
        fh.write(",".join(map(str, row)) + "\n")
        fh.flush()
        print(row, flush=True)
