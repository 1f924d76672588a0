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
from sk_autoencoder.networks import ConvNetwork

from . import _data

# The configuration the README recommends for reconstruction: the best
# configuration with batch norm of `python -m benchmarks.search robust
# --space default` (30 joint configurations scored by their worst validation
# ratio to PCA over MNIST k=32, digits k=32 and breast_cancer k=2), rounded
# and confirmed on three seeds at k=2..64. Batch norm together with a
# sigmoid output and BCE (what "auto" picks for data in [0, 1]) is what wins
# on MNIST; on standardised data "auto" is identity + MSE.
# AutoencoderTransformer's defaults in 0.1. The configurations below are
# written on top of them (each says what it changes), so that they keep
# meaning what was measured whatever the current defaults are.
DEFAULTS_0_1 = dict(
    hidden_layer_sizes=(512,),
    activation="relu",
    batch_norm=False,
    output_activation="identity",
    loss="mse",
    batch_size="auto",
    learning_rate="cosine",
    learning_rate_init=2.5e-3,
    alpha=1e-5,
    init="random",
    max_iter=200,
    early_stopping=False,
)

# AutoencoderTransformer's defaults now ("fast C" of `python -m
# benchmarks.search confirm`); tests/test_benchmarks.py checks they match.
DEFAULTS = dict(
    DEFAULTS_0_1,
    hidden_layer_sizes=(256,),
    activation="gelu",
    batch_norm=True,
    batch_size=64,
    learning_rate_init=7.5e-3,
    init="pca",
    max_iter=25,
    early_stopping=True,
)

# The recommendation for image-like data, when a fit may take longer than
# the defaults': the fastest configuration of `python -m benchmarks.search
# robust --space fast_recommended` (results/search/robust_fast_recommended.csv)
# within 0.42 x PCA on MNIST k=32 validation, its rate rounded. It replaces
# the earlier recommendation (PREVIOUS_RECOMMENDED), which trained 200
# epochs under an adaptive rate. A second round (`--space
# recommended_budget`, "recommended budget B" in search.CONFIGS) found a
# wider net that is better at MNIST k=32 but costs more and is worse at
# k=64 and on the tables; see doc/benchmarks.rst.
RECOMMENDED = dict(
    DEFAULTS_0_1,
    hidden_layer_sizes=(1024,),
    activation="gelu",
    batch_norm=True,
    output_activation="auto",
    loss="auto",
    batch_size=64,
    learning_rate="cosine",
    learning_rate_init=1.2e-3,
    alpha=0.0,
    max_iter=30,
)

PREVIOUS_RECOMMENDED = dict(
    DEFAULTS_0_1,
    hidden_layer_sizes=(1024,),
    activation="gelu",
    batch_norm=True,
    output_activation="auto",
    loss="auto",
    batch_size=128,
    learning_rate="adaptive",
    learning_rate_init=2e-3,
    alpha=1e-4,
)

# The defaults before issue 9. The speed, parallel and export benchmarks
# were measured on this net and keep using it, so that their figures in the
# README stay comparable with earlier runs.
PREVIOUS_DEFAULT = dict(
    DEFAULTS_0_1,
    hidden_layer_sizes=(256, 128),
    alpha=0.0,
    learning_rate_init=1e-3,
    learning_rate="constant",
)

# The conv autoencoder of the previous results: the best configuration
# within a one-minute fit of `python -m benchmarks.search robust --space
# conv_refined` (16 configurations drawn around the best of `--space conv`,
# scored on MNIST k=32 validation, two one-thread fits at a time), rounded.
CONV_REFINED = dict(
    DEFAULTS_0_1,
    network__channels=(16, 32),
    network__convs_per_stage=2,
    network__batch_norm=True,
    network__activation="leaky_relu",
    output_activation="auto",
    loss="auto",
    batch_size=32,
    learning_rate="cosine",
    learning_rate_init=7.5e-3,
    max_iter=16,
)

