"""The HTML report: sections, escaping, one inlined plotly.js, no external resources, atomic save,
input errors, and a headless Chromium check that the saved page really draws offline."""
from __future__ import annotations

import base64
import io
import os
import re
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("plotly")
from adgdm.report import Report, bench_report  # noqa: E402
from adgdm.report import _html, figures  # noqa: E402
from adgdm.report.bench import summarise  # noqa: E402

FIG_DIV = 'class="plotly-graph-div"'
PLOTLYJS_MARKER = "* plotly.js v"  # the bundle's licence header: once per copy


def _scores(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = np.zeros(n, int)
    y[: n // 10] = 1
    s = rng.normal(size=n) + 3.0 * y
    return s, y


def _bench_df():
    rows = []
    for det, base in (("alpha", 0.9), ("beta", 0.7)):
        for ds, off in (("d1", 0.0), ("d2", 0.04)):
            for seed, noise in ((0, -0.01), (1, 0.01)):
                rows.append(dict(dataset=ds, detector=det, seed=seed, auroc=base + off + noise, auprc=0.5,
                                 fit_s=1.5 if det == "alpha" else 0.02, score_s=0.01))
    return pd.DataFrame(rows)


def _images(n=6, size=24, seed=0):
    rng = np.random.default_rng(seed)
    imgs = rng.random((n, size, size)) * 0.5
    masks = np.zeros((n, size, size), bool)
    masks[:, 6:14, 8:16] = True
    maps = rng.random((n, size, size)) * 0.2 + masks
    return imgs, maps, masks


def _full_report() -> Report:
    """Every section: scores + labels, top anomalies with contributions, series, overlays, gallery, bench."""
    s, y = _scores()
    rng = np.random.default_rng(1)
    contrib = np.abs(rng.normal(size=(len(s), 4)))
    T = 600
    t = np.arange(T)
    values = np.c_[np.sin(t / 20), rng.normal(size=T)]
    lab = np.zeros(T, int)
    lab[200:230] = 1
    score_t = np.abs(rng.normal(size=T))
    score_t[205:225] += 5
    imgs, maps, masks = _images()
    rep = Report(title="adgdm report", subtitle="every section", date="2024-01-01 00:00 UTC")
    rep.add_text("Fitted on **train.csv**.", title="Setup")
    rep.add_scores(s, threshold=2.5, labels=y, ids=[f"row{i}" for i in range(len(s))])
    rep.add_top_anomalies([f"row{i}" for i in range(len(s))], s, contrib, ["a", "b", "<script>", "d"], k=5)
    rep.add_series(t, values, score_t, labels=lab, threshold=3.0, channel_names=["sine", "noise"])
    rep.add_image_overlays(imgs, maps, masks=masks, scores=maps.max(axis=(1, 2)), k=4)
    rep.add_gallery((imgs * 255).astype(np.uint8), masks=masks, k=6)
    rep.add_bench(_bench_df())
    return rep


def _section(html: str, title: str) -> str:
    """The HTML of the section headed ``title``."""
    m = re.search(r"<section id=\"[^\"]+\">\n<h2>" + re.escape(title) + r"</h2>(.*?)</section>", html, re.S)
    assert m, f"no section {title!r}"
    return m.group(1)


# -- sections ---------------------------------------------------------------------------------------
def test_scores_with_labels_has_histogram_roc_pr_and_threshold():
    s, y = _scores()
    html = Report(date="d").add_scores(s, threshold=2.5, labels=y).to_html()
    sec = _section(html, "Anomaly scores")
    assert sec.count(FIG_DIV) == 3  # histogram, ROC, PR
    assert "threshold = 2.5" in sec  # the line's annotation
    from sklearn.metrics import average_precision_score, roc_auc_score

    assert f"ROC (AUROC = {roc_auc_score(y, s):.4f})" in sec
    assert f"PR (AUPRC = {average_precision_score(y, s):.4f})" in sec
    assert f"flagged <b>{int((s > 2.5).sum())} " in sec


def test_scores_without_labels_has_no_roc_or_pr():
    s, _ = _scores()
    sec = _section(Report(date="d").add_scores(s, threshold=1.0).to_html(), "Anomaly scores")
    assert sec.count(FIG_DIV) == 1
    assert "AUROC" not in sec and "AUPRC" not in sec


def test_single_class_labels_explain_missing_curves():
    s, _ = _scores()
    sec = _section(Report(date="d").add_scores(s, labels=np.zeros(len(s), int)).to_html(), "Anomaly scores")
    assert sec.count(FIG_DIV) == 1 and "ROC and PR need both classes" in sec


def test_top_anomalies_highest_first_and_feature_names_escaped():
    s = np.array([0.1, 5.0, 0.3, 9.0, 2.0])
    contrib = np.array([[1, 0, 0], [0, 3, 1], [1, 1, 1], [0, 1, 3], [2, 0, 0]], float)
    html = Report(date="d").add_top_anomalies(["a", "b", "c", "d<i>", "e"], s, contrib,
                                              ["x", "y", "<script>alert(1)</script>"], k=3).to_html()
    sec = _section(html, "Top anomalies")
    firsts = re.findall(r'<tr><td class="num">(\d+)</td><td>(.*?)</td>', sec)
    assert firsts == [("1", "d&lt;i&gt;"), ("2", "b"), ("3", "e")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in sec and "<script>alert" not in html
    assert "75%" in sec  # row "d": the third feature holds 3 of 4


def test_series_section_shades_labels_and_flags():
    T = 300
    lab = np.zeros(T, int)
    lab[100:120] = 1
    s = np.zeros(T)
    s[105:115] = 4.0
    html = Report(date="d").add_series(None, np.random.default_rng(0).normal(size=(T, 3)), s, labels=lab,
                                       threshold=1.0, channel_names=["u", "v", "<w>"]).to_html()
    sec = _section(html, "Time series")
    assert sec.count(FIG_DIV) == 1
    assert '"name":"labelled anomaly"' in sec and '"name":"flagged"' in sec
    assert "labelled ranges with a flag <b>1/1</b>" in sec
    assert "&lt;w&gt;" in sec and '"<w>"' not in sec


def test_long_series_is_thinned_but_keeps_spikes():
    y = np.zeros(100_000)
    y[54_321] = 50.0
    idx = figures._decimate(y, 2000)
    assert len(idx) <= 2002 and 54_321 in idx


def test_runs_merge_when_there_are_too_many():
    mask = np.zeros(100, bool)
    mask[[1, 2, 10, 12, 50, 90]] = True
    assert figures.runs(mask) == [(1, 3), (10, 11), (12, 13), (50, 51), (90, 91)]
    assert figures.runs(mask, max_runs=3) == [(1, 13), (50, 51), (90, 91)]  # the two smallest gaps merged


def test_image_sections_embed_pngs():
    imgs, maps, masks = _images()
    rep = Report(date="d").add_image_overlays(imgs, maps, masks=masks, k=4, titles=[f"<t{i}>" for i in range(6)])
    html = rep.add_gallery(imgs, k=3).to_html()
    over = _section(html, "Anomaly maps")
    uris = re.findall(r'<img class="overlay" alt="[^"]*" src="data:image/png;base64,([^"]+)"', over)
    assert len(uris) == 4 and "&lt;t0&gt;" in over
    from PIL import Image

    png = Image.open(io.BytesIO(base64.b64decode(uris[0])))
    assert png.size[1] >= 24 and png.size[0] > 2 * png.size[1]  # image and overlay side by side
    assert len(re.findall(r'<img class="gallery"', _section(html, "Generated anomalies"))) == 3


def test_bench_means_over_seeds_then_datasets():
    b = summarise(_bench_df())
    assert b.metric == "auroc" and b.detectors == ["alpha", "beta"]
    assert b.per_detector.loc["alpha", "mean"] == pytest.approx(0.92)
    assert b.per_detector.loc["beta", "err"] == pytest.approx(np.std([-0.01, 0.01], ddof=1))
    assert b.heat.loc["d2", "beta"] == pytest.approx(0.74)
    sec = _section(Report(date="d").add_bench(_bench_df()).to_html(), "Benchmark")
    assert sec.count(FIG_DIV) == 2  # metric bars and the time chart
    assert "0.92" in sec and "auroc per dataset" in sec


def test_bench_picks_present_metric_and_keeps_last_duplicate():
    df = _bench_df().drop(columns=["auroc", "auprc"]).assign(f1=0.3, vus_pr=0.6)
    df = pd.concat([df, df.iloc[:1].assign(vus_pr=0.0)])
    b = summarise(df)
    assert b.metric == "vus_pr" and b.duplicates == 1
    assert b.heat.loc["d1", "alpha"] == pytest.approx(0.3)  # the repeat (0.0) replaced seed 0's 0.6


def test_bench_report_reads_csvs_and_splits_suites(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _bench_df().assign(suite="nab").to_csv(a, index=False)
    _bench_df().assign(suite="skab", dataset="0").to_csv(b, index=False)
    out = bench_report([a, b], tmp_path / "bench.html")
    html = out.read_text()
    assert out == tmp_path / "bench.html"
    assert "Benchmark: suite=nab" in html and "Benchmark: suite=skab" in html
    assert "<td>0</td>" in _section(html, "Benchmark: suite=skab")  # "0" stays a dataset name


def test_text_and_table_escape():
    df = pd.DataFrame({"name": ["<img src=x onerror=alert(1)>"], "value": [0.123456]})
    html = (Report(date="d").add_text("a **b** <script>x</script>", title="Notes")
            .add_table(df, "T").add_text("<em>trusted</em>", html=True).to_html())
    assert "<b>b</b> &lt;script&gt;x&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "0.1235" in html and "<em>trusted</em>" in html


# -- page -------------------------------------------------------------------------------------------
def test_page_has_header_and_one_plotlyjs_and_no_external_resources():
    rep = _full_report()
    html = rep.to_html()
    assert rep.n_figures == 6  # histogram, ROC, PR, series, bench bars, bench times
    assert html.count(FIG_DIV) == rep.n_figures
    assert html.count(PLOTLYJS_MARKER) == 1
    assert html.index(PLOTLYJS_MARKER) < html.index(FIG_DIV)  # defined before any figure script runs
    import adgdm

    assert "<h1>adgdm report</h1>" in html and "2024-01-01 00:00 UTC" in html and f"adgdm {adgdm.__version__}" in html
    for title in ("Setup", "Anomaly scores", "Top anomalies", "Time series", "Anomaly maps",
                  "Generated anomalies", "Benchmark"):
        assert f"<h2>{title}</h2>" in html and f">{title}</a>" in html  # heading and table of contents
    for pattern in (r"<script[^>]*\ssrc=", r"<link[^>]*\shref=", r"<img[^>]*\ssrc=[\"']?(https?:)?//",
                    r"url\(\s*[\"']?(https?:)?//", r"@import", r"<iframe"):
        assert not re.search(pattern, html, re.I), pattern
    assert _full_report().to_html() == html  # deterministic with a fixed date


def test_empty_report_is_a_valid_page_without_plotlyjs():
    html = Report(date="d").to_html()
    assert html.startswith("<!DOCTYPE html>") and PLOTLYJS_MARKER not in html


def test_missing_plotly_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(ImportError, match=r"pip install 'adgdm\[report\]'"):
        Report().add_scores([1.0, 2.0])


# -- save -------------------------------------------------------------------------------------------
def test_save_writes_the_page(tmp_path):
    rep = Report(date="d").add_scores([1.0, 2.0, 3.0])
    out = rep.save(tmp_path / "r.html")
    assert out.read_text(encoding="utf-8") == rep.to_html()
    assert os.listdir(tmp_path) == ["r.html"]


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
@pytest.mark.parametrize("existing", [False, True])
def test_save_is_atomic(tmp_path, monkeypatch, exc, existing):
    out = tmp_path / "r.html"
    if existing:
        out.write_text("old report")
    rep = Report(date="d").add_scores([1.0, 2.0, 3.0])
    seen = []

    def fail(fd):  # the page is in the temporary file, not yet renamed
        seen.extend(os.listdir(tmp_path))
        raise exc

    monkeypatch.setattr(_html.os, "fsync", fail)
    with pytest.raises(type(exc)):
        rep.save(out)
    assert any(n.endswith(".tmp") for n in seen)  # the write really went through a temporary file
    assert os.listdir(tmp_path) == (["r.html"] if existing else [])
    if existing:
        assert out.read_text() == "old report"


def test_save_rejects_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        Report().save(tmp_path / "nope" / "r.html")


# -- bad input --------------------------------------------------------------------------------------
def _bad_calls():
    s, y = _scores(10)
    imgs, maps, masks = _images(3, 8)
    df = _bench_df()
    return [
        ("empty scores", lambda r: r.add_scores([]), "scores is empty"),
        ("NaN scores", lambda r: r.add_scores(np.r_[s[:-1], np.nan]), r"1 non-finite values .*NaN at index 9"),
        ("labels length", lambda r: r.add_scores(s, labels=y[:9]),
         "length mismatch: labels has 9 values but scores has 10"),
        ("labels not 0/1", lambda r: r.add_scores(s, labels=np.r_[y[:-1], 2]), r"0/1.*found other values \[2\]"),
        ("threshold NaN", lambda r: r.add_scores(s, threshold=float("nan")), "threshold must be a finite number"),
        ("ids length", lambda r: r.add_top_anomalies(["a"], s), "ids has 1 entries but scores has 10"),
        ("negative contributions", lambda r: r.add_top_anomalies(None, s, -np.ones((10, 2))), "non-negative"),
        ("contribution rows", lambda r: r.add_top_anomalies(None, s, np.ones((9, 2))),
         r"contributions must be \(n, d\)"),
        ("feature names", lambda r: r.add_top_anomalies(None, s, np.ones((10, 2)), ["a"]),
         "feature_names has 1 entries"),
        ("bad k", lambda r: r.add_top_anomalies(None, s, k=0), "k must be a positive integer"),
        ("series length", lambda r: r.add_series(None, np.ones((9, 2)), s), "values has 9 values but scores has 10"),
        ("series time", lambda r: r.add_series(np.arange(10)[::-1], np.ones(10), s), "time must be sorted"),
        ("series flagged", lambda r: r.add_series(None, np.ones(10), s, flagged=np.full(10, 3)), "flagged must be 0/1"),
        ("map shape", lambda r: r.add_image_overlays(imgs, maps[:, :4]), r"shape mismatch: maps has shape \(3, 4, 8\)"),
        ("mask shape", lambda r: r.add_image_overlays(imgs, maps, masks=masks[:2]), "shape mismatch: masks"),
        ("channels first", lambda r: r.add_gallery(np.zeros((2, 3, 8, 8))), "channels must be last"),
        ("image range", lambda r: r.add_gallery(imgs * 3), r"floats in \[0, 1\] or uint8"),
        ("empty images", lambda r: r.add_gallery(np.zeros((0, 8, 8))), "images is empty"),
        ("bench columns", lambda r: r.add_bench(df.drop(columns=["seed"])), r"missing columns \['seed'\]"),
        ("bench metric", lambda r: r.add_bench(df.drop(columns=["auroc", "auprc"])), "no metric column"),
        ("bench named metric", lambda r: r.add_bench(df, metric="f1"), "missing the metric column 'f1'"),
        ("bench empty", lambda r: r.add_bench(df.iloc[:0]), "empty: 0 rows"),
        ("table", lambda r: r.add_table([1, 2]), "needs a pandas DataFrame"),
    ]


@pytest.mark.parametrize("name, call, match", _bad_calls(), ids=[c[0] for c in _bad_calls()])
def test_bad_input_raises_a_named_error(name, call, match):
    with pytest.raises(ValueError, match=match):
        call(Report())


def test_bench_report_bad_files(tmp_path):
    with pytest.raises(ValueError, match="no bench CSV files"):
        bench_report([], tmp_path / "r.html")
    with pytest.raises(ValueError, match="does not exist"):
        bench_report(tmp_path / "missing.csv", tmp_path / "r.html")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        bench_report([tmp_path / "empty.csv"], tmp_path / "r.html")
    (tmp_path / "cols.csv").write_text("dataset,auroc\nd,0.5\n")
    with pytest.raises(ValueError, match=r"cols.csv is missing columns \['detector', 'seed'\]"):
        bench_report([tmp_path / "cols.csv"], tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


# -- headless browser -------------------------------------------------------------------------------
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
                 if p and os.path.exists(p)), None)
CHROMEDRIVER = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver")) if p and os.path.exists(p)),
                    None)


def _nonwhite(png: bytes) -> int:
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return int((a < 245).sum())


def test_report_renders_offline_in_headless_chromium(tmp_path):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        pytest.skip("selenium is not installed (pip install 'adgdm[test]')")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium and chromedriver are needed for the browser test (Debian: apt-get install "
                    "chromium chromium-driver)")
    rep = _full_report()
    path = rep.save(tmp_path / "report.html")
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(30)
        driver.get("about:blank")
        blank = driver.get_screenshot_as_png()
        driver.get(path.resolve().as_uri())
        n = rep.n_figures
        WebDriverWait(driver, 25, poll_frequency=0.2).until(lambda d: d.execute_script(
            "const g = document.querySelectorAll('.plotly-graph-div');"
            "return g.length === arguments[0] && Array.from(g).every(x => x.querySelector('.main-svg'));", n))
        assert driver.execute_script("return document.querySelectorAll('.main-svg').length") >= n
        # every figure drew trace geometry (bars or lines), not just an empty frame
        drawn = driver.execute_script(
            "return Array.from(document.querySelectorAll('.plotly-graph-div')).map(g => "
            "Array.from(g.querySelectorAll('.main-svg .trace path')).filter(p => (p.getAttribute('d') || '')"
            ".length > 1).length)")
        assert len(drawn) == n and min(drawn) > 0, drawn
        overflow = driver.execute_script(  # a figure wider than its box was sized before the layout settled
            "return Array.from(document.querySelectorAll('.plotly-graph-div')).filter(g => "
            "g.querySelector('.main-svg').getBoundingClientRect().width > g.parentElement.clientWidth + 1).length")
        assert overflow == 0
        imgs = driver.execute_script(
            "return Array.from(document.images).map(i => [i.className, i.complete, i.naturalWidth])")
        assert sum(c == "overlay" for c, _, _ in imgs) == 4 and sum(c == "gallery" for c, _, _ in imgs) == 6
        assert all(ok and w > 0 for _, ok, w in imgs), imgs
        fetched = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert not [u for u in fetched if u.startswith(("http:", "https:"))], fetched  # nothing from the network
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe
        height = driver.execute_script("return document.documentElement.scrollHeight")
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}})
        page = base64.b64decode(shot["data"])
        (tmp_path / "report.png").write_bytes(page)  # kept for a look when the test fails
        assert len(page) > 10 * len(blank)
        assert _nonwhite(blank) == 0 and _nonwhite(page) > 100_000
    finally:
        driver.quit()


