"""``python -m benchmarks``: the autoencoder against PCA on bundled data.

Prints a Markdown table and writes CSV/JSON figures and PNG plots to --out.
``--quick`` runs a reduced sweep (one seed, few k, 20-epoch autoencoders)
in about two minutes on two cores: a smoke run, not a result.
"""

import argparse
import contextlib
import json
import platform
import sys
import time
from pathlib import Path

import joblib
import sklearn
import skorch
import torch

from . import _data, _report, compare

# The plots' inputs, which --update merges as it merges results.json's rows.
ARTEFACTS = "artefacts.npz"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="reduced sweep for smoke tests")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results"), help="output folder"
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help="number of seeds (default 3, quick 1)"
    )
    parser.add_argument("--datasets", nargs="+", default=list(_data.NAMES), choices=_data.NAMES)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(compare.DEFAULT_METHODS),
        choices=compare.METHOD_NAMES,
        help="methods to run (PCA always runs, as the reference); the default leaves out "
        "'AE conv', whose 33 fits take about 14 minutes on two cores: add its rows and "
        "plots to a run's results with --update --methods 'AE conv'",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads per fit, torch and BLAS (default: the process's settings); give a "
        "serial run and a cluster run the same value for identical error columns",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="re-run only --methods (and PCA) and keep the other methods' rows of the "
        "results already in --out, and their plot inputs (artefacts.npz), so that the "
        "plots show every method; a full run (not --quick) does so whenever --out "
        "holds results, and says which methods' rows it kept",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="write only this run's rows, even where --out holds earlier results",
    )
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument(
        "--scheduler", metavar="ADDRESS", help="run the fits on this dask.distributed cluster"
    )
    cluster.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="start a dask LocalCluster of N worker processes and run the fits on it",
    )
    args = parser.parse_args(argv)

    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    sweep = compare.SWEEPS["quick" if args.quick else "full"]
    methods = {
        name: factory
        for name, factory in compare.make_methods(quick=args.quick).items()
        if name == "PCA" or name in args.methods
    }
    start = time.perf_counter()
    with _cluster(args.scheduler, args.workers) as where:
        records, artefacts = compare.run(
            args.datasets, sweep, seeds, methods, n_jobs=where, threads=args.threads
        )
    meta = {
        "command": " ".join(
            ["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]
        ),
        "quick": args.quick,
        "seeds": seeds,
        "sweep": {d: sweep[d] for d in args.datasets},
        "calls": compare.CALLS,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "threads_per_fit": args.threads,
        "cluster": args.scheduler
        or (f"LocalCluster({args.workers} workers)" if args.workers else None),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "skorch": skorch.__version__,
            "sklearn": sklearn.__version__,
        },
        "wall_s": round(time.perf_counter() - start, 1),
    }
    earlier = args.out / "results.json"
    if args.update or (not args.quick and not args.fresh and earlier.exists()):
        records, meta = _updated(records, meta, earlier, methods)
        artefacts = _updated_artefacts(artefacts, args.out / ARTEFACTS, methods)
        kept = sorted({r["method"] for r in records} - set(methods), key=compare.METHOD_NAMES.index)
        if kept:
            print(
                f"kept the rows of {', '.join(kept)} from the earlier run in {earlier} "
                f"({meta['updated_from']['command']}); --fresh drops them",
                file=sys.stderr,
            )
    summary = _report.summarise(records)
    _report.write_files(records, summary, args.out, meta)
    _report.plot_error_vs_k(summary, args.out / "error_vs_k.png")
    if artefacts is not None:
        _report.save_artefacts(artefacts, args.out / ARTEFACTS)
        _plot_mnist(summary, artefacts, args.out, sweep)
    print(_report.markdown_table(summary))
    print(f"\n{len(records)} fits in {meta['wall_s']} s; files in {args.out}/")


@contextlib.contextmanager
def _cluster(scheduler, workers):
    """joblib's dask backend on a cluster when asked; yields run()'s n_jobs."""
    if scheduler is None and workers is None:
        yield None
        return
    from distributed import Client, LocalCluster

    local = None
    if workers is not None:
        # One thread per worker process, as dask's nanny sets OMP_NUM_THREADS.
        local = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        scheduler = local
    with Client(scheduler) as client, joblib.parallel_config(backend="dask"):
        print(f"running on {client}", file=sys.stderr)
        yield -1
    if local is not None:
        local.close()


def _updated(records, meta, path, methods):
    """The earlier run's records of the methods not re-run, merged with ``records``.

    Rows are ordered as a full run orders them (dataset, k, seed, method);
    ``meta`` keeps the earlier run's command and wall time under
    ``"updated_from"``.
    """
    if not path.exists():
        raise SystemExit(f"--update needs an earlier run's {path}")
    earlier = json.loads(path.read_text())
    kept = [r for r in earlier["records"] if r["method"] not in methods]
    datasets = list(_data.NAMES)
    order = list(compare.METHOD_NAMES)
    merged = sorted(
        kept + records,
        key=lambda r: (datasets.index(r["dataset"]), r["k"], r["seed"], order.index(r["method"])),
    )
    previous = earlier["meta"]
    meta = {
        **meta,
        "updated_from": {
            key: previous.get(key) for key in ("command", "wall_s", "calls", "versions")
        },
    }
    return merged, meta


def _updated_artefacts(artefacts, path, methods):
    """The earlier run's plot inputs of the methods not re-run, merged with ``artefacts``.

    None when the earlier run saved none: the MNIST plots are then left as
    they are, since this run alone could draw only its own methods.
    """
    if not path.exists():
        print(f"{path} is missing: the MNIST plots are left as they are", file=sys.stderr)
        return None
    kept = {
        key: value
        for key, value in _report.load_artefacts(path).items()
        if key[1] == "test" or key[2] not in methods
    }
    return {**kept, **artefacts}


def _plot_mnist(summary, artefacts, out, sweep):
    """The MNIST reconstructions at k=32 and codes at k=2, a row or panel per method."""
    if ("mnist", "test") not in artefacts:
        return
    X_test, _ = artefacts[("mnist", "test")]
    k = 32 if 32 in sweep["mnist"] else max(sweep["mnist"])
    order = list(compare.METHOD_NAMES)
    recons = {
        method: artefacts[("mnist", "recon", method, k)]
        for method in order
        if ("mnist", "recon", method, k) in artefacts
    }
    _report.plot_reconstructions(X_test, recons, k, out / "mnist_reconstructions.png")
    codes = {
        method: artefacts[("mnist", "codes", method)]
        for method in order
        if ("mnist", "codes", method) in artefacts
    }
    knn = summary.xs(("mnist", 2), level=("dataset", "k"))["knn_acc_mean"]
    _report.plot_codes(codes, out / "mnist_codes_2d.png", knn.to_dict())


if __name__ == "__main__":
    main()
