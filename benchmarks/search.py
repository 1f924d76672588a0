"""``python -m benchmarks.search``: tune the autoencoder without touching the test split.

Three steps, all scored on a validation split carved from the benchmark's
training split (stratified 80/20, ``random_state=1``); the test split that
``python -m benchmarks`` reports on is never read here. Every score is the
validation mean squared error divided by PCA's at the same k, fitted on the
same rows (lower is better; 1.0 is PCA).

``search``
    A joint random search with successive halving (scikit-learn's
    ``HalvingRandomSearchCV``), the number of epochs (``max_iter``) being
    the resource: many configurations are sampled from :func:`space` and
    trained briefly, the best third go on for three times as many epochs,
    and so on. Writes every candidate's score to
    ``results/search/<dataset>_k<k>.csv`` and prints the last round.

``robust``
    A plain random search (``ParameterSampler``) in which each
    configuration is trained on several (dataset, k) cases and scored by
    its worst ratio: the way to find one configuration that never loses to
    PCA. Writes ``results/search/robust.csv``; ``--space default`` draws
    only plain, cheap autoencoders (:func:`default_space`) and writes
    ``robust_default.csv``, and ``--name`` names the file instead.

``confirm``
    Named configurations (the finalists of ``search``, the default and the
    recommendation, see :data:`CONFIGS`) fitted with several seeds on every
    dataset and k given; writes ``results/search/confirm.csv`` and prints
    mean and spread of the ratios with the mean fit time.

Candidates are fitted two at a time with one torch thread each, so the
fit times here are one-thread times; ``python -m benchmarks`` measures the
real ones.
"""

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from scipy.stats import loguniform
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingRandomSearchCV, ParameterSampler, train_test_split

from sk_autoencoder import AutoencoderTransformer

from . import _data, compare

OUT = Path("benchmarks/results/search")

# The winner of the MNIST k=32 search, rounded: the recommendation of the
# previous benchmark run.
MNIST_FINALIST = dict(
    hidden_layer_sizes=(512,),
    batch_norm=True,
    output_activation="auto",
    loss="auto",
    batch_size=64,
    learning_rate="adaptive",
    learning_rate_init=8e-4,
    alpha=1e-5,
    max_iter=135,
)
DIGITS_FINALIST = dict(
    hidden_layer_sizes=(1024,),
    activation="gelu",
    output_activation="identity",
    loss="mse",
    batch_size=32,
    learning_rate="cosine",
    learning_rate_init=9e-4,
    alpha=1e-5,
    max_iter=135,
)
# Configurations for ``confirm``: what the package ships and recommends (the
# two best of ``robust --space default``, robust_default.csv, rounded), what
# it shipped and recommended before, and the finalists of ``search`` (copied
# from its printout, rounded) with variants that test what made them win.
CONFIGS = {
    "default": {},
    "recommended": compare.RECOMMENDED,
    "previous default": compare.PREVIOUS_DEFAULT,
    "recommended before issue 9": dict(
        output_activation="identity",
        loss="mse",
        hidden_layer_sizes=(1024,),
        batch_size=32,
        alpha=1e-6,
        max_iter=50,
    ),
    "mnist finalist": MNIST_FINALIST,
    "mnist finalist, no batch norm": {**MNIST_FINALIST, "batch_norm": False},
    "mnist finalist, batch 32": {**MNIST_FINALIST, "batch_size": 32},
    "digits finalist": DIGITS_FINALIST,
    "digits finalist, auto output": {
        **DIGITS_FINALIST,
        "output_activation": "auto",
        "loss": "auto",
    },
    "breast_cancer finalist": dict(
        hidden_layer_sizes=(2048,),
        activation="leaky_relu",
        dropout=0.1,
        batch_size=64,
        learning_rate="adaptive",
        learning_rate_init=4e-4,
        alpha=1e-4,
        max_iter=135,
    ),
}


UNIT_OUTPUTS = [("identity", "mse"), ("sigmoid", "mse"), ("sigmoid", "bce")]
# For ``robust``, whose cases mix data in [0, 1] and standardised data.
ANY_OUTPUTS = [("identity", "mse"), ("auto", "auto")]
# For ``robust --space default``: "auto" output with either loss, since a
# sigmoid + MSE (the scored loss) is as good as BCE on MNIST in ``search``.
DEFAULT_OUTPUTS = [("identity", "mse"), ("auto", "auto"), ("auto", "mse")]


def space(outputs):
    """The search space: a list of dicts, one per (output, loss) pairing.

    ``HalvingRandomSearchCV`` and ``ParameterSampler`` draw a dict
    uniformly, then each parameter from it, so the pairings are sampled
    equally often.
    """
    shared = {
        "hidden_layer_sizes": [(256, 128), (512,), (1024,), (2048,), (1024, 512), (512, 256, 128)],
        "activation": ["relu", "gelu", "leaky_relu"],
        "batch_norm": [False, True],
        "dropout": [0.0, 0.0, 0.1],
        "noise": [None, None, "gaussian", "masking"],
        "noise_level": [0.05, 0.1, 0.2],
        "alpha": [0.0, 1e-6, 1e-5, 1e-4],
        "batch_size": [32, 64, 128, 256],
        "learning_rate_init": loguniform(3e-4, 3e-3),
        "learning_rate": ["constant", "cosine", "adaptive"],
    }
    return [{**shared, "output_activation": [o], "loss": [loss]} for o, loss in outputs]