def test_series_time_accepts_dates_and_date_strings():
    T = 48
    idx = pd.date_range("2024-01-01", periods=T, freq="h", tz="Europe/Paris")
    lab = np.r_[np.zeros(40), np.ones(8)]
    for t in (idx, pd.Series(idx), idx.strftime("%Y-%m-%d %H:%M").to_numpy()):
        html = Report(date="d").add_series(t, np.ones(T), np.zeros(T), labels=lab).to_html()
        assert '"x0":"2024-01-02T16:00:00.000"' in html  # wall-clock time of step 40, not shifted to UTC
    with pytest.raises(ValueError, match="could not parse"):
        Report().add_series(np.array(["x"] * T, object), np.ones(T), np.zeros(T))
    with pytest.raises(ValueError, match="missing dates"):
        Report().add_series(np.r_[idx.tz_localize(None).to_numpy()[:-1], np.datetime64("NaT")], np.ones(T), np.zeros(T))


# -- readability: histogram axis, every channel, events, summary --------------------------------------
@pytest.fixture
def figs(monkeypatch):
    """The plotly figures the report draws, in order."""
    seen, to_div = [], figures.to_div

    def keep(fig, div_id):
        seen.append(fig)
        return to_div(fig, div_id)

    monkeypatch.setattr(figures, "to_div", keep)
    return seen


