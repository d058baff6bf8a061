"""Choose tabddpm's settings WITHOUT the benchmark's test rows: per set, the training normals of
the benchmark split (seed 0) are split again 70/30; the model fits on the 70 %, and C2ST compares
its samples with the 30 % (held-out training normals)."""
import sys, time, csv, json
import numpy as np, torch
torch.set_num_threads(1)
from adgdm.data import load_npz, semi_supervised_split
from adgdm.detectors import TabDDPMDetector
from adgdm.metrics.fidelity import c2st_auc

sets = sys.argv[1].split(",")
configs = json.loads(sys.argv[2])
out = sys.argv[3]
fh = open(out, "a")
w = csv.writer(fh)
for name in sets:
    X, y = load_npz(f"../shared/data/adbench/Classical/{name}.npz")
    tr, _ = semi_supervised_split(y, 0)
    rng = np.random.default_rng(0)
    tr = rng.permutation(tr)
    if len(tr) > 10000:
        tr = tr[:10000]
    k = int(0.7 * len(tr))
    A, B = X[tr[:k]], X[tr[k:]]
    for label, kw in configs.items():
        t = time.time()
        det = TabDDPMDetector(random_state=0, **kw).fit(A)
        fit = time.time() - t
        S = det.sample(min(len(B), 2000), random_state=0)
        c = c2st_auc(B, S, random_state=0)
        ncat = sum(k == "categorical" for k in det.kinds_)
        print(name, label, round(c, 4), ncat, round(fit, 1), round(time.time() - t - fit, 1), flush=True)
        w.writerow([name, label, round(c, 4), ncat, round(fit, 1), round(time.time() - t - fit, 1)])
        fh.flush()
