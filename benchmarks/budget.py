"""``python -m benchmarks.budget``: held-out error against fit seconds.

Time to quality on MNIST-5k (k=32) and digits (k=8), on the benchmark's
fixed split: every neural method is fitted with a ladder of epoch budgets
(its schedule planned over each budget), and each fit gives one point,
(fit seconds, held-out MSE / PCA's). The methods:

* ``PCA`` (one point);
* ``AE default``: ``AutoencoderTransformer(k)`` with its defaults, the
  ladder scaling ``max_iter``;
* ``AE recommended``: ``AutoencoderTransformer(k, network=MLPNetwork(preset="quality"))``;
* ``AE previous recommendation``: the recommendation it replaced
  (``history.PREVIOUS_RECOMMENDED``: 200 epochs under an adaptive rate),
  for the side-by-side ratio of fit times;
* ``AE previous default``: the defaults before this benchmark existed
  (one hidden layer of 512, cosine from 2.5e-3, ``alpha=1e-5``, 200 epochs),
  for the side-by-side ratio of fit times;
* ``MLPRegressor``: scikit-learn's MLP fitted as an autoencoder
  (``fit(X, X)``, hidden layers ``(512, k, 512)``, Adam, ``max_iter`` epochs);
* ``pyod AutoEncoder``: pyod's torch autoencoder with ``hidden_neuron_list
  =[512, k]`` and its other defaults (batch norm, dropout 0.2, batch 32,
  Adam at 1e-3), ``epoch_num`` epochs, ``preprocessing=False`` so that its
  reconstructions are in the data's own scale; its ``decision_function``
  is each row's Euclidean reconstruction error, squared and divided by the
  number of features here.

Writes ``budget.csv`` / ``budget.md`` and ``budget.png`` (one panel per
dataset, a curve per method) to ``--out``. ``--quick`` runs two rungs
per method on digits only: a smoke run.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from sk_autoencoder import AutoencoderTransformer
from sk_autoencoder.networks import MLPNetwork

from . import _data, history

CASES = {"mnist": 32, "digits": 8}
# Epoch budgets; the fourth rung of "AE default" and of "AE recommended" is
# its own max_iter, the last of the previous ones theirs.
LADDERS = {
    "AE default": (3, 6, 12, 25, 50),
    "AE recommended": (4, 8, 15, 30, 60),
    "AE previous recommendation": (50, 200),
    "AE previous default": (12, 25, 50, 100, 200),
    "MLPRegressor": (5, 10, 20, 40, 80),
    "pyod AutoEncoder": (2, 5, 10, 20, 40),
}


def _mse(X_hat, X):
    return float(np.mean((np.asarray(X_hat, dtype=np.float64) - X) ** 2))


def fit_and_score(method, epochs, k, X_train, X_test, seed=0):
    """Fit one method for ``epochs``; return ``(fit seconds, held-out MSE)``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        if method == "PCA":
            model = PCA(k, random_state=seed)
            start = time.perf_counter()
            model.fit(X_train)
            seconds = time.perf_counter() - start
            return seconds, _mse(model.inverse_transform(model.transform(X_test)), X_test)
        if method == "MLPRegressor":
            model = MLPRegressor(
                hidden_layer_sizes=(512, k, 512), max_iter=epochs, random_state=seed, tol=0
            )
            start = time.perf_counter()
            model.fit(X_train, X_train)
            seconds = time.perf_counter() - start
            return seconds, _mse(model.predict(X_test), X_test)
        if method == "pyod AutoEncoder":
            from pyod.models.auto_encoder import AutoEncoder

            model = AutoEncoder(
                hidden_neuron_list=[512, k],
                epoch_num=epochs,
                preprocessing=False,
                random_state=seed,
                verbose=0,
            )
            start = time.perf_counter()
            model.fit(X_train)
            seconds = time.perf_counter() - start
            distances = model.decision_function(X_test)
            return seconds, float(np.mean(distances**2) / X_test.shape[1])
        if method == "AE default":
            model = AutoencoderTransformer(k, max_iter=epochs, random_state=seed)
        elif method == "AE recommended":
            network = MLPNetwork(preset="quality")
            model = AutoencoderTransformer(k, network=network, max_iter=epochs, random_state=seed)
        else:  # the earlier releases' configurations, spelled out in full
            params = {
                "AE previous recommendation": history.PREVIOUS_RECOMMENDED,
                "AE previous default": history.DEFAULTS_0_1,
            }[method]
            model = history.build(params, k, seed, max_iter=epochs)
        start = time.perf_counter()
        model.fit(X_train)
        seconds = time.perf_counter() - start
        return seconds, _mse(model.inverse_transform(model.transform(X_test)), X_test)


