"""Autoencoder vs PCA (and KernelPCA) on bundled data: the measurements.

Every method is fitted on the fixed training split and measured on the
held-out split: mean squared reconstruction error, per-image squared error,
accuracy of a logistic regression and of a 5-NN classifier trained on the
codes, fit time and transform throughput.
"""

import sys
import time
import warnings

import joblib
from sklearn.decomposition import PCA, KernelPCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from sk_autoencoder import AutoencoderTransformer, reconstruction_error
from sk_autoencoder._parallel import torch_threads
from sk_autoencoder.networks import ConvNetwork, MLPNetwork

from . import _data

SWEEPS = {
    "full": {
        "digits": (2, 4, 8, 16, 32),
        "mnist": (2, 4, 8, 16, 32, 64),
        "breast_cancer": (2, 4, 8),
        "gaussian": (2, 8, 16, 32),
    },
    "quick": {"digits": (2, 8), "mnist": (2, 32), "breast_cancer": (2, 8), "gaussian": (16,)},
}


# Rows of the image datasets as images, for the conv network.
IMAGE_SHAPES = {"mnist": (28, 28), "digits": (8, 8)}


METHOD_NAMES = ("PCA", "KernelPCA", "AE default", "AE recommended", "AE conv")

# The one public call behind each autoencoder column: what a user writes
# (``k`` the code size; the conv network for the image datasets only).
CALLS = {
    "AE default": "AutoencoderTransformer(k)",
    "AE recommended": 'AutoencoderTransformer(k, network=MLPNetwork(preset="quality"))',
    "AE conv": "AutoencoderTransformer(k, network=ConvNetwork(image_shape))",
}

# What ``python -m benchmarks`` runs unless told otherwise: the conv network's
# 33 fits (about 40 s each on MNIST) would more than double its time, so
# they are added to a run's results with ``--update --methods "AE conv"``.
DEFAULT_METHODS = tuple(name for name in METHOD_NAMES if name != "AE conv")


def make_methods(quick=False):
    """Return ``{name: factory(n_components, seed, dataset) -> estimator or None}``.

    Each autoencoder is the public call of :data:`CALLS` with nothing else
    set but the seed. A factory returns None for a dataset it does not
    apply to (the conv network on tables). ``quick`` caps the autoencoders
    at 20 epochs (the conv network at 3): a smoke run, not a result.
    """
    cap = {"max_iter": 20} if quick else {}
    return {
        "PCA": lambda k, seed, name: PCA(k, random_state=seed),
        "KernelPCA": lambda k, seed, name: KernelPCA(
            k, kernel="rbf", fit_inverse_transform=True, alpha=0.1, random_state=seed
        ),
        "AE default": lambda k, seed, name: AutoencoderTransformer(k, random_state=seed, **cap),
        "AE recommended": lambda k, seed, name: AutoencoderTransformer(
            k, network=MLPNetwork(preset="quality"), random_state=seed, **cap
        ),
        "AE conv": lambda k, seed, name: (
            AutoencoderTransformer(
                k,
                network=ConvNetwork(IMAGE_SHAPES[name]),
                random_state=seed,
                **({"max_iter": 3} if quick else {}),
            )
            if name in IMAGE_SHAPES
            else None
        ),
    }


def _throughput(estimator, X, min_seconds=0.2):
    """Rows per second of ``estimator.transform`` on X (repeated to min_seconds)."""
    rows, start = 0, time.perf_counter()
    while True:
        estimator.transform(X)
        rows += len(X)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return rows / elapsed


def _accuracy(classifier, Z_train, y_train, Z_test, y_test):
    return float(classifier.fit(Z_train, y_train).score(Z_test, y_test))


