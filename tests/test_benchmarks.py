"""Smoke tests of the benchmark code paths, on tiny sweeps."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits

from benchmarks import _data, _report, budget, compare, history, outliers, speed
from sk_autoencoder import AutoencoderTransformer
from sk_autoencoder.networks import ConvNetwork, MLPNetwork


@pytest.fixture(scope="module")
def tiny_run():
    methods = compare.make_methods(quick=True)
    methods = {name: methods[name] for name in ("PCA", "AE default")}
    return compare.run(["digits"], {"digits": (2, 3)}, [0, 1], methods, progress=False)


def test_datasets_are_bundled_and_scaled():
    """Check shapes and the [0, 1] scaling of both bundled datasets."""
    for name, shape in [("digits", (1797, 64)), ("mnist", (5000, 784))]:
        X, y = _data.load(name)
        assert X.shape == shape and X.dtype == np.float32
        assert X.min() == 0.0 and X.max() == 1.0
        assert sorted(np.unique(y)) == list(range(10))
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        _data.load("cifar")


def test_tabular_dataset_is_standardised_on_the_training_split():
    """breast_cancer: 455 + 114 rows, scaled by the training rows' mean and sd."""
    X_train, X_test, y_train, y_test = _data.splits("breast_cancer")
    assert X_train.shape == (455, 30) and X_test.shape == (114, 30)
    assert X_train.dtype == X_test.dtype == np.float32
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(X_train.std(axis=0), 1, atol=1e-4)
    assert np.abs(X_test.mean(axis=0)).max() > 0.01  # the test rows did not set the scale
    raw_train, raw_test, _, _ = _data.split(*_data.load("breast_cancer"))
    scale = raw_train.std(axis=0)
    restored = X_test * scale + raw_train.mean(axis=0)
    np.testing.assert_allclose(restored, raw_test, rtol=1e-3, atol=1e-5)
    assert sorted(np.unique(y_train)) == [0, 1] and len(y_test) == 114


def test_run_records_every_fit(tiny_run):
    """Check one record per (k, seed, method) with the promised figures."""
    records, artefacts = tiny_run
    assert len(records) == 2 * 2 * 2
    assert set(records[0]) == {"dataset", "method", "k", "seed", *_report.FIGURES}
    for r in records:
        assert r["sq_error_per_image"] == pytest.approx(64 * r["mse"])
        assert 0 <= r["knn_acc"] <= 1 and r["transform_rows_per_s"] > 0
    Z, y = artefacts[("digits", "codes", "PCA")]
    assert Z.shape == (len(y), 2)
    assert artefacts[("digits", "recon", "AE default", 3)].shape == (10, 64)


