"""``python -m benchmarks.parallel``: searches and the sweep on a dask cluster.

One process, side by side, on a 2-worker ``LocalCluster`` (worker processes,
one thread each, as dask's nanny starts them) started before the clock:

* a ``GridSearchCV`` of 12 fits on digits (small nets) and one of 4 fits on
  MNIST-5k (the (256, 128) net, ``history.PREVIOUS_DEFAULT``): wall time
  serial (one process, all cores) vs ``n_jobs=2`` (loky) vs
  ``joblib.parallel_config(backend="dask")``; the ``cv_results_`` of every
  mode must equal the serial ones;
* the benchmark's quick sweep (``python -m benchmarks --quick --threads 1``'s
  fits) serial vs on the cluster: wall-time ratio and the largest difference
  in the error columns (0 when the fits reproduce exactly).
"""

import argparse
import json
import warnings
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.model_selection import GridSearchCV

from . import _data, compare, history
from ._timing import timed

SEARCHES = {
    "digits": (
        dict(history.PREVIOUS_DEFAULT, hidden_layer_sizes=(64,), max_iter=200),
        {"n_components": [2, 4, 8, 16], "learning_rate_init": [1e-3]},
        3,
    ),
    "mnist": (
        dict(history.PREVIOUS_DEFAULT, max_iter=10),
        {"n_components": [16, 32]},
        2,
    ),
}


def search(name, n_jobs):
    params, grid, cv = SEARCHES[name]
    X, y = _data.load(name)
    X_train, _, _, _ = _data.split(X, y)
    estimator = history.build(params, 2, 0)
    return GridSearchCV(estimator, grid, cv=cv, n_jobs=n_jobs).fit(X_train)


def compare_searches(client, repeats):
    from joblib import parallel_config

    rows = {}
    joblib.Parallel(n_jobs=2)(joblib.delayed(abs)(i) for i in range(2))  # start loky
    for name in SEARCHES:
        times = {"serial": [], "loky": [], "dask": []}
        scores = {}
        for _ in range(repeats):
            serial, t = timed(lambda n=name: search(n, None))
            times["serial"].append(t)
            loky, t = timed(lambda n=name: search(n, 2))
            times["loky"].append(t)
            with parallel_config(backend="dask"):
                dask, t = timed(lambda n=name: search(n, -1))
            times["dask"].append(t)
            fitted = {"serial": serial, "loky": loky, "dask": dask}
            scores = {m: s.cv_results_["mean_test_score"] for m, s in fitted.items()}
        n_fits = len(scores["serial"]) * SEARCHES[name][2]
        best = {mode: min(t) for mode, t in times.items()}
        rows[name] = {
            "fits": n_fits,
            **{f"{mode}_s": t for mode, t in best.items()},
            "loky_vs_serial": best["serial"] / best["loky"],
            "dask_vs_serial": best["serial"] / best["dask"],
            "dask_vs_loky": best["loky"] / best["dask"],
            "identical_cv_results": all(
                np.array_equal(scores["serial"], scores[m]) for m in ("loky", "dask")
            ),
        }
    return rows


def compare_sweep():
    from joblib import parallel_config

    sweep = compare.SWEEPS["quick"]
    methods = compare.make_methods(quick=True)
    datasets = list(sweep)
    (serial, _), serial_s = timed(
        lambda: compare.run(datasets, sweep, [0], methods, progress=False, threads=1)
    )
    with parallel_config(backend="dask"):
        (dask, _), dask_s = timed(
            lambda: compare.run(datasets, sweep, [0], methods, progress=False, n_jobs=-1, threads=1)
        )
    # One thread per fit in both runs (torch and BLAS), as on the workers: the
    # same float sums, so the error columns can be compared for equality.
    columns = ["mse", "logreg_acc", "knn_acc"]
    diff = max(abs(a[c] - b[c]) for a, b in zip(serial, dask, strict=True) for c in columns)
    return {
        "fits": len(serial),
        "serial_s": serial_s,
        "dask_s": dask_s,
        "dask_vs_serial": serial_s / dask_s,
        "max_error_column_difference": diff,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.parallel", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/parallel.json"))
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    warnings.filterwarnings("ignore", message=".*stopped at max_iter")
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: warnings.filterwarnings("ignore", message=".*stopped at max_iter"))
        searches = compare_searches(client, args.repeats)
        sweep = compare_sweep()
    print(
        f"{args.workers}-worker LocalCluster (1 thread each) vs serial "
        f"({torch.get_num_threads()} torch threads); best of {args.repeats}"
    )
    print(
        "| search | fits | serial s | loky n_jobs=2 s | dask s | loky / serial | "
        "dask / serial | dask / loky | cv_results_ identical |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in searches.items():
        print(
            f"| {name} | {r['fits']} | {r['serial_s']:.1f} | {r['loky_s']:.1f} | "
            f"{r['dask_s']:.1f} | {r['loky_vs_serial']:.2f} x | {r['dask_vs_serial']:.2f} x | "
            f"{r['dask_vs_loky']:.2f} x | {r['identical_cv_results']} |"
        )
    print(
        f"\nquick sweep ({sweep['fits']} fits): serial {sweep['serial_s']:.1f} s, cluster "
        f"{sweep['dask_s']:.1f} s ({sweep['dask_vs_serial']:.2f} x); largest difference in the "
        f"error columns: {sweep['max_error_column_difference']:.3g}"
    )
    results = {"command": "python -m benchmarks.parallel", "searches": searches, "sweep": sweep}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=bool))
    return results


if __name__ == "__main__":
    main()