def measure(estimator, X_train, y_train, X_test, y_test):
    """Fit ``estimator`` on the training split and measure it on the test split.

    Returns
    -------
    record : dict
        ``mse``, ``sq_error_per_image``, ``logreg_acc``, ``knn_acc``,
        ``fit_s``, ``transform_rows_per_s``.
    codes : ndarray
        The test codes.
    reconstructions : ndarray
        The test reconstructions.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        Z_train = estimator.fit_transform(X_train)
        fit_s = time.perf_counter() - start
    Z_test = estimator.transform(X_test)
    X_hat = estimator.inverse_transform(Z_test)
    per_sample = reconstruction_error(estimator, X_test, per_sample=True)
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    record = {
        "mse": float(per_sample.mean()),
        "sq_error_per_image": float(per_sample.mean() * X_test.shape[1]),
        "logreg_acc": _accuracy(logreg, Z_train, y_train, Z_test, y_test),
        "knn_acc": _accuracy(KNeighborsClassifier(5), Z_train, y_train, Z_test, y_test),
        "fit_s": fit_s,
        "transform_rows_per_s": _throughput(estimator, X_test),
    }
    return record, Z_test, X_hat


def _job(estimator, X_train, X_test, y_train, y_test, threads):
    """One independent fit and its measurements (runs in a worker when parallel).

    The arrays come one by one, not in a tuple: joblib's dask backend then
    scatters each to the cluster once instead of embedding it in every task.
    ``threads`` pins torch's and the BLAS libraries' thread counts.
    """
    if threads is None:
        return measure(estimator, X_train, y_train, X_test, y_test)
    with torch_threads(threads), threadpool_limits(limits=threads):
        return measure(estimator, X_train, y_train, X_test, y_test)


def run(datasets, sweep, seeds, methods, progress=None, n_jobs=None, threads=None):
    """Run every (dataset, k, method, seed) and collect the figures.

    The fits are independent: they go through ``joblib.Parallel``, so that
    ``n_jobs`` and joblib's active backend (``parallel_config(backend="dask")``
    for a dask.distributed cluster) decide where they run. Every fit is seeded,
    so the error columns do not depend on where it ran.

    Parameters
    ----------
    datasets : list of str
    sweep : dict
        ``{dataset: tuple of n_components}``.
    seeds : list of int
    methods : dict
        From :func:`make_methods`.
    progress : bool or None
        Show a progress bar on stderr; None shows it only when stderr is a
        terminal, so that logs (CI) do not fill with its redraws. Without
        the bar, each finished fit prints one line to stderr.
    n_jobs : int or None
        joblib's ``n_jobs`` (None: one at a time, or the active backend's
        default inside ``parallel_config``).
    threads : int or None
        Pin every fit to this many threads (torch and BLAS); None leaves the
        process's settings. Float sums depend on the thread count, so a
        serial run and a cluster run pinned alike give identical figures.

    Returns
    -------
    records : list of dict
        One per run, with ``dataset``, ``method``, ``k``, ``seed`` and the
        figures of :func:`measure`.
    artefacts : dict
        For the plots, from the first seed: ``(dataset, "codes", method)`` ->
        (test codes at k=2, test labels), ``(dataset, "recon", method, k)`` ->
        test reconstructions, ``(dataset, "test")`` -> (X_test, y_test).
    """
    jobs = [
        (name, k, method, seed)
        for name in datasets
        for k in sweep[name]
        for seed in seeds
        for method in methods
        if methods[method](k, seed, name) is not None
    ]
    data, artefacts = {}, {}
    for name in datasets:
        data[name] = _data.splits(name)
        artefacts[(name, "test")] = (data[name][1], data[name][3])
    if progress is None:
        progress = sys.stderr.isatty()
    results = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(
        joblib.delayed(_job)(methods[method](k, seed, name), *data[name], threads)
        for name, k, method, seed in jobs
    )
    records = []
    bar = tqdm(zip(jobs, results, strict=True), total=len(jobs), disable=not progress, unit="fit")
    start = time.perf_counter()
    for i, ((name, k, method, seed), (record, Z_test, X_hat)) in enumerate(bar, 1):
        records.append({"dataset": name, "method": method, "k": k, "seed": seed, **record})
        bar.set_postfix(mse=f"{record['mse']:.4f}", fit=f"{record['fit_s']:.1f}s")
        if not progress:  # a log (CI, a file) gets one line per finished fit instead
            print(
                f"[{time.perf_counter() - start:6.0f} s] fit {i}/{len(jobs)}: {name} k={k} "
                f"{method} seed {seed}: mse {record['mse']:.5f}, fit {record['fit_s']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        if seed == seeds[0]:
            if k == 2:
                artefacts[(name, "codes", method)] = (Z_test, data[name][3])
            artefacts[(name, "recon", method, k)] = X_hat[:10]
    return records, artefacts
