"""Leave-one-group-out selection of series design choices (issue 18): the pure choice on a hand-made
table, the report, the end-to-end run and CLI on a tiny two-group SKAB-like folder, the < 2 groups error."""
import numpy as np
import pytest

from adgdm.bench.loco import choose_per_group, loco_report

pd = pytest.importorskip("pandas")


def _rows():
    # x is very good on group A only; y is better on B and C. On all files x wins (the oracle), but with A
    # held out the others choose y, which is poor on A; with B or C held out the others choose x.
    vals = {"A/1": (0.9, 0.1), "A/2": (0.9, 0.1), "B/1": (0.3, 0.5), "B/2": (0.3, 0.5), "C/1": (0.3, 0.5),
            "C/2": (0.3, 0.5), "D/1": (float("nan"), float("nan"))}  # D: no value (no anomaly), left out
    rows = []
    for d, (x, y) in vals.items():
        rows += [{"dataset": d, "detector": "x", "seed": 0, "vus_pr": x, "auroc": 50.0},
                 {"dataset": d, "detector": "y", "seed": 0, "vus_pr": y, "auroc": 60.0}]
    rows.append({"dataset": "A/1", "detector": "x", "seed": 1, "vus_pr": 0.9, "auroc": 50.0})  # seeds averaged
    return rows


def test_choose_per_group_picks_on_the_other_groups():
    c = choose_per_group(_rows(), metric="vus_pr")
    assert sorted(c) == ["A", "B", "C"]
    assert c["A"]["chosen_spec"] == "y" and c["A"]["held_out_value"] == pytest.approx(0.1)
    assert c["A"]["in_sample_best_spec"] == "x" and c["A"]["in_sample_best_value"] == pytest.approx(0.9)
    assert c["A"]["train_value"] == pytest.approx(0.5) and c["A"]["n_files"] == 2 and c["A"]["n_train_files"] == 4
    for g in "BC":
        assert c[g]["chosen_spec"] == "x" and c[g]["held_out_value"] == pytest.approx(0.3)
        assert c[g]["in_sample_best_spec"] == "y"
    # ties go to the earlier spec; the metric is a choice
    assert {v["chosen_spec"] for v in choose_per_group(_rows(), metric="auroc", specs=["y", "x"]).values()} == {"y"}


def test_loco_report_sets_loco_beside_oracle_and_fixed_specs():
    rows, summary, info = loco_report(_rows(), "toy", "vus_pr", ["x", "y"])
    assert info["oracle"] == "x" and info["groups"] == ["A", "B", "C"] and info["n_files"] == 6
    lab, by_group, by_file = summary[0]
    assert lab.startswith("loco") and by_group == pytest.approx((0.1 + 0.3 + 0.3) / 3)
    assert summary[1][1] == pytest.approx(0.5)  # the oracle fits to the labels it reports
    assert {r["held_out_group"]: r["chosen_spec"] for r in rows} == {"A": "y", "B": "x", "C": "x"}


def test_fewer_than_two_groups_and_bad_metric_raise():
    rows = [r for r in _rows() if r["dataset"].startswith("A")]
    with pytest.raises(ValueError, match="at least 2 groups"):
        choose_per_group(rows)
    with pytest.raises(ValueError, match="metric"):
        choose_per_group(_rows(), metric="nab")


def _skab(root, folders, n=600):
    rng = np.random.default_rng(0)
    for k, folder in enumerate(folders):
        (root / "data" / folder).mkdir(parents=True)
        for i in range(2):
            t = np.arange(n)
            X = np.stack([np.sin(2 * np.pi * t / 30 + c) for c in range(2)], 1) + 0.05 * rng.normal(size=(n, 2))
            y = np.zeros(n, int)
            y[480:520] = 1
            X[480:520] += 1.0 + k
            df = pd.DataFrame(X, columns=["a", "b"])
            df.insert(0, "datetime", pd.date_range("2020-01-01", periods=n, freq="s").astype(str))
            df["anomaly"] = y
            df["changepoint"] = 0
            df.to_csv(root / "data" / folder / f"{i}.csv", sep=";", index=False)
    return root