def test_one_huge_score_does_not_squash_the_histogram(figs):
    s = np.random.default_rng(0).normal(size=500)
    s[7] = 1e9
    sec = _section(Report(date="d").add_scores(s, threshold=2.0).to_html(), "Anomaly scores")
    counts = np.asarray(figs[0].data[0].y)
    assert counts.sum() == 499 and counts.max() < 100 and (counts > 0).sum() > 15  # spread over many bins
    assert "1 extreme score lies above" in sec and "1,000,000,000" in sec
    assert "beyond the axis" in figs[0].layout.xaxis.title.text


def test_scores_spanning_decades_with_zeros_get_a_log_axis(figs):
    s = np.exp(np.random.default_rng(0).normal(size=400) * 3)
    s[:40] = 0.0  # a detector that floors its scores at 0
    sec = _section(Report(date="d").add_scores(s).to_html(), "Anomaly scores")
    assert "bins log10(score)" in sec and "40 scores of 0" in sec
    assert figs[0].layout.xaxis.title.text.startswith("log10(score)")
    assert np.asarray(figs[0].data[0].y).sum() == 400  # the zeros are counted, in the leftmost bin
    Report().add_scores(np.random.default_rng(0).normal(size=400))
    assert figs[1].layout.xaxis.title.text == "score"