def test_summary_table_and_files(tiny_run, tmp_path):
    """Check the summary's ratios, the Markdown table and the written files."""
    records, artefacts = tiny_run
    summary = _report.summarise(records)
    assert len(summary) == 4
    assert summary.loc[("digits", 2, "PCA"), "mse_vs_pca"] == 1.0
    ae = [r["mse"] for r in records if r["method"] == "AE default" and r["k"] == 3]
    pca = [r["mse"] for r in records if r["method"] == "PCA" and r["k"] == 3]
    assert summary.loc[("digits", 3, "AE default"), "mse_vs_pca"] == pytest.approx(
        np.mean(ae) / np.mean(pca)
    )
    table = _report.markdown_table(summary)
    assert len(table.splitlines()) == 2 + 4
    _report.write_files(records, summary, tmp_path, {"quick": True})
    assert len(pd.read_csv(tmp_path / "results.csv")) == len(records)
    assert json.loads((tmp_path / "results.json").read_text())["meta"] == {"quick": True}
    _report.plot_error_vs_k(summary, tmp_path / "error.png")
    codes = {m: artefacts[("digits", "codes", m)] for m in ("PCA", "AE default")}
    _report.plot_codes(codes, tmp_path / "codes.png", {"PCA": 0.5, "AE default": 0.6})
    X_test, _ = artefacts[("digits", "test")]
    recons = {"PCA": artefacts[("digits", "recon", "PCA", 2)]}
    _report.plot_reconstructions(X_test, recons, 2, tmp_path / "recon.png", side=8)
    for name in ("error.png", "codes.png", "recon.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_outlier_benchmark_records_and_table():
    """Check the leave-one-class-out records and their table."""
    records = outliers.run(["digits"], classes=[0], quick=True)
    assert [r["method"] for r in records] == [
        "AE detector",
        "AE detector, transformer's defaults",
        "PCA error",
        "IsolationForest",
    ]
    assert all(0.5 < r["auc"] <= 1.0 for r in records)
    table = outliers.markdown(records).splitlines()
    assert len(table) == 2 + 4 and "class 0" in table[0] and "mean fit s" in table[0]


def test_speed_contenders_train_the_same_model():
    """Check that the hand-written loop and the estimator train the same architecture."""
    X = _data.load("digits")[0][:512]
    model = speed.hand_written_fit(X, (32,), 8, epochs=3)
    ae = speed.estimator_fit(X, (32,), 8, epochs=3)
    assert isinstance(ae, AutoencoderTransformer) and ae.n_iter_ == 3
    shapes = [p.shape for p in model.parameters()]
    assert shapes == [p.shape for p in ae.net_.module_.parameters()]
    with torch.no_grad():
        hand_error = torch.nn.functional.mse_loss(
            model(torch.from_numpy(X)), torch.from_numpy(X)
        ).item()
    assert hand_error == pytest.approx(-ae.score(X), rel=0.5)


def test_scale_benchmark_quick_run_cleans_up(tmp_path):
    """Check the out-of-core benchmark's figures on tiny sizes, and that its file is gone."""
    from benchmarks import scale

    results = scale.main(
        ["--quick", "--repeats", "1", "--dir", str(tmp_path), "--out", str(tmp_path / "s.json")]
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "s.json"]
    assert json.loads((tmp_path / "s.json").read_text())["whole"]["rows"] == 20_000
    assert results["whole"]["file_gib"] == pytest.approx(20_000 * 64 * 4 / 2**30, rel=1e-3)
    assert results["whole"]["fit_peak_anon_mib"] < 512
    # One chunk holds the whole subset: the streamed fit is the in-memory fit.
    assert results["fit"]["stream_vs_memory_mse"] == 1.0
    assert results["transform"]["dask_rows_per_s"] > 0


def test_export_benchmark_quick_run(tmp_path):
    """Check the saving and serving benchmark's rows on a one-epoch model."""
    from benchmarks import export

    results = export.main(["--repeats", "1", "--epochs", "1", "--out", str(tmp_path / "e.json")])
    assert set(results["persistence"]) == {"save/load (safetensors + JSON)", "pickle", "joblib"}
    sizes = [row["bytes"] for row in results["persistence"].values()]
    assert max(sizes) / min(sizes) < 1.05  # the same tensors, whatever the container
    assert set(results["serving"]) == {"1", "64", "1000"}


def test_search_validates_on_rows_of_the_training_split_only():
    """The search's validation rows come from the training split, never the test split."""
    from benchmarks import search

    X, ((fit, val),) = search.validation_split("digits")
    X_train, X_test, _, _ = _data.splits("digits")
    np.testing.assert_array_equal(X, X_train)
    assert len(fit) + len(val) == len(X_train) == 1437
    assert len(val) == 288 and not set(fit) & set(val)
    assert len(X_test) == 360  # held back: the search is never given these rows


def test_search_space_gives_valid_estimators():
    """Every sampled configuration is a valid AutoencoderTransformer."""
    from sklearn.model_selection import ParameterSampler

    from benchmarks import search

    for grid in (
        search.space(search.UNIT_OUTPUTS),
        search.space(search.ANY_OUTPUTS),
        *(make() for make in search.SPACES.values()),
    ):
        for params in ParameterSampler(grid, 30, random_state=0):
            estimator = search.make_estimator(params, 4, 0, (8, 8))
            estimator._validate_params()
            if estimator.network is not None:
                estimator.network._validate_params()
    # The default space holds plain autoencoders only.
    for params in ParameterSampler(search.default_space(), 30, random_state=0):
        assert params["dropout"] == 0.0 and params["noise"] is None
    for config in search.CONFIGS.values():
        search.make_estimator(config, 4, 0, (8, 8))._validate_params()


@pytest.mark.parametrize(
    "measured, call",
    [
        ("DEFAULTS", lambda: AutoencoderTransformer(4)),
        ("RECOMMENDED", lambda: AutoencoderTransformer(4, network=MLPNetwork(preset="quality"))),
        ("CONV", lambda: AutoencoderTransformer(4, network=ConvNetwork((8, 8)))),
    ],
)
def test_the_public_calls_train_the_configurations_that_were_measured(measured, call):
    """Check that each benchmark column's one-line call trains its measured configuration.

    The configurations of earlier runs (``benchmarks/history.py``) are
    flat dicts of the 0.2 vocabulary; today's public call must resolve to
    the same module and the same settings, and train the same bits.
    """
    X = (load_digits().data[:200] / 16).astype(np.float32)
    public = call().set_params(max_iter=2, random_state=0).fit(X)
    flat = history.build(getattr(history, measured), 4, 0, (8, 8), max_iter=2).fit(X)
    assert public.recipe_ == flat.recipe_
    assert str(public.net_.module_) == str(flat.net_.module_)
    assert_array_equal(public.transform(X), flat.transform(X))
    assert compare.METHOD_NAMES == tuple(compare.make_methods())
    assert set(compare.CALLS) == set(compare.METHOD_NAMES) - {"PCA", "KernelPCA"}


@pytest.mark.parametrize("method", ["PCA", *budget.LADDERS])
def test_budget_methods_fit_and_score(method):
    """Check each time-to-quality contender: one epoch, a fit time and a held-out error."""
    if method == "pyod AutoEncoder":
        pytest.importorskip("pyod", reason="pyod is in the benchmarks extra, not the test extra")
    X_train, X_test, _, _ = _data.splits("digits")
    seconds, mse = budget.fit_and_score(method, 1, 4, X_train[:200], X_test[:50])
    pca_s, pca_mse = budget.fit_and_score("PCA", None, 4, X_train[:200], X_test[:50])
    # one epoch: only a plausible error (pixels in [0, 1], not a perfect copy)
    assert seconds > 0 and 0 < mse < 1
    assert mse / pca_mse > 0.2


def test_update_replaces_only_the_methods_it_reran(tmp_path):
    """--update keeps the other methods' rows of the earlier run, in a full run's order."""
    from benchmarks.__main__ import _updated

    def row(dataset, k, seed, method, mse):
        return {"dataset": dataset, "k": k, "seed": seed, "method": method, "mse": mse}

    earlier = [
        row(d, k, s, m, 1.0)
        for d in ("digits", "mnist")
        for k in (2, 8)
        for s in (0, 1)
        for m in ("PCA", "AE default", "AE conv")
    ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"meta": {"command": "python -m benchmarks"}, "records": earlier}))
    rerun = [
        row(d, k, s, m, 2.0)
        for d in ("mnist", "digits")
        for k in (8, 2)
        for s in (1, 0)
        for m in ("AE conv", "PCA")
    ]
    merged, meta = _updated(rerun, {"command": "new"}, path, {"PCA": None, "AE conv": None})
    key = ["dataset", "k", "seed", "method"]
    assert [[r[c] for c in key] for r in merged] == [[r[c] for c in key] for r in earlier]
    assert [r["mse"] for r in merged] == [
        1.0 if r["method"] == "AE default" else 2.0 for r in earlier
    ]
    assert meta["command"] == "new" and meta["updated_from"]["command"] == "python -m benchmarks"
    with pytest.raises(SystemExit, match="--update needs an earlier run's"):
        _updated(rerun, {}, tmp_path / "missing.json", {"PCA": None})


