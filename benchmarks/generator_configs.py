"""Generator configurations compared on 8 ADBench tables, seed 0 (fidelity only; the run behind the
default sampler). Usage: python benchmarks/generator_configs.py CFG[,CFG] DATASET[,DATASET] > log.jsonl
(the data path is ADGDM_DATA or ../shared/data)."""
import sys, time, json, numpy as np, torch
torch.set_num_threads(1)
from adgdm.data import list_npz, load_npz, semi_supervised_split, standardize
from adgdm.detectors import DDPMDetector
from adgdm.metrics.fidelity import fidelity_report
import os
files = list_npz(os.path.join(os.environ.get('ADGDM_DATA', '../shared/data'), 'adbench/Classical'))
names = sys.argv[2].split(',')
cfgs = {
 'base': dict(fit=dict(max_steps=1500, width=128), samp=dict(steps=50, sampler='ddim')),
 'base-ddpm': dict(fit=dict(max_steps=1500, width=128), samp=dict(steps=1000, sampler='ddpm')),
 'big': dict(fit=dict(max_steps=4000, width=256, depth=3, ema_decay=0.999), samp=dict(steps=50, sampler='ddim')),
 'big-ddpm': dict(fit=dict(max_steps=4000, width=256, depth=3, ema_decay=0.999), samp=dict(steps=1000, sampler='ddpm')),
 'big-cos': dict(fit=dict(max_steps=4000, width=256, depth=3, ema_decay=0.999, schedule='cosine'), samp=dict(steps=1000, sampler='ddpm')),
 'wide': dict(fit=dict(max_steps=8000, width=512, depth=3, ema_decay=0.999), samp=dict(steps=1000, sampler='ddpm')),
}
for cname in sys.argv[1].split(','):
  c = cfgs[cname]
  for name in names:
    X, y = load_npz(files[name]); seed = 0
    tr, te = semi_supervised_split(y, seed)
    X_tr, X_te = standardize(X[tr], X[te]); held = X_te[y[te]==0]
    t0=time.perf_counter()
    g = DDPMDetector(epochs=1_000_000, preprocess='quantile', random_state=seed, **c['fit']).fit(X_tr[:10000])
    fit=time.perf_counter()-t0
    S = g.sample(min(len(held),2000), random_state=seed, **c['samp'])
    rep = fidelity_report(X_tr[:5000], held, S, random_state=seed)
    print(json.dumps(dict(cfg=cname, ds=name, fit=round(fit,1), **{k: round(float(v),3) for k,v in rep.items()})), flush=True)
