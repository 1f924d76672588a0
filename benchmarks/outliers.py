"""``python -m benchmarks.outliers``: leave-one-class-out outlier detection.

On digits and MNIST 5k, each class in turn is the outlier class: the
detectors train on the other nine classes' training split and score the whole
test split, where the held-out class is the positive ("outlier") label. ROC
AUC of AutoencoderOutlierDetector, PCA reconstruction error (same k) and
IsolationForest, per class and on average; printed as Markdown and written to
--out as CSV/JSON.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import pandas as pd
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from sk_autoencoder import AutoencoderOutlierDetector, reconstruction_error

from . import _data, history

N_COMPONENTS = {"digits": 8, "mnist": 32}
# The detector's own recipe (256-128, constant 1e-3, 200 epochs); beside it,
# the detector trained with AutoencoderTransformer's recipe and network (a
# PCA start, early stopping, 25 epochs), to measure whether they pay here too.
TRANSFORMER_DEFAULTS = history.DEFAULTS


def detectors(k, seed, quick=False):
    """Return ``{name: (estimator, abnormality(estimator, X))}``; higher = more abnormal."""
    cap = {"max_iter": 10} if quick else {}
    return {
        "AE detector": (
            AutoencoderOutlierDetector(k, random_state=seed, **cap),
            lambda est, X: -est.score_samples(X),
        ),
        "AE detector, transformer's defaults": (
            history.build(TRANSFORMER_DEFAULTS, k, seed, cls=AutoencoderOutlierDetector, **cap),
            lambda est, X: -est.score_samples(X),
        ),
        "PCA error": (
            PCA(k, random_state=seed),
            lambda est, X: reconstruction_error(est, X, per_sample=True),
        ),
        "IsolationForest": (
            IsolationForest(random_state=seed),
            lambda est, X: -est.score_samples(X),
        ),
    }


def run(datasets, classes=range(10), seed=0, quick=False):
    """One record per (dataset, outlier class, method) with ``auc`` and ``fit_s``."""
    records = []
    for name in datasets:
        X, y = _data.load(name)
        X_train, X_test, y_train, y_test = _data.split(X, y)
        for c in classes:
            inliers = X_train[y_train != c]
            is_outlier = (y_test == c).astype(int)
            for method, (est, abnormality) in detectors(N_COMPONENTS[name], seed, quick).items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    start = time.perf_counter()
                    est.fit(inliers)
                    fit_s = time.perf_counter() - start
                auc = roc_auc_score(is_outlier, abnormality(est, X_test))
                records.append(
                    {
                        "dataset": name,
                        "outlier_class": int(c),
                        "method": method,
                        "auc": auc,
                        "fit_s": fit_s,
                    }
                )
                print(
                    f"{name} outlier class {c} {method}: AUC {auc:.3f} ({fit_s:.1f} s)", flush=True
                )
    return records


def markdown(records):
    """Mean AUC per dataset and method, then AUC per class."""
    frame = pd.DataFrame.from_records(records)
    table = frame.pivot_table(index=["dataset", "method"], columns="outlier_class", values="auc")
    table.insert(0, "mean", table.mean(axis=1))
    fit_s = frame.groupby(["dataset", "method"])["fit_s"].mean()
    lines = [
        "| data | method | mean AUC | mean fit s | "
        + " | ".join(f"class {c}" for c in table.columns[1:])
        + " |"
    ]
    lines.append("|---|---|---|" + "---|" * len(table.columns))
    for (dataset, method), row in table.iterrows():
        lines.append(
            f"| {dataset} | {method} | **{row['mean']:.3f}** | {fit_s[dataset, method]:.2f} | "
            + " | ".join(f"{v:.3f}" for v in row.iloc[1:])
            + " |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.outliers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="two classes, 10-epoch autoencoders")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--datasets", nargs="+", default=["digits", "mnist"], choices=["digits", "mnist"]
    )
    args = parser.parse_args(argv)
    classes = range(2) if args.quick else range(10)
    records = run(args.datasets, classes, quick=args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame.from_records(records).to_csv(args.out / "outliers.csv", index=False)
    with open(args.out / "outliers.json", "w") as f:
        json.dump(records, f, indent=1)
    table = markdown(records)
    (args.out / "outliers.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