def test_artefacts_round_trip_without_pickle(tiny_run, tmp_path):
    """The plots' inputs load back as compare.run keyed them, X_test cut to the ten shown."""
    _, artefacts = tiny_run
    path = tmp_path / "artefacts.npz"
    _report.save_artefacts(artefacts, path)
    loaded = _report.load_artefacts(path)
    assert set(loaded) == set(artefacts)
    for key, value in artefacts.items():
        if key[1] == "recon":
            np.testing.assert_array_equal(loaded[key], value)
        else:
            first, labels = value
            expected = first[:10] if key[1] == "test" else first
            np.testing.assert_array_equal(loaded[key][0], expected)
            np.testing.assert_array_equal(loaded[key][1], labels)


def test_update_merges_the_plot_inputs_of_the_methods_it_did_not_rerun(tmp_path):
    """A default run, then --update with the conv network: every method's rows and codes."""
    from benchmarks.__main__ import ARTEFACTS, main

    common = ["--quick", "--datasets", "digits", "--out", str(tmp_path)]
    main([*common, "--methods", "AE default"])
    first = _report.load_artefacts(tmp_path / ARTEFACTS)
    assert {key[2] for key in first if key[1] == "codes"} == {"PCA", "AE default"}
    main([*common, "--update", "--methods", "AE conv"])
    records = json.loads((tmp_path / "results.json").read_text())["records"]
    assert {r["method"] for r in records} == {"PCA", "AE default", "AE conv"}
    merged = _report.load_artefacts(tmp_path / ARTEFACTS)
    assert {key[2] for key in merged if key[1] == "codes"} == {"PCA", "AE default", "AE conv"}
    np.testing.assert_array_equal(
        merged[("digits", "codes", "AE default")][0], first[("digits", "codes", "AE default")][0]
    )
    assert merged[("digits", "recon", "AE conv", 8)].shape == (10, 64)


def test_update_without_saved_plot_inputs_leaves_the_plots(tmp_path, capsys):
    from benchmarks.__main__ import _updated_artefacts

    assert _updated_artefacts({}, tmp_path / "artefacts.npz", {"PCA": None}) is None
    assert "artefacts.npz is missing: the MNIST plots are left as they are" in (
        capsys.readouterr().err
    )


def test_the_main_job_leaves_the_conv_network_to_update():
    from benchmarks.__main__ import main

    assert "AE conv" not in compare.DEFAULT_METHODS
    assert set(compare.DEFAULT_METHODS) | {"AE conv"} == set(compare.METHOD_NAMES)
    with pytest.raises(SystemExit):
        main(["--methods", "AE nonsense"])


def test_the_pages_tables_agree_with_the_results():
    """Check that the README's and the user guide's tables are the committed results' figures."""
    from benchmarks import pages

    pages.main(["--check"])
    text = "before\n<!-- headline -->\n\nold\n\n<!-- /headline -->\nafter"
    assert pages.render(text, "headline", "md", "new") == text.replace("old", "new")
    with pytest.raises(ValueError, match="no 'headline' block between marker comments"):
        pages.render("no markers", "headline", "md", "new")
