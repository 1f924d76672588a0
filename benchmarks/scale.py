"""``python -m benchmarks.scale``: fit and transform data larger than memory.

Writes a seeded low-rank non-linear float32 dataset to a ``.npy`` file in a
temporary folder (2,200,000 x 1,024 = 8.4 GiB by default), then measures, in
one process and side by side:

1. a streamed ``fit`` (one epoch) and ``transform`` of the whole file through
   ``np.load(mmap_mode="r")``: rows/s and the peak *anonymous* memory above
   the baseline (``RssAnon`` sampled every 10 ms; the file's page cache is
   not the process's memory);
2. on the first ``--subset`` rows: the streamed fit from the file in page
   cache, and from a cold cache (``posix_fadvise(DONTNEED)``), against the
   in-memory fit of the same rows (same net, batch size and epochs);
3. dask-array ``transform`` against the in-memory ``transform``;
4. held-out error after a streamed fit and after an in-memory fit of the
   subset (same epochs).

The file is deleted at the end, also on failure. ``--quick`` shrinks every
size for a smoke run.
"""

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from . import history
from ._timing import timed

HIDDEN = (256,)
K = 32
BATCH = 256


def rss_anon_mb():
    """The process's resident anonymous memory in MiB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("RssAnon is not in /proc/self/status (Linux only)")


class PeakAnon:
    """Sample ``RssAnon`` in a thread; ``peak_mb`` is the maximum above the start."""

    def __init__(self, interval=0.01):
        self.interval = interval

    def __enter__(self):
        self.start_mb = rss_anon_mb()
        self.max_mb = self.start_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.max_mb = max(self.max_mb, rss_anon_mb())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.max_mb = max(self.max_mb, rss_anon_mb())
        self.peak_mb = self.max_mb - self.start_mb


def write_dataset(path, n_rows, n_features, rank=16, seed=0, block=65536):
    """Write ``tanh(Z A) B + noise`` (Z of ``rank`` columns) as a float32 .npy file."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((rank, 256)).astype(np.float32) / np.sqrt(rank)
    B = rng.standard_normal((256, n_features)).astype(np.float32) / np.sqrt(256)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, n_features))
    for start in range(0, n_rows, block):
        stop = min(start + block, n_rows)
        Z = rng.standard_normal((stop - start, rank)).astype(np.float32)
        noise = 0.05 * rng.standard_normal((stop - start, n_features)).astype(np.float32)
        X[start:stop] = np.tanh(Z @ A) @ B + noise
    X.flush()
    del X


