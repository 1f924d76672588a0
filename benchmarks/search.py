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

from . import _data, compare, history
from .history import CONFIGS

OUT = Path("benchmarks/results/search")

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


def conv_space():
    """The space of :class:`ConvNetwork` autoencoders for ``robust --space conv``.

    Architecture (channels, convolutions per stage, batch norm, activation)
    and training (epochs, batch size, rate, schedule, weight decay) are
    drawn together. The sigmoid output with BCE (``"auto"`` on pixels) is
    fixed: the three best configurations of the first conv search
    (``mnist_k32_conv.csv``) all had it.
    """
    return {
        "network__channels": [(16, 32), (24, 48), (32, 64), (16, 64), (32, 32)],
        "network__convs_per_stage": [1, 2],
        "network__batch_norm": [True, True, False],
        "network__activation": ["relu", "leaky_relu"],
        "output_activation": ["auto"],
        "loss": ["auto"],
        "alpha": [0.0, 1e-5],
        "batch_size": [32, 64],
        "learning_rate_init": loguniform(1e-3, 5e-3),
        "learning_rate": ["cosine", "onecycle"],
        "max_iter": [8, 12, 16, 20],
    }


def conv_halving_space(outputs):
    """The first, wider conv space (``search --network conv``)."""
    shared = {
        "network__channels": [(16, 32), (32, 32), (32, 64), (16, 32, 64), (32, 64, 64)],
        "network__kernel_size": [3, 3, 5],
        "network__activation": ["relu", "gelu", "leaky_relu"],
        "network__batch_norm": [False, True],
        "network__hidden_layer_sizes": [(), (), (256,), (512,)],
        "alpha": [0.0, 1e-5, 1e-4],
        "batch_size": [32, 64, 128],
        "learning_rate_init": loguniform(5e-4, 5e-3),
        "learning_rate": ["cosine", "adaptive"],
    }
    return [{**shared, "output_activation": [o], "loss": [loss]} for o, loss in outputs]


IMAGE_SHAPES = compare.IMAGE_SHAPES


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