def _label_boxes(fig):
    """Each channel label's text and the vertical span of the row it sits in."""
    out = []
    for a in fig.layout.annotations:
        if a.yref.endswith(" domain") and a.yref != f"y{len(fig.data)} domain":  # the score row is the last
            axis = "yaxis" + a.yref.split()[0][1:]
            out.append((a.text, tuple(fig.layout[axis].domain)))
    return out


def test_series_shows_every_channel_each_labelled_in_its_own_row(figs):
    T, names = 200, [f"sensor_{j}_with_a_long_name" for j in range(10)]
    v = np.random.default_rng(0).normal(size=(T, 10))
    html = Report(date="d").add_series(None, v, np.zeros(T), channel_names=names).to_html()
    assert all(n in html for n in names)
    boxes = _label_boxes(figs[0])
    assert [t for t, _ in boxes] == names
    spans = sorted(d for _, d in boxes)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # rows (and so labels) never overlap
    assert all(not figs[0].layout[f"yaxis{i if i > 1 else ''}"].title.text for i in range(1, 11))


def test_many_channels_are_picked_by_contribution(figs):
    T, d = 120, 20
    names = [f"ch{j:02d}" for j in range(d)]
    s = np.zeros(T)
    s[60:70] = 5.0
    C = np.full((T, d), 0.01)
    C[60:70, 17], C[60:70, 3], C[60:70, 11] = 9.0, 6.0, 3.0
    sec = _section(Report(date="d").add_series(None, np.zeros((T, d)), s, channel_names=names, threshold=1.0,
                                               max_channels=3, contributions=C).to_html(), "Time series")
    assert [t for t, _ in _label_boxes(figs[0])] == ["ch17", "ch03", "ch11"]
    assert "showing the 3 that contribute most to the flagged steps" in sec
    assert "Not shown: ch00, ch01, ch02, ch04" in sec