def test_run_loco_end_to_end_and_cli(tmp_path):
    from typer.testing import CliRunner

    from adgdm.bench.loco import LOCO_COLUMNS, run_loco
    from adgdm.cli import _build_app

    data = _skab(tmp_path / "skab", ["valve1", "other"])
    specs = ["tsb-subpca:window=16", "tsb-subpca:window=32"]
    out, loco_csv, md = run_loco("skab", data, specs, ["tsb-iforest:n_estimators=10"], seeds=1,
                                 out=tmp_path / "r.csv", progress=False)
    df = pd.read_csv(loco_csv)
    assert loco_csv.name == "r_loco.csv" and list(df.columns) == LOCO_COLUMNS
    assert sorted(df.held_out_group.unique()) == ["other", "valve1"] and set(df.metric) == {"vus_pr", "auroc"}
    assert set(df.chosen_spec) <= set(specs) and (tmp_path / "r_loco.md").exists()
    assert "oracle" in md and "(reference)" in md
    assert set(pd.read_csv(out).detector) == set(specs) | {"tsb-iforest:n_estimators=10"}

    res = CliRunner().invoke(_build_app(), ["bench", "series", "--protocol", "loco", "--suite", "skab", "--data",
                                            str(data), "--detectors", ";".join(specs), "--out",
                                            str(tmp_path / "c.csv")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c.csv").exists() and (tmp_path / "c.md").exists() and (tmp_path / "c_loco.csv").exists()
    assert (tmp_path / "c_loco.md").exists()

    one = _skab(tmp_path / "one", ["valve1"])
    with pytest.raises(ValueError, match="at least 2 groups"):
        run_loco("skab", one, specs, out=tmp_path / "o.csv", progress=False)
    assert not (tmp_path / "o.csv").exists()
    res = CliRunner().invoke(_build_app(), ["bench", "series", "--protocol", "loco", "--suite", "skab", "--data",
                                            str(one), "--detectors", specs[0], "--out", str(tmp_path / "o2.csv")])
    assert res.exit_code == 2 and "2 groups" in res.output
    res = CliRunner().invoke(_build_app(), ["bench", "series", "--protocol", "nope", "--suite", "skab", "--data",
                                            str(data), "--out", str(tmp_path / "o3.csv")])
    assert res.exit_code == 2


def test_loco_splits_never_share_a_group_between_choice_and_report():
    from adgdm.bench.loco import loco_splits

    files = [f"{g}/{i}" for g in ("realKnownCause", "realAWSCloudwatch", "artificialWithAnomaly") for i in range(4)]
    files += ["realAdExchange/x", "realAdExchange/y"]
    splits = loco_splits(files)
    assert [g for g, _, _ in splits] == sorted({f.split("/")[0] for f in files})
    for g, choose, report in splits:
        assert report and all(f.split("/")[0] == g for f in report)
        assert not {f.split("/")[0] for f in choose} & {g}
        assert sorted(choose + report) == sorted(files)


def _count_rows():
    # counts (tp, fp, fn, tn) per file: "lo" has few false alarms, "hi" many but a better F1 on group B
    c = {("A/1", "lo"): (80, 5, 20, 95), ("A/1", "hi"): (100, 60, 0, 40),
         ("B/1", "lo"): (50, 5, 50, 95), ("B/1", "hi"): (100, 30, 0, 70)}
    return [{"dataset": d, "detector": s, "seed": 0, "tp": tp, "fp": fp, "fn": fn, "tn": tn}
            for (d, s), (tp, fp, fn, tn) in c.items()]


def test_pooled_choice_caps_the_false_alarm_rate_on_the_other_groups():
    from adgdm.bench.loco import choose_pooled_per_group, pooled_counts, pooled_rates, write_pooled_loco

    c = choose_pooled_per_group(_count_rows(), specs=["lo", "hi"], far_max=20.0)
    # held out A: on B, "hi" has FAR 30% > 20%, so "lo" is chosen although its F1 there is lower
    assert c["A"]["chosen_spec"] == "lo" and c["A"]["held_out"]["f1"] == pytest.approx(160 / 185)
    assert c["A"]["held_out"]["far"] == pytest.approx(5.0) and c["A"]["train"]["far"] == pytest.approx(5.0)
    # no cap: the best F1 on the others wins
    assert choose_pooled_per_group(_count_rows(), specs=["lo", "hi"], far_max=100.0)["A"]["chosen_spec"] == "hi"
    # every candidate over the cap: the best F1 among all
    assert choose_pooled_per_group(_count_rows(), specs=["hi"], far_max=1.0)["B"]["chosen_spec"] == "hi"
    counts = pooled_counts(_count_rows() + [{**_count_rows()[0], "seed": 1}])  # seeds are pooled
    assert counts["lo"]["A/1"] == [160, 10, 40, 190]
    assert pooled_rates(counts["hi"], ["A/1", "B/1"]) == pytest.approx({"f1": 400 / 490, "far": 45.0, "mar": 0.0})
    rows, lines = write_pooled_loco(_count_rows(), "toy", ["lo", "hi"])
    assert {r["held_out_group"]: r["chosen_spec"] for r in rows} == {"A": "lo", "B": "lo"}
    assert any("pooled F1" in ln for ln in lines) and all(r["metric"] == "thr_f1" for r in rows)


def test_write_loco_with_the_pooled_metric(tmp_path):
    from adgdm.bench.loco import LOCO_COLUMNS, write_loco

    path = tmp_path / "r.csv"
    pd.DataFrame(_count_rows()).to_csv(path, index=False)
    loco_csv, md = write_loco(path, "skab", ["lo", "hi"], metrics=["thr_f1"])
    df = pd.read_csv(loco_csv)
    assert list(df.columns) == LOCO_COLUMNS and set(df.metric) == {"thr_f1"} and set(df.chosen_spec) == {"lo"}
    assert "## thr_f1 (pooled" in md and loco_csv.with_suffix(".md").exists()
    with pytest.raises(ValueError, match="metric"):
        from adgdm.bench.loco import run_loco
        run_loco("skab", tmp_path, ["lo"], metrics=["thr_f2"], out=tmp_path / "x.csv", progress=False)