# The conv autoencoder, for images: "conv budget A" of `python -m
# benchmarks.search robust --space conv_budget` (18 configurations drawn
# around CONV_REFINED with wider channels, batches and epochs, scored on
# MNIST k=32 validation with a 60 s fit on both cores as a constraint), the
# best of three finalists confirmed on three seeds (confirm.csv).
CONV = dict(
    CONV_REFINED,
    network__channels=(24, 48),
    network__activation="relu",
    batch_size=64,
    learning_rate_init=8e-3,
    alpha=1e-5,
    max_iter=24,
)

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


# The MLP's own parameters, which a network spec replaces.
_MLP_PARAMETERS = ("hidden_layer_sizes", "activation", "dropout", "batch_norm")


def build(params, k, seed, image_shape=None, **kwargs):
    """``AutoencoderTransformer(k)`` with ``params`` on top of :data:`DEFAULTS_0_1`.

    ``network__*`` parameters set a :class:`ConvNetwork` for images of
    ``image_shape``, which then describes the whole architecture: the 0.1
    defaults' MLP parameters are left out beside it.
    """
    params = {**DEFAULTS_0_1, **params}
    network = {
        key[len("network__") :]: v for key, v in params.items() if key.startswith("network__")
    }
    rest = {key: v for key, v in params.items() if not key.startswith("network__")}
    if network:
        rest = {key: v for key, v in rest.items() if key not in _MLP_PARAMETERS}
        rest["network"] = ConvNetwork(image_shape, **network)
    return AutoencoderTransformer(k, random_state=seed, **rest, **kwargs)


def conv_estimator(k, seed, image_shape, **overrides):
    """The conv autoencoder of the benchmark (:data:`CONV`) for images of ``image_shape``."""
    return build({**CONV, **overrides}, k, seed, image_shape)


METHOD_NAMES = ("PCA", "KernelPCA", "AE default", "AE recommended", "AE conv")

# What ``python -m benchmarks`` runs unless told otherwise: the conv network's
# 33 fits (about 40 s each on MNIST) would more than double its time, so
# they are added to a run's results with ``--update --methods "AE conv"``.
DEFAULT_METHODS = tuple(name for name in METHOD_NAMES if name != "AE conv")


def make_methods(quick=False):
    """Return ``{name: factory(n_components, seed, dataset) -> estimator or None}``.

    A factory returns None for a dataset it does not apply to (the conv
    network on tables). ``quick`` caps the autoencoders at 20 epochs (the
    conv network at 3): a smoke run, not a result.
    """
    cap = {"max_iter": 20} if quick else {}
    return {
        "PCA": lambda k, seed, name: PCA(k, random_state=seed),
        "KernelPCA": lambda k, seed, name: KernelPCA(
            k, kernel="rbf", fit_inverse_transform=True, alpha=0.1, random_state=seed
        ),
        "AE default": lambda k, seed, name: AutoencoderTransformer(k, random_state=seed, **cap),
        "AE recommended": lambda k, seed, name: AutoencoderTransformer(
            k, random_state=seed, **{**RECOMMENDED, **cap}
        ),
        "AE conv": lambda k, seed, name: (
            conv_estimator(k, seed, IMAGE_SHAPES[name], **({"max_iter": 3} if quick else {}))
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
        terminal, so that logs (CI) do not fill with its redraws.
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
    for (name, k, method, seed), (record, Z_test, X_hat) in bar:
        records.append({"dataset": name, "method": method, "k": k, "seed": seed, **record})
        bar.set_postfix(mse=f"{record['mse']:.4f}", fit=f"{record['fit_s']:.1f}s")
        if seed == seeds[0]:
            if k == 2:
                artefacts[(name, "codes", method)] = (Z_test, data[name][3])
            artefacts[(name, "recon", method, k)] = X_hat[:10]
    return records, artefacts