def test_series_top_anomalies_list_each_event_once():
    T = 300
    s = np.random.default_rng(0).uniform(size=T)
    s[100:130] = 2.0 + np.sin(np.arange(30) / 5)  # one 30-step event, peak at step 108
    s[250] = 1.5  # and a one-step one
    C = np.ones((T, 2))
    C[100:130, 1] = 3.0
    ids = [f"t{i}" for i in range(T)]
    sec = _section(Report(date="d").add_top_anomalies(ids, s, C, ["a", "b"], threshold=1.0, events=True,
                                                      labels=(np.arange(T) >= 110) & (np.arange(T) < 130))
                   .to_html(), "Top anomalies")
    rows = re.findall(r"<tr><td class=\"num\">\d+</td>(.*?)</tr>", sec)
    assert len(rows) == 2  # not 30 neighbouring steps
    cells = re.findall(r"<td[^>]*>(.*?)</td>", rows[0])
    assert cells[:5] == ["t100", "t129", "30", "3", "t108"] and cells[5] == "67% of its steps"
    assert cells[6].index(">b<") < cells[6].index(">a<")  # b holds 3 of 4 over the event
    assert "2 events (runs of consecutive flagged steps, 31 steps in all)" in sec
    with pytest.raises(ValueError, match="give flagged= or threshold="):
        Report().add_top_anomalies(ids, s, events=True)