def search(name, k, n_candidates, min_epochs, max_epochs, seed, n_jobs, network="mlp"):
    X, cv = validation_split(name)
    reference = pca_error(X, cv, k)
    # A sigmoid output only for data in [0, 1].
    unit = X.min() >= 0 and X.max() <= 1
    if network == "conv":
        estimator = history.build({"network__channels": (32, 64)}, k, seed, IMAGE_SHAPES[name])
        grid = conv_halving_space(ANY_OUTPUTS if unit else [("identity", "mse")])
    else:
        estimator = history.build({}, k, seed)
        # The architecture is the network's since 0.3.
        grid = [
            {_network_key(key): values for key, values in params.items()}
            for params in space(UNIT_OUTPUTS if unit else [("identity", "mse")])
        ]
    estimator.set_params(n_threads=1)
    halving = HalvingRandomSearchCV(
        estimator,
        grid,
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
    path = OUT / f"{name}_k{k}{'_conv' if network == 'conv' else ''}.csv"
    table.sort_values(["round", "ratio_to_pca"]).to_csv(path, index=False, float_format="%.5g")
    last = table[table["round"] == table["round"].max()].sort_values("ratio_to_pca")
    print(f"PCA validation MSE {reference:.5f}; {len(table)} fits; all in {path}")
    print(last.to_markdown(index=False, floatfmt=".4g"))


def _network_key(key):
    return f"network__{key}" if key in history.MLP_PARAMETERS else key


def conv_refined_space():
    """A second conv round (``--space conv_refined``), narrowed around the first's best.

    In ``robust_conv.csv`` every configuration under 0.35 had two
    convolutions per stage and batch norm, and the best within the time
    budget had batch 32 and a cosine schedule from about 5e-3 over 16
    epochs; this round draws nearby channels, depth, rate and length.
    """
    return {
        "network__channels": [(16, 32), (24, 48), (16, 48), (20, 40)],
        "network__convs_per_stage": [2, 3],
        "network__batch_norm": [True],
        "network__activation": ["relu", "leaky_relu"],
        "output_activation": ["auto"],
        "loss": ["auto"],
        "alpha": [0.0, 1e-5],
        "batch_size": [32],
        "learning_rate_init": loguniform(3e-3, 8e-3),
        "learning_rate": ["cosine"],
        "max_iter": [14, 16, 20, 24],
    }


def conv_budget_space():
    """A third conv round (``--space conv_budget``) for a one-minute fit on every core.

    The first two rounds ran two fits at a time on one thread each, so
    their budget held only configurations that fit in about 45 s on two
    cores. Run with ``--jobs 1`` (all cores per fit), this round draws
    longer schedules, larger batches (more rows per second) and wider
    layers jointly around the best of ``robust_conv_refined.csv``.
    """
    return {
        **conv_refined_space(),
        "network__channels": [(16, 32), (16, 48), (20, 40), (24, 48)],
        "batch_size": [32, 64, 128],
        "learning_rate_init": loguniform(3e-3, 1.2e-2),
        "max_iter": [16, 20, 24, 28, 32, 40],
    }


def fast_space():
    """The space for fast defaults (``--space fast``): training length joins the search.

    Everything that decides how many epochs (and FLOPs) reach a given
    quality is drawn jointly: the number of epochs and the schedule over
    them (cosine, or one-cycle with a warm-up), the peak rate, the batch
    size, the width, a PCA starting point, weight decay, and early
    stopping with the best weights. Plain autoencoders only (no dropout or
    noise), as for ``--space default``.
    """
    return [
        {
            "hidden_layer_sizes": [(256,), (512,), (1024,)],
            "activation": ["relu", "gelu"],
            "batch_norm": [False, True],
            # In the first round (robust_fast_gated.csv) no random start met
            # the gaussian ceiling, and alpha=1e-3 held every PCA start at PCA.
            "init": ["random", "pca", "pca"],
            "max_iter": [10, 15, 20, 30, 40],
            "learning_rate": ["cosine", "onecycle"],
            "learning_rate_init": loguniform(1e-3, 1e-2),
            "batch_size": [64, 128, 256, 512],
            "alpha": [0.0, 1e-5, 1e-4],
            "early_stopping": [False, True],
            "output_activation": [output],
            "loss": [loss],
        }
        for output, loss in ANY_OUTPUTS
    ]


def fast_recommended_space():
    """A faster recommendation (``--space fast_recommended``): the recommendation's family.

    Batch norm with the ``"auto"`` output (a sigmoid and BCE on pixels),
    which won every MNIST search, trained for a drawn number of epochs
    under a cosine or one-cycle schedule instead of an adaptive rate with
    early stopping; width, rate, batch size and weight decay drawn jointly.
    """
    return {
        "hidden_layer_sizes": [(512,), (1024,), (2048,)],
        "activation": ["relu", "gelu"],
        "batch_norm": [True],
        "output_activation": ["auto"],
        "loss": ["auto"],
        "max_iter": [15, 20, 30, 40, 60],
        "learning_rate": ["cosine", "onecycle"],
        "learning_rate_init": loguniform(1e-3, 1e-2),
        "batch_size": [64, 128, 256],
        "alpha": [0.0, 1e-5, 1e-4, 1e-3],
    }


def recommended_budget_space():
    """A second recommendation round (``--space recommended_budget``) on every core.

    ``robust_fast_recommended.csv`` timed two fits at a time on one thread
    each; its best MNIST k=32 candidates (0.38-0.41 on validation) were
    wider (2048) or longer (40-60 epochs) than the recommendation and fell
    outside a budget of half the previous recommendation's fit. Run with
    ``--jobs 1`` and a budget, this round draws width, length, batch size,
    rate and weight decay jointly around the recommendation.
    """
    return {
        **fast_recommended_space(),
        "hidden_layer_sizes": [(1024,), (1536,), (2048,)],
        "max_iter": [24, 30, 36],
        "learning_rate_init": loguniform(8e-4, 6e-3),
        "batch_size": [64, 96, 128],
        "alpha": [0.0, 1e-5, 1e-4],
    }


def fast_refined_space():
    """A second fast round (``--space fast_refined``) around the first's feasible best.

    In ``robust_fast.csv`` only PCA starts with early stopping stayed at
    PCA on the gaussian table (the others overfit it by 2-27 %), and the
    best of them on MNIST had batch norm and GELU; weight decay of 1e-4
    held several at PCA. This round keeps those and draws width, length,
    schedule, rate and batch size around them.
    """
    return {
        "hidden_layer_sizes": [(256,), (512,), (1024,)],
        "activation": ["gelu", "relu"],
        "batch_norm": [True, True, False],
        "init": ["pca"],
        "early_stopping": [True],
        "max_iter": [10, 15, 20, 25],
        "learning_rate": ["cosine", "onecycle"],
        "learning_rate_init": loguniform(1e-3, 8e-3),
        "batch_size": [64, 128, 256],
        "alpha": [0.0, 1e-5],
        "output_activation": ["identity"],
        "loss": ["mse"],
    }


SPACES = {
    "all": lambda: space(ANY_OUTPUTS),
    "fast": fast_space,
    "fast_refined": fast_refined_space,
    "fast_recommended": fast_recommended_space,
    "recommended_budget": recommended_budget_space,
    "default": default_space,
    "conv": conv_space,
    "conv_refined": conv_refined_space,
    "conv_budget": conv_budget_space,
}


def robust(
    cases,
    n_candidates,
    epochs,
    seed,
    n_jobs,
    space_name="all",
    stem=None,
    budget=None,
    ceilings=(),
):
    """Random search for one configuration that does well on every case.

    Each sampled configuration is trained on every ``(dataset, k)`` case
    (for ``epochs``, unless the space draws ``max_iter`` itself) and scored
    by its *worst* ratio to PCA, so that the winner does not lose to PCA on
    any of them. ``space_name`` picks the space (:data:`SPACES`); the file
    is ``results/search/<stem>.csv`` (default ``robust``, or
    ``robust_<space>``). ``budget = (case, seconds)`` ranks the
    configurations whose fit of that case took at most ``seconds`` first:
    the fit time is part of the score. ``ceilings`` are cases that only
    have to stay at or below a ratio (e.g. ``(("gaussian", 16), 1.0)``:
    never worse than PCA where PCA is optimal); they are constraints, left
    out of the worst ratio, which they would otherwise decide for every
    configuration.
    """
    grid = SPACES[space_name]()
    candidates = list(ParameterSampler(grid, n_candidates, random_state=seed))
    data, reference = {}, {}
    for name, k in cases:
        if name not in data:  # one load per dataset, however many ks
            data[name] = validation_split(name)
        reference[name, k] = pca_error(*data[name], k)
    jobs = [(i, name, k) for i in range(len(candidates)) for name, k in cases]
    threads = _threads_per_fit(n_jobs)
    results = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_fit_and_score)(
            {"max_iter": epochs, **candidates[i]},
            *data[name],
            k,
            seed,
            IMAGE_SHAPES.get(name),
            threads,
        )
        for i, name, k in jobs
    )
    rows = {}
    for (i, name, k), (error, fit_s, _) in zip(jobs, results, strict=True):
        row = rows.setdefault(i, {"fit_s": 0.0, "params": _json(candidates[i])})
        row[f"{name} k={k}"] = error / reference[name, k]
        row[f"{name} k={k} s"] = fit_s
        row["fit_s"] += fit_s
    table = pd.DataFrame(list(rows.values()))
    capped = {f"{name} k={k}": limit for (name, k), limit in ceilings}
    ratios = [f"{name} k={k}" for name, k in cases if f"{name} k={k}" not in capped]
    table.insert(0, "worst", table[ratios].max(axis=1))
    order = ["worst"]
    feasible = pd.Series(True, index=table.index)
    for column, limit in capped.items():
        feasible &= table[column] <= limit
    if budget is not None:
        (name, k), seconds = budget
        feasible &= table[f"{name} k={k} s"] <= seconds
    if budget is not None or capped:
        table.insert(0, "within_budget", feasible)
        order = ["within_budget", "worst"]
    columns = [c for c in table.columns if c not in ("fit_s", "params")]
    table = table[[*columns, "fit_s", "params"]].sort_values(
        order, ascending=[False, True][-len(order) :]
    )
    OUT.mkdir(parents=True, exist_ok=True)
    stem = stem or ("robust" if space_name == "all" else f"robust_{space_name}")
    path = OUT / f"{stem}.csv"
    table.to_csv(path, index=False, float_format="%.5g")
    print(table.head(10).drop(columns="params").to_markdown(index=False, floatfmt=".3f"))
    print(table.head(5)["params"].to_string())
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


