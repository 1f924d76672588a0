"""``python -m benchmarks.distributed``: data-parallel fits on this machine's cores.

Writes a seeded low-rank non-linear float32 array (``scale.write_dataset``,
400,000 x 256 = 391 MiB by default) to a temporary ``.npy`` and measures,
in one run and side by side:

1. training throughput of a streamed fit (memmap, one epoch, a 256-32
   net, global batch 1024): one process with one thread against
   ``distributed=2`` ranks with one thread each, as rows per second of
   the epochs' own time (skorch's ``dur``), the scaling efficiency
   ``rows/s(2 ranks) / (2 x rows/s(1 process))``, and the fixed cost of a
   data-parallel fit (wall time minus the epochs: starting the ranks,
   the rendezvous, returning the model), best of ``--repeats``;
2. the same for the in-memory array (which the caller writes once to a
   temporary memmap that both ranks map);
3. anonymous memory (``RssAnon``) of a streamed fit in one process,
   against the shuffle buffer plus two chunks, for the memmap and for a
   zarr store of 10,000-row chunks with the issue's settings (hidden
   (64,), batch 1024, one epoch); and the peak anonymous memory of each
   rank process of the 2-rank fit, sampled from here every 10 ms.

Prints a Markdown table and writes ``distributed.json`` to ``--out``; the
data are deleted at the end, also on failure.
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

from sk_autoencoder import AutoencoderTransformer
from sk_autoencoder._data import SHUFFLE_BUFFER_CHUNKS, auto_chunk_rows
from sk_autoencoder.networks import MLPNetwork

from .scale import PeakAnon, write_dataset

# Pinned, not the current defaults: a random start and no validation split,
# so that the epochs measured are training alone.
SETTINGS = dict(
    network=MLPNetwork((256,), activation="relu", batch_norm=False),
    init="random",
    early_stopping=False,
    batch_size=1024,
    max_iter=1,
    tol=0,
    random_state=0,
)


def _estimator(**kwargs):
    return AutoencoderTransformer(32, n_threads=1, **{**SETTINGS, **kwargs})


def _fit(X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        est = _estimator(**kwargs).fit(X)
        wall = time.perf_counter() - start
    epochs = float(sum(est.net_.history[:, "dur"]))
    return wall, epochs, len(X) * est.n_iter_ / epochs


def _children_anon():
    """``{pid: RssAnon MiB}`` of this process's rank processes (multiprocessing spawn)."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"spawn_main" not in f.read():
                    continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        found[int(pid)] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return found


class RankPeaks:
    """The peak RssAnon of every rank process seen while the block runs."""

    def __enter__(self):
        self.peaks = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            for pid, mb in _children_anon().items():
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), mb)
            time.sleep(0.01)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def throughput(X, repeats):
    """Best-of-``repeats`` single vs 2-rank fits, interleaved."""
    single, ranks, peaks = [], [], {}
    for _ in range(repeats):
        single.append(_fit(X))
        with RankPeaks() as sampled:
            ranks.append(_fit(X, distributed=2))
        peaks = sampled.peaks or peaks
    one = max(single, key=lambda r: r[2])
    two = max(ranks, key=lambda r: r[2])
    return {
        "one_rank_rows_per_s": one[2],
        "two_ranks_rows_per_s": two[2],
        "efficiency": two[2] / (2 * one[2]),
        "one_rank_wall_s": one[0],
        "two_ranks_wall_s": two[0],
        "fixed_cost_s": min(r[0] - r[1] for r in ranks) - min(r[0] - r[1] for r in single),
        "rank_peak_anon_mb": sorted(peaks.values()),
    }


def streamed_memory(X, **kwargs):
    """Peak anonymous memory above the start of a one-process streamed fit."""
    est = _estimator(**kwargs)
    chunk = auto_chunk_rows(X) if est.chunk_size == "auto" else est.chunk_size
    chunk_mb = chunk * X.shape[1] * 4 / 2**20
    with warnings.catch_warnings(), PeakAnon() as peak:
        warnings.simplefilter("ignore")
        est.fit(X)
    return {
        "peak_anon_mb": peak.peak_mb,
        "chunk_mb": chunk_mb,
        "buffer_plus_two_chunks_mb": (SHUFFLE_BUFFER_CHUNKS + 2) * chunk_mb,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--quick", action="store_true", help="small data, one repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.features, args.repeats = 40_000, 64, 1
    folder = Path(tempfile.mkdtemp(prefix="sk_autoencoder-distributed-"))
    results = {"rows": args.rows, "features": args.features, "cores": os.cpu_count()}
    start = time.perf_counter()
    try:
        path = folder / "X.npy"
        write_dataset(path, args.rows, args.features)
        memmap = np.load(path, mmap_mode="r")
        results["memory_memmap"] = streamed_memory(memmap)
        results["streamed"] = throughput(memmap, args.repeats)
        results["in_memory"] = throughput(np.array(memmap), args.repeats)
        try:
            import zarr
        except ImportError:
            zarr = None
        if zarr is not None:
            store = zarr.open_array(
                str(folder / "X.zarr"),
                mode="w",
                shape=(200_000, 512) if not args.quick else (20_000, 512),
                chunks=(10_000, 512),
                dtype="float32",
            )
            write_dataset(folder / "Z.npy", store.shape[0], 512)
            store[:] = np.load(folder / "Z.npy", mmap_mode="r")
            (folder / "Z.npy").unlink()
            results["memory_zarr"] = streamed_memory(store, network=MLPNetwork((64,)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results["wall_s"] = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "distributed.json").write_text(json.dumps(results, indent=1))
    print(markdown(results))


def markdown(r):
    lines = [
        f"{r['rows']:,} x {r['features']} float32, global batch 1024, one thread per process",
        "",
        "| data | 1 process rows/s | 2 ranks rows/s | efficiency | fixed cost s "
        "| rank peak RssAnon MiB |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in [("streamed", "memmap, streamed"), ("in_memory", "in memory")]:
        t = r[key]
        peaks = ", ".join(f"{p:.0f}" for p in t["rank_peak_anon_mb"])
        lines.append(
            f"| {label} | {t['one_rank_rows_per_s']:,.0f} | {t['two_ranks_rows_per_s']:,.0f} "
            f"| {t['efficiency']:.2f} | {t['fixed_cost_s']:.1f} | {peaks} |"
        )
    lines += ["", "| streamed fit, one process | peak RssAnon above start | buffer + 2 chunks |"]
    lines.append("|---|---|---|")
    for key, label in [("memory_memmap", "memmap"), ("memory_zarr", "zarr (200,000 x 512)")]:
        if key in r:
            m = r[key]
            lines.append(
                f"| {label}, chunks of {m['chunk_mb']:.0f} MiB | {m['peak_anon_mb']:.0f} MiB "
                f"| {m['buffer_plus_two_chunks_mb']:.0f} MiB |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
