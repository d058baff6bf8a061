"""One model object from file to answer: ``adgdm.Pipeline`` on a CSV, save / load, score new data,
and recalibrate the threshold on new normal data after a shift, without refitting. No download.

A ';'-separated CSV of scikit-learn's breast-cancer table with a shuffled id column and a 0/1 label
named ``fraud`` (both left out by the reader, and said so), a model folder written and read back,
the share of new benign rows flagged against the contamination set at fit, and ``calibrate``.

Run:
    python examples/pipeline.py [--seed 0]
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

import adgdm
from adgdm.metrics import auroc


def main(seed: int = 0) -> None:
    data = load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(seed)
    data.insert(0, "record_id", rng.permutation(len(data)) + 5000)   # an id, in no order
    data["fraud"] = 1 - data.pop("target")                           # 1: malignant, our anomaly
    benign = rng.permutation(np.flatnonzero(data["fraud"] == 0))
    train, new = data.iloc[benign[:200]], data.iloc[benign[200:]]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pd.concat([train, data[data["fraud"] == 1].head(20)]).to_csv(tmp / "train.csv", sep=";", index=False)

        pipe = adgdm.Pipeline("diffusion", label="fraud", seed=seed).fit(tmp / "train.csv")
        for note in pipe.fit_notes_:
            print("fit note:", note)
        pipe.save(tmp / "model")
        model = adgdm.Pipeline.load(tmp / "model")
        print(f"columns used: {len(model.card_.columns)}; threshold {model.detector_.threshold_:.4g}")

        res = model.score(new)                                       # new benign rows: a DataFrame
        print(f"new benign rows flagged: {res.prediction.label.mean():.3f} (contamination 0.1)")
        mixed = model.score(data)                                    # every row, the label carried along
        frame = mixed.to_frame()
        fitted = int(frame["in_sample"].sum())  # the training rows carry their (leave-one-out) training scores
        print(f"AUROC on all rows ({fitted} of them fitted on): {auroc(frame['label'], frame['score']):.3f}")
        print("top row:", frame.sort_values("score").iloc[-1]["top_features"])

        shifted = new.assign(**{c: new[c] * 1.3 for c in new.columns[1:11]})  # a new instrument: +30%
        print(f"shifted benign rows flagged: {model.score(shifted).prediction.label.mean():.3f}")
        half = len(shifted) // 2
        out = model.calibrate(shifted.iloc[:half])                  # on new normal data, no refit
        after = model.score(shifted.iloc[half:]).prediction.label.mean()
        print(f"calibrate: threshold {out['threshold_before']:.4g} -> {out['threshold']:.4g}; "
              f"the other shifted rows flagged: {after:.3f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    main(ap.parse_args().seed)