def default_space():
    """The space for a *default*: plain autoencoders that are cheap to fit.

    No dropout and no denoising noise (variants a user asks for by name),
    and no architecture slower than ``(1024,)``; everything else is drawn
    jointly as in :func:`space`.
    """
    return [
        {
            **params,
            "hidden_layer_sizes": [(256, 128), (512,), (1024,), (512, 256)],
            "dropout": [0.0],
            "noise": [None],
        }
        for params in space(DEFAULT_OUTPUTS)
    ]


def validation_split(name):
    """``(X_train, cv)``: the training split of ``name`` and its one split.

    ``cv`` holds one (fit rows, validation rows) pair of indices into
    ``X_train``, stratified 80/20, usable as a ``cv`` argument.
    """
    X_train, _, y_train, _ = _data.splits(name)
    fit, val = train_test_split(
        np.arange(len(X_train)), test_size=0.2, random_state=1, stratify=y_train
    )
    return X_train, [(fit, val)]


def pca_error(X, cv, k):
    ((fit, val),) = cv
    pca = PCA(k, random_state=0).fit(X[fit])
    return float(((pca.inverse_transform(pca.transform(X[val])) - X[val]) ** 2).mean())


def search(name, k, n_candidates, min_epochs, max_epochs, seed, n_jobs):
    X, cv = validation_split(name)
    reference = pca_error(X, cv, k)
    estimator = AutoencoderTransformer(k, n_threads=1, random_state=seed)
    halving = HalvingRandomSearchCV(
        estimator,
        # A sigmoid output only for data in [0, 1].
        space(UNIT_OUTPUTS if X.min() >= 0 and X.max() <= 1 else [("identity", "mse")]),
        n_candidates=n_candidates,
        factor=3,
        resource="max_iter",
        min_resources=min_epochs,
        max_resources=max_epochs,
        cv=cv,
        refit=False,
        random_state=seed,
        n_jobs=n_jobs,
        error_score=np.nan,
    )
    halving.fit(X)
    results = pd.DataFrame(halving.cv_results_)
    table = pd.DataFrame(
        {
            "round": results["iter"],
            "epochs": results["n_resources"],
            "ratio_to_pca": -results["mean_test_score"] / reference,
            "fit_s": results["mean_fit_time"],
            "params": results["params"].map(_json),
        }
    )
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}_k{k}.csv"
    table.sort_values(["round", "ratio_to_pca"]).to_csv(path, index=False, float_format="%.5g")
    last = table[table["round"] == table["round"].max()].sort_values("ratio_to_pca")
    print(f"PCA validation MSE {reference:.5f}; {len(table)} fits; all in {path}")
    print(last.to_markdown(index=False, floatfmt=".4g"))


def robust(cases, n_candidates, epochs, seed, n_jobs, for_default=False, stem=None):
    """Random search for one configuration that does well on every case.

    Each sampled configuration is trained for ``epochs`` on every
    ``(dataset, k)`` case and scored by its *worst* ratio to PCA, so that
    the winner does not lose to PCA on any of them. ``for_default`` draws
    from :func:`default_space` and writes ``robust_default.csv``; ``stem``
    names the output file instead.
    """
    grid = default_space() if for_default else space(ANY_OUTPUTS)
    candidates = list(ParameterSampler(grid, n_candidates, random_state=seed))
    data, reference = {}, {}
    for name, k in cases:
        if name not in data:  # one load per dataset, however many ks
            data[name] = validation_split(name)
        reference[name, k] = pca_error(*data[name], k)
    jobs = [(i, name, k) for i in range(len(candidates)) for name, k in cases]
    results = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_fit_and_score)({**candidates[i], "max_iter": epochs}, *data[name], k, seed)
        for i, name, k in jobs
    )
    rows = {}
    for (i, name, k), (error, fit_s, _) in zip(jobs, results, strict=True):
        row = rows.setdefault(i, {"fit_s": 0.0, "params": _json(candidates[i])})
        row[f"{name} k={k}"] = error / reference[name, k]
        row["fit_s"] += fit_s
    table = pd.DataFrame(list(rows.values()))
    ratios = [f"{name} k={k}" for name, k in cases]
    table.insert(0, "worst", table[ratios].max(axis=1))
    table = table[["worst", *ratios, "fit_s", "params"]].sort_values("worst")
    OUT.mkdir(parents=True, exist_ok=True)
    stem = stem or ("robust_default" if for_default else "robust")
    path = OUT / f"{stem}.csv"
    table.to_csv(path, index=False, float_format="%.5g")
    print(table.head(10).to_markdown(index=False, floatfmt=".3f"))
    print(f"{len(candidates)} configurations x {len(cases)} cases; all in {path}")