def run(datasets, ladders):
    rows = []
    for name in datasets:
        X_train, X_test, _, _ = _data.splits(name)
        k = CASES[name]
        pca_s, pca_mse = fit_and_score("PCA", None, k, X_train, X_test)
        rows.append(dict(dataset=name, k=k, method="PCA", epochs=0, fit_s=pca_s, mse=pca_mse))
        # Rungs interleaved across methods, so that drifts in machine speed
        # spread over all of them.
        rungs = [
            (m, e)
            for i in range(max(map(len, ladders.values())))
            for m, e in [(m, ladder[i]) for m, ladder in ladders.items() if i < len(ladder)]
        ]
        for method, epochs in rungs:
            seconds, mse = fit_and_score(method, epochs, k, X_train, X_test)
            rows.append(
                dict(dataset=name, k=k, method=method, epochs=epochs, fit_s=seconds, mse=mse)
            )
            print(
                f"{name} {method} {epochs} epochs: {seconds:.1f} s, {mse / pca_mse:.3f} x PCA",
                flush=True,
            )
    table = pd.DataFrame(rows)
    pca = table[table.method == "PCA"].set_index("dataset")["mse"]
    table["ratio_to_pca"] = table["mse"] / table["dataset"].map(pca)
    return table


def markdown(table):
    lines = ["| data | k | method | epochs | fit s | held-out MSE | × PCA |", "|---" * 7 + "|"]
    for row in table.itertuples():
        lines.append(
            f"| {row.dataset} | {row.k} | {row.method} | {row.epochs} | {row.fit_s:.2f} "
            f"| {row.mse:.5f} | {row.ratio_to_pca:.3f} |"
        )
    return "\n".join(lines)


def plot(table, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(table.dataset))
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    for ax, name in zip(axes[0], datasets, strict=True):
        part = table[table.dataset == name]
        for method, rows in part.groupby("method", sort=False):
            rows = rows.sort_values("fit_s")
            style = dict(marker="*", markersize=14, linestyle="none") if method == "PCA" else {}
            ax.plot(
                rows.fit_s,
                rows.ratio_to_pca,
                marker=style.pop("marker", "o"),
                label=method,
                **style,
            )
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        ax.set_xlabel("fit seconds (2 CPU cores, log scale)")
        ax.set_ylabel("held-out MSE / PCA's")
        ax.set_title(f"{name}, k={part.k.iloc[0]}")
        ax.set_ylim(0, min(2.0, part.ratio_to_pca.max() * 1.05))
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.budget", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--quick", action="store_true", help="two rungs, digits only")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    ladders = LADDERS
    datasets = list(CASES)
    if args.quick:
        ladders = {m: ladder[:2] for m, ladder in LADDERS.items()}
        datasets = ["digits"]
    table = run(datasets, ladders)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "budget.csv", index=False, float_format="%.6g")
    (args.out / "budget.md").write_text(markdown(table) + "\n")
    plot(table, args.out / "budget.png")
    print(markdown(table))
    print(f"{time.perf_counter() - start:.0f} s; files in {args.out}/")


if __name__ == "__main__":
    main()