def test_summary_says_what_is_flagged_and_why_and_comes_first():
    s = np.r_[np.linspace(0.0, 3.0, 1858), np.linspace(4.0, 10.0, 142)]
    C = np.tile([1.0, 1.0, 2.0], (2000, 1))
    C[-1] = [9.0, 0.5, 0.5]
    rule = {"method": "contamination", "contamination": 0.1}
    html = (Report(date="d").add_scores(s, threshold=3.21)
            .add_summary(s, 3.21, ids=[f"r{i}" for i in range(2000)], threshold_rule=rule, contributions=C,
                         feature_names=["A", "B", "C"]).to_html())
    sec = _section(html, "Summary")
    assert html.index("<h2>Summary</h2>") < html.index("<h2>Anomaly scores</h2>")
    assert ("142 of 2,000 rows (7.1%) are flagged: their score exceeds the threshold 3.21, set so that about 10% "
            "of the training rows would be flagged (contamination 0.1).") in sec
    assert "The most anomalous row is r1999 with score 10; its score is driven mostly by columns A (90%)" in sec
    unknown = _section(Report().add_summary(s, 3.21).to_html(), "Summary")
    assert "how it was chosen is not recorded" in unknown
    assert "No threshold was given" in _section(Report().add_summary(s).to_html(), "Summary")


def test_series_summary_names_the_strongest_event():
    s = np.zeros(100)
    s[40:55], s[80] = 3.0, 2.0
    s[47] = 4.0
    sec = _section(Report().add_summary(s, 1.0, unit="step", threshold_rule={"method": "pot", "q": 1e-4})
                   .to_html(), "Summary")
    assert "16 of 100 steps (16.0%) are flagged" in sec and "peaks over threshold" in sec and "0.0001" in sec
    assert "form 2 events" in sec and "runs from 40 to 54 (15 steps) and peaks at 47 with score 4" in sec
