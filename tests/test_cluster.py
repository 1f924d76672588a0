"""Searches and inference on a dask.distributed cluster (worker processes).

One 2-worker LocalCluster serves the whole module; each worker is a separate
process with one thread, as dask's nanny starts them.
"""

import warnings

import joblib
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, HalvingRandomSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import (
    AutoencoderNet,
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
)
from sk_autoencoder._parallel import torch_threads
from sk_autoencoder.networks import MLPNetwork

distributed = pytest.importorskip("distributed", reason="distributed is in the test extra")
da = pytest.importorskip("dask.array", reason="dask is in the test extra")

SMALL = dict(network=MLPNetwork((16,)), max_iter=4, random_state=0)
# float32 sums can round differently with another number of threads, so the
# searches pin one thread: the serial search then computes exactly what a
# worker does.
PINNED = dict(SMALL, n_threads=1)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(lambda: warnings.filterwarnings("ignore", message=".*stopped at max_iter"))
        yield client


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:600] / 16.0).astype(np.float32), y[:600]


def _searches():
    pipe = make_pipeline(
        StandardScaler(), AutoencoderTransformer(**PINNED), LogisticRegression(max_iter=300)
    )
    grid = {"autoencodertransformer__n_components": [2, 6]}
    space = {"n_components": [2, 3, 4, 6], "learning_rate_init": [1e-3, 3e-3]}
    return {
        "grid": (GridSearchCV(pipe, grid, cv=2), True),
        "random": (
            RandomizedSearchCV(
                AutoencoderTransformer(**PINNED), space, n_iter=3, cv=2, random_state=0
            ),
            False,
        ),
        "halving": (
            HalvingRandomSearchCV(
                VariationalAutoencoderTransformer(**PINNED),
                space,
                cv=2,
                factor=2,
                min_resources=150,
                random_state=0,
            ),
            False,
        ),
    }


@pytest.mark.parametrize("kind", ["grid", "random", "halving"])
def test_search_on_cluster_equals_serial_search(client, digits, kind):
    """Check cv_results_ under the dask backend against the serial search."""
    X, y = digits
    search, supervised = _searches()[kind]
    fit_args = (X, y) if supervised else (X,)
    serial = search.fit(*fit_args)
    serial_results = {k: v for k, v in serial.cv_results_.items() if "time" not in k}
    serial_best = serial.best_estimator_
    with joblib.parallel_config(backend="dask"):
        clustered = _searches()[kind][0].set_params(n_jobs=-1).fit(*fit_args)
    assert clustered.cv_results_.keys() == serial.cv_results_.keys()
    for key, value in serial_results.items():
        if key.startswith(("mean_test", "split", "rank", "std_test")):
            assert_array_equal(clustered.cv_results_[key], value, err_msg=key)
    assert clustered.best_params_ == serial.best_params_
    # The refit best estimator is on the client and predicts there.
    method = "predict" if supervised else "score_samples"
    assert_array_equal(getattr(clustered, method)(X), getattr(serial_best, method)(X))


def test_dask_array_inference_runs_on_the_workers(client, digits):
    """Check block-wise inference on the cluster against in-memory results."""
    X, _ = digits
    ae = AutoencoderTransformer(**SMALL).fit(X)
    det = AutoencoderOutlierDetector(**SMALL).fit(X)
    Xd = da.from_array(X, chunks=(50, 64))
    Z = ae.transform(Xd)
    results = client.compute(
        [Z, ae.inverse_transform(Z), ae.score_samples(Xd), det.predict(Xd)], sync=True
    )
    assert_allclose(results[0], ae.transform(X), rtol=1e-6, atol=1e-7)
    assert_allclose(results[1], ae.inverse_transform(ae.transform(X)), rtol=1e-6, atol=1e-6)
    assert_allclose(results[2], ae.score_samples(X), rtol=1e-6, atol=1e-9)
    assert_array_equal(results[3], det.predict(X))
    # Every block ran on a worker; both workers took part.
    processing = client.run(lambda dask_worker: len(dask_worker.data))
    assert len(processing) == 2


def test_model_is_sent_once_per_worker(client, digits):
    """Check that the model travels to each worker once, not with each block."""
    X, _ = digits
    ae = AutoencoderTransformer(**SMALL).fit(X)
    client.run(lambda dask_worker: dask_worker.transfer_incoming_log.clear())
    Z = ae.transform(da.from_array(X, chunks=(25, 64)))  # 24 blocks
    (model_key,) = [k for k in dict(Z.__dask_graph__()) if isinstance(k, str)]
    client.compute(Z, sync=True)

    def model_transfers(dask_worker, key=model_key):
        return sum(key in entry["keys"] for entry in dask_worker.transfer_incoming_log)

    transfers = client.run(model_transfers)
    # One worker computes the model task itself; the other fetches it once.
    assert sorted(transfers.values()) in ([0, 0], [0, 1])


def _threads_during_fit(n_threads, X):
    seen = []
    step = AutoencoderNet.train_step_single

    def recording_step(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return step(self, *args, **kwargs)

    AutoencoderNet.train_step_single = recording_step
    try:
        AutoencoderTransformer(n_threads=n_threads, **SMALL).fit(X)
    finally:
        AutoencoderNet.train_step_single = step
    return sorted(set(seen)), torch.get_num_threads()


def test_worker_threads_follow_the_worker_or_n_threads(client, digits):
    """Check torch threads on a worker: one by default, n_threads when set, restored after."""
    X, _ = digits
    default = client.submit(_threads_during_fit, None, X, pure=False).result()
    assert default == ([1], 1)
    assert client.submit(_threads_during_fit, 2, X, pure=False).result() == ([2], 1)


def test_n_threads_is_restored_in_process(digits):
    """Check that n_threads applies to the call and gives the caller's setting back."""
    X, _ = digits
    with torch_threads(1):
        seen, after = _threads_during_fit(2, X)
        assert seen == [2] and after == 1
        ae = AutoencoderTransformer(n_threads=2, **SMALL).fit(X)
        ae.transform(X)
        assert torch.get_num_threads() == 1


def test_benchmark_sweep_on_cluster_equals_serial(client):
    """Check that the main job's fits run on a cluster with the serial figures."""
    from benchmarks import compare
    from benchmarks.__main__ import _cluster

    methods = compare.make_methods(quick=True)
    methods = {name: methods[name] for name in ("PCA", "AE default")}
    sweep = {"digits": (2, 3)}
    serial, _ = compare.run(["digits"], sweep, [0], methods, progress=False, threads=1)
    with _cluster(client.scheduler.address, None) as n_jobs:
        assert n_jobs == -1
        clustered, artefacts = compare.run(
            ["digits"], sweep, [0], methods, progress=False, n_jobs=n_jobs, threads=1
        )
    assert [(r["method"], r["k"]) for r in clustered] == [(r["method"], r["k"]) for r in serial]
    # Pinned to one thread (torch and BLAS) on both sides: identical figures.
    for a, b in zip(serial, clustered, strict=True):
        for column in ("mse", "logreg_acc", "knn_acc"):
            assert a[column] == b[column], column
    assert artefacts[("digits", "codes", "AE default")][0].shape == (360, 2)
