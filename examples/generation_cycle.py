"""Generate anomalies with a diffusion model, and close the detection-generation cycle.

Shows, on scikit-learn's breast-cancer table (no download):
1. a ``ddpm`` model trained on normal (benign) rows samples new normal rows; a classifier
   two-sample test (C2ST AUC, 0.5 = indistinguishable) checks them against unseen real rows;
2. ``adgdm.generation.generate_anomalies`` turns real normal rows into synthetic anomalies of a
   few kinds, and the ``diffusion`` detector says how anomalous each kind looks;
3. the ``cycle`` detector (diffusion score + a classifier trained on generated anomalies) is
   compared with ``diffusion`` on held-out benign and real malignant rows.
The generator is trained for 600 steps only (the library default is 1500) to keep this fast.

Run:
    python examples/generation_cycle.py [--seed 0]
"""
import argparse

import numpy as np
from sklearn.datasets import load_breast_cancer

import adgdm
from adgdm.generation import filter_by_detector, generate_anomalies
from adgdm.metrics import auroc, c2st_auc


def main(seed: int = 0) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    anomaly = (y == 0).astype(int)  # malignant rows are the real anomalies
    rng = np.random.default_rng(seed)
    benign = rng.permutation(np.flatnonzero(anomaly == 0))
    train, held_out = benign[: len(benign) // 2], benign[len(benign) // 2:]
    test = np.r_[held_out, np.flatnonzero(anomaly == 1)]
    X_train, X_held, X_test, y_test = X[train], X[held_out], X[test], anomaly[test]

    # 1. A diffusion model of the normal rows. preprocess="quantile" maps each column to a normal
    # distribution first (TabDDPM's preprocessing); epochs is set high so max_steps decides.
    gen = adgdm.DDPMDetector(max_steps=600, epochs=10**6, preprocess="quantile", random_state=seed).fit(X_train)
    # The default sampler runs the full ancestral chain; sample(n, steps=50, sampler="ddim") is
    # about 20 times faster and less faithful.
    fake = gen.sample(len(X_held), random_state=seed)
    # C2ST needs a reference: even two real samples of 180 rows are not at exactly 0.5.
    print(f"sampled {len(fake)} normal rows from ddpm; C2ST AUC vs unseen benign rows "
          f"{c2st_auc(X_held, fake, random_state=seed):.3f} (real training rows: "
          f"{c2st_auc(X_held, X_train, random_state=seed):.3f}; 0.5 = indistinguishable, 1.0 = told apart)")

    # 2. Synthetic anomalies made from real normal rows. 'local' noises a row and denoises it with
    # the model's pull back to the data scaled by 1 - severity (at 1.0 the model plays no part);
    # 'masked' does it on 30% of the columns only; 'global' is model-free (uniform around the data).
    judge = adgdm.make_detector("diffusion").fit(X_train)
    normal_scores = judge.decision_function(X_held)
    for kind, severity in [("local", 0.5), ("local", 1.5), ("masked", 1.5), ("global", 1.0)]:
        A = generate_anomalies(gen if kind != "global" else None, X_train, 200, kind=kind, severity=severity,
                               random_state=seed)
        is_generated = np.r_[np.zeros(len(X_held)), np.ones(len(A))]
        separation = auroc(is_generated, np.r_[normal_scores, judge.decision_function(A)])
        # keep the ones that are neither normal-looking nor trivially far: useful training anomalies
        kept = filter_by_detector(judge, A, band=(0.9, 0.999))
        print(f"generated {kind:6s} severity {severity}: AUROC vs unseen normals {separation:.3f}; "
              f"{kept.n_kept} of {len(A)} in the 90-99.9% band of normal scores")

    # 3. The cycle: reuse the fitted diffusion detector and generator rather than training new ones.
    cycle = adgdm.make_detector("cycle:generator_steps=600", random_state=seed)
    cycle.fit_reusing(X_train, base=judge, generator=gen)
    print(f"held-out test ({len(test)} rows, {y_test.sum()} malignant): "
          f"diffusion AUROC {auroc(y_test, judge.decision_function(X_test)):.3f}  "
          f"cycle AUROC {auroc(y_test, cycle.decision_function(X_test)):.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the models and the generation")
    main(parser.parse_args().seed)