def _json(params):
    plain = {}
    for key, value in sorted(params.items()):
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, np.generic):
            value = value.item()
        plain[key] = value
    return json.dumps(plain)


def _fit_and_score(params, X, cv, k, seed):
    """Fit on the fit rows: ``(validation MSE, fit seconds, epochs)``."""
    ((fit, val),) = cv
    estimator = AutoencoderTransformer(k, n_threads=1, random_state=seed, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X[fit])
        fit_s = time.perf_counter() - start
    return -estimator.score(X[val]), fit_s, estimator.n_iter_


def confirm(configs, datasets, ks, seeds, n_jobs):
    jobs, reference = [], {}
    for name in datasets:
        X, cv = validation_split(name)
        for k in ks:
            if k >= X.shape[1]:
                continue
            reference[name, k] = pca_error(X, cv, k)
            jobs += [(c, name, X, cv, k, s) for c in configs for s in seeds]
    results = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_fit_and_score)(CONFIGS[config], X, cv, k, seed)
        for config, _, X, cv, k, seed in jobs
    )
    rows = [
        {
            "config": config,
            "dataset": name,
            "k": k,
            "seed": seed,
            "ratio_to_pca": error / reference[name, k],
            "fit_s": fit_s,
            "epochs": n_iter,
        }
        for (config, name, _, _, k, seed), (error, fit_s, n_iter) in zip(jobs, results, strict=True)
    ]
    table = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "confirm.csv"
    if path.exists():  # keep the rows of other configurations and datasets
        old = pd.read_csv(path)
        keys = ["config", "dataset", "k", "seed"]
        old = old.merge(table[keys], on=keys, how="left", indicator=True)
        old = old[old["_merge"] == "left_only"].drop(columns="_merge")
        table = pd.concat([old, table], ignore_index=True)
    table.to_csv(path, index=False, float_format="%.5g")
    summary = (
        table[table["config"].isin(configs) & table["dataset"].isin(datasets)]
        .groupby(["dataset", "k", "config"], sort=False)
        .agg(
            ratio=("ratio_to_pca", "mean"),
            sd=("ratio_to_pca", "std"),
            fit_s=("fit_s", "mean"),
            epochs=("epochs", "mean"),
        )
        .reset_index()
    )
    print(summary.to_markdown(index=False, floatfmt=".3f"))
    print(f"all runs in {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__)
    steps = parser.add_subparsers(dest="step", required=True)
    s = steps.add_parser("search", help="successive-halving random search on one dataset and k")
    s.add_argument("--dataset", choices=_data.NAMES, default="mnist")
    s.add_argument("--k", type=int, default=32)
    s.add_argument("--candidates", type=int, default=54)
    s.add_argument("--min-epochs", type=int, default=5)
    s.add_argument("--max-epochs", type=int, default=135)
    s.add_argument("--seed", type=int, default=0)
    c = steps.add_parser("confirm", help="named configurations on several seeds")
    c.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    c.add_argument("--datasets", nargs="+", choices=_data.NAMES, default=list(_data.NAMES))
    c.add_argument("--k", nargs="+", type=int, default=[8, 32])
    c.add_argument("--seeds", type=int, default=3)
    r = steps.add_parser("robust", help="random search scored by the worst of several cases")
    r.add_argument(
        "--cases",
        nargs="+",
        default=["digits:8", "digits:32", "breast_cancer:2", "breast_cancer:8"],
        help="dataset:k pairs",
    )
    r.add_argument("--candidates", type=int, default=40)
    r.add_argument("--epochs", type=int, default=135)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument(
        "--space",
        choices=["all", "default"],
        default="all",
        help="'default': only cheap, plain autoencoders (no dropout or noise)",
    )
    r.add_argument("--name", help="output file stem (default: robust or robust_default)")
    for p in (s, c, r):
        p.add_argument("--jobs", type=int, default=2, help="fits at a time (one thread each)")
    args = parser.parse_args(argv)
    # Workers started by joblib inherit this: no ConvergenceWarning (a
    # UserWarning; -W cannot name sklearn's class) from every candidate
    # that a short budget stops at max_iter.
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning")
    start = time.perf_counter()
    if args.step == "search":
        search(
            args.dataset,
            args.k,
            args.candidates,
            args.min_epochs,
            args.max_epochs,
            args.seed,
            args.jobs,
        )
    elif args.step == "robust":
        cases = [(case.split(":")[0], int(case.split(":")[1])) for case in args.cases]
        robust(cases, args.candidates, args.epochs, args.seed, args.jobs, args.space == "default")
    else:
        confirm(args.configs, args.datasets, args.k, list(range(args.seeds)), args.jobs)
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
