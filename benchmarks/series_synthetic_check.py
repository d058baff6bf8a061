"""Label-free check of series detectors on synthetic anomalies in held-out synthetic normals:
30 series of 3,000 steps from `adgdm.data.series_synth` (seed 12345, not the pretraining seed 0),
fit on the first 1,000 steps, 4 anomalies injected after them (`inject_series_anomalies`, kinds
spike / level shift / pattern / frequency / trend / noise, 10-50 steps), AUROC and AP of the rest.

    python benchmarks/series_synthetic_check.py 'series;series:align=end;series-pre' \
        benchmarks/results/series_synthetic_check.md
"""
import platform
import sys
import time

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

import adgdm
from adgdm.data.series_synth import synthetic_collection
from adgdm.generation.series import inject_series_anomalies

torch.set_num_threads(2)
specs, out = sys.argv[1].split(";"), sys.argv[2]
S = synthetic_collection(30, 3000, seed=12345)
lines = ["# Series detectors on synthetic anomalies in held-out synthetic normals", "",
         f"Command: `python {' '.join(sys.argv)}`", "",
         f"Machine: 2 CPU cores, no GPU used, {platform.machine()}, Python {platform.python_version()}, "
         f"torch {torch.__version__}.", "", "| detector | AUROC | AP | seconds |", "|---|---|---|---|"]
for spec in specs:
    au, ap, t0 = [], [], time.time()
    for i, x in enumerate(S):
        inj = inject_series_anomalies(x[1000:], n=4, random_state=i)
        full = np.concatenate([x[:1000], inj.values])
        det = adgdm.make_detector(spec, random_state=0).fit(full[:1000])
        s = det.decision_function(full)[1000:]
        au.append(roc_auc_score(inj.labels, s))
        ap.append(average_precision_score(inj.labels, s))
    lines.append(f"| `{spec}` | {100 * np.mean(au):.2f} | {100 * np.mean(ap):.2f} | {time.time() - t0:.1f} |")
    print(lines[-1], flush=True)
open(out, "w").write("\n".join(lines) + "\n")