def make_estimator(params, k, seed, image_shape=None, n_threads=1):
    """``AutoencoderTransformer(k)`` with ``params`` on top of the 0.1 defaults.

    Every search and configuration here was written, and run, on top of
    the defaults of 0.1 (``history.DEFAULTS_0_1``), so they keep their
    meaning when the defaults change (:func:`history.build`). ``network__*``
    parameters set a ConvNetwork.
    """
    return history.build(params, k, seed, image_shape, n_threads=n_threads)


def _fit_and_score(params, X, cv, k, seed, image_shape=None, n_threads=1):
    """Fit on the fit rows: ``(validation MSE, fit seconds, epochs)``."""
    ((fit, val),) = cv
    estimator = make_estimator(params, k, seed, image_shape, n_threads=n_threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X[fit])
        fit_s = time.perf_counter() - start
    return -estimator.score(X[val]), fit_s, estimator.n_iter_


def _threads_per_fit(n_jobs):
    """The machine's cores shared among ``n_jobs`` fits at a time.

    With ``--jobs 1`` a fit runs on every core, as a user's fit does, so
    that its time is what a budget means.
    """
    return max(1, (os.cpu_count() or 1) // n_jobs)


def confirm(configs, datasets, ks, seeds, n_jobs):
    jobs, reference = [], {}
    for name in datasets:
        X, cv = validation_split(name)
        for k in ks:
            if k >= X.shape[1]:
                continue
            reference[name, k] = pca_error(X, cv, k)
            jobs += [(c, name, X, cv, k, s) for c in configs for s in seeds]
    threads = _threads_per_fit(n_jobs)
    results = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_fit_and_score)(
            CONFIGS[config], X, cv, k, seed, IMAGE_SHAPES.get(name), threads
        )
        for config, name, X, cv, k, seed in jobs
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
    s.add_argument(
        "--network",
        choices=["mlp", "conv"],
        default="mlp",
        help="'conv': search ConvNetwork autoencoders (images only)",
    )
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
        choices=list(SPACES),
        default="all",
        help="'default': only cheap, plain autoencoders (no dropout or noise); "
        "'conv': ConvNetwork autoencoders (image cases only)",
    )
    r.add_argument("--name", help="output file stem (default: robust or robust_<space>)")
    r.add_argument(
        "--budget",
        metavar="DATASET:K:SECONDS",
        help="rank first the configurations whose fit of this case took at most SECONDS",
    )
    r.add_argument(
        "--ceiling",
        metavar="DATASET:K:RATIO",
        nargs="+",
        default=[],
        help="cases that only have to stay at or below RATIO (constraints, not scores)",
    )
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
            args.network,
        )
    elif args.step == "robust":
        cases = [(case.split(":")[0], int(case.split(":")[1])) for case in args.cases]
        budget = None
        if args.budget:
            name, k, seconds = args.budget.split(":")
            budget = ((name, int(k)), float(seconds))
        ceilings = []
        for ceiling in args.ceiling:
            name, k, limit = ceiling.split(":")
            ceilings.append(((name, int(k)), float(limit)))
            if (name, int(k)) not in cases:
                cases.append((name, int(k)))
        robust(
            cases,
            args.candidates,
            args.epochs,
            args.seed,
            args.jobs,
            args.space,
            args.name,
            budget,
            ceilings,
        )
    else:
        confirm(args.configs, args.datasets, args.k, list(range(args.seeds)), args.jobs)
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