def drop_page_cache(path):
    """Ask the kernel to evict the file's cached pages (no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def warm_page_cache(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def estimator(epochs, **kwargs):
    # On top of the 0.1 defaults, as measured: a random start, no validation split.
    params = dict(history.DEFAULTS_0_1, hidden_layer_sizes=HIDDEN, batch_size=BATCH, tol=0)
    return history.build(params, K, 0, max_iter=epochs, **kwargs)


def model_mb(ae):
    return sum(p.numel() * p.element_size() for p in ae.net_.module_.parameters()) / 2**20


def whole_file(path, results):
    X = np.load(path, mmap_mode="r")
    n = len(X)
    with PeakAnon() as fit_mem:
        ae, fit_s = timed(lambda: estimator(1).fit(X))
    with PeakAnon() as transform_mem:
        Z, transform_s = timed(lambda: ae.transform(X))
    results["whole"] = {
        "rows": n,
        "features": X.shape[1],
        "file_gib": os.path.getsize(path) / 2**30,
        "model_mib": model_mb(ae),
        "fit_rows_per_s": n / fit_s,
        "fit_s": fit_s,
        "fit_peak_anon_mib": fit_mem.peak_mb,
        "transform_rows_per_s": n / transform_s,
        "transform_peak_anon_mib": transform_mem.peak_mb,
        "codes_mib": Z.nbytes / 2**20,
    }
    del Z


def subset_comparison(path, n_subset, n_test, epochs, results, repeats):
    X_file = np.load(path, mmap_mode="r")
    X_mem = np.array(X_file[:n_subset])
    X_test = np.array(X_file[n_subset : n_subset + n_test])
    sub_path = Path(path).with_name("subset.npy")
    np.save(sub_path, X_mem)
    X_stream = np.load(sub_path, mmap_mode="r")
    runs = {}
    # Interleave the contenders so that drift on a shared machine hits both,
    # and keep each one's best run.
    for _ in range(repeats):
        mem, mem_s = timed(lambda: estimator(epochs).fit(X_mem))
        warm_page_cache(sub_path)
        hot, hot_s = timed(lambda: estimator(epochs).fit(X_stream))
        runs.setdefault("memory", []).append(mem_s)
        runs.setdefault("stream_cached", []).append(hot_s)
    drop_page_cache(sub_path)
    _, cold_s = timed(lambda: estimator(epochs).fit(X_stream))
    rows = n_subset * epochs
    mem_s, hot_s = min(runs["memory"]), min(runs["stream_cached"])
    results["fit"] = {
        "rows": n_subset,
        "epochs": epochs,
        "memory_rows_per_s": rows / mem_s,
        "stream_cached_rows_per_s": rows / hot_s,
        "stream_cold_rows_per_s": rows / cold_s,
        "cached_vs_memory": mem_s / hot_s,
        "cold_vs_memory": mem_s / cold_s,
        "memory_test_mse": -mem.score(X_test),
        "stream_test_mse": -hot.score(X_test),
    }
    results["fit"]["stream_vs_memory_mse"] = (
        results["fit"]["stream_test_mse"] / results["fit"]["memory_test_mse"]
    )
    dask_transform(mem, X_mem, results)


def dask_transform(ae, X, results):
    import dask
    import dask.array as da

    Xd = da.from_array(X, chunks=(ae.net_._inference_rows(ae.net_.module_) * 4, X.shape[1]))
    times = {"memory": [], "dask": []}
    with dask.config.set(scheduler="threads"):
        for _ in range(3):
            times["memory"].append(timed(lambda: ae.transform(X))[1])
            times["dask"].append(timed(lambda: ae.transform(Xd).compute())[1])
    memory_s, dask_s = min(times["memory"]), min(times["dask"])
    results["transform"] = {
        "rows": len(X),
        "memory_rows_per_s": len(X) / memory_s,
        "dask_rows_per_s": len(X) / dask_s,
        "dask_vs_memory": memory_s / dask_s,
        "dask_chunks": len(Xd.chunks[0]),
    }


def report(results):
    w, f, t = results["whole"], results["fit"], results["transform"]
    print(
        f"whole file: {w['rows']:,} x {w['features']:,} float32 = {w['file_gib']:.2f} GiB; "
        f"model {w['model_mib']:.1f} MiB; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print("| step | rows/s | peak anonymous memory above start |")
    print("|---|---|---|")
    print(
        f"| streamed fit, 1 epoch | {w['fit_rows_per_s']:,.0f} | {w['fit_peak_anon_mib']:.0f} MiB |"
    )
    print(
        f"| streamed transform | {w['transform_rows_per_s']:,.0f} | "
        f"{w['transform_peak_anon_mib']:.0f} MiB (codes: {w['codes_mib']:.0f} MiB) |"
    )
    print(f"\nsubset: {f['rows']:,} rows, {f['epochs']} epochs, same net and batch size")
    print("| fit from | rows/s | vs in memory | held-out MSE |")
    print("|---|---|---|---|")
    print(
        f"| in-memory array | {f['memory_rows_per_s']:,.0f} | 1.00 | {f['memory_test_mse']:.5f} |"
    )
    print(
        f"| file, page cache | {f['stream_cached_rows_per_s']:,.0f} | "
        f"{f['cached_vs_memory']:.2f} | {f['stream_test_mse']:.5f} |"
    )
    print(
        f"| file, cold cache | {f['stream_cold_rows_per_s']:,.0f} | {f['cold_vs_memory']:.2f} | |"
    )
    print(f"streamed / in-memory held-out MSE: {f['stream_vs_memory_mse']:.4f}")
    print(
        f"\ntransform of {t['rows']:,} rows: in memory {t['memory_rows_per_s']:,.0f} rows/s, "
        f"dask array ({t['dask_chunks']} chunks, threads) {t['dask_rows_per_s']:,.0f} rows/s: "
        f"ratio {t['dask_vs_memory']:.2f}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rows", type=int, default=2_200_000)
    parser.add_argument("--features", type=int, default=1024)
    parser.add_argument("--subset", type=int, default=200_000, help="rows of the side-by-side fits")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the side-by-side fits")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many fits")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the file")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scale.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.features, args.subset, args.epochs = 20_000, 64, 5_000, 1
    # Fixed-epoch fits (tol=0) end at max_iter by design.
    warnings.filterwarnings("ignore", message=".*stopped at max_iter")
    folder = Path(tempfile.mkdtemp(dir=args.dir, prefix="sk_autoencoder_scale_"))
    results = {"command": "python -m benchmarks.scale" + (" --quick" if args.quick else "")}
    try:
        path = folder / "X.npy"
        (_, write_s) = timed(lambda: write_dataset(path, args.rows, args.features))
        results["write_s"] = write_s
        whole_file(path, results)
        subset_comparison(
            path, args.subset, min(20_000, args.subset // 10), args.epochs, results, args.repeats
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
