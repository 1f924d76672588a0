"""Data-parallel fits on torch.distributed: 2 CPU ranks (gloo), one thread each.

Local ranks are real processes started by torch's elastic agent; the
torchrun mode runs under a ``torchrun --standalone`` subprocess, and the
dask mode on a 2-worker LocalCluster started once for the module.
"""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
    reconstruction_error,
)
from sk_autoencoder._data import BatchIterator, ChunkedArray, Shard, StreamData
from sk_autoencoder.networks import MLPNetwork

# One thread per rank, 2 ranks: the suite's 2 cores. A short timeout bounds
# every collective, so a failing test cannot hang CI.
SETTINGS = dict(n_threads=1, random_state=0, distributed_timeout=60)
# Equivalence with one process, to float rounding, needs a net without batch
# norm (whose batch statistics are each rank's own) and every row in training.
EXACT = dict(
    SETTINGS,
    init="random",
    early_stopping=False,
    network=MLPNetwork(activation="relu", batch_norm=False),
)


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:1024] / 16).astype(np.float32)


def _weights(est):
    return {k: v.detach().clone() for k, v in est.net_.module_.state_dict().items()}


def _rank_processes():
    """Local ranks (interpreters running _distributed.RANK_COMMAND) that are still alive."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    command = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "from sk_autoencoder._distributed import _rank_main" in command:
                found.append(int(pid))
    return found


def test_shards_split_every_global_batch_disjointly_and_completely():
    """Check that the ranks' parts of the global batches are disjoint and cover them."""
    rows = torch.arange(103, dtype=torch.float32)[:, None]
    single = list(BatchIterator(rows, None, 16, torch.Generator().manual_seed(3)))
    parts = [
        list(BatchIterator(rows, None, 16, torch.Generator().manual_seed(3), shard=Shard(r, 3)))
        for r in range(3)
    ]
    assert len(single) == 7 and all(len(p) == 7 for p in parts)
    for b, (whole, _) in enumerate(single):
        pieces = torch.cat([parts[r][b][0] for r in range(3)])
        assert_array_equal(pieces, whole)  # rank order concatenates to the global batch
    # a trailing global batch smaller than the number of ranks is skipped by all
    assert len(BatchIterator(rows[:97], None, 16, torch.Generator(), shard=Shard(0, 3))) == 6
    # evaluation passes read each rank's contiguous share
    shares = [
        torch.cat([b for b, _ in BatchIterator(rows, None, 10, shard=Shard(r, 3))])
        for r in range(3)
    ]
    assert_array_equal(torch.cat(shares), rows)


def test_streamed_shards_read_disjoint_chunks_that_cover_the_data(tmp_path):
    """Check the chunks each rank of a streamed fit reads, and that it reads only those."""
    data = np.arange(1000 * 3, dtype=np.float32).reshape(1000, 3)
    np.save(tmp_path / "X.npy", data)
    source = ChunkedArray(np.load(tmp_path / "X.npy", mmap_mode="r"), 64)
    read = []
    source.read = (lambda read_chunk: lambda c: read.append(c) or read_chunk(c))(source.read)
    owned = []
    for rank in range(3):
        start, stop = Shard(rank, 3).span(source.n_chunks)
        shard = StreamData(source).shard(list(range(start, stop)))
        owned.append(shard.chunk_ids)
        read.clear()
        rows = np.concatenate([shard.chunk(c) for c in shard.chunk_ids])
        assert sorted(read) == owned[-1]
        assert len(rows) == len(shard)
    assert sorted(c for ids in owned for c in ids) == list(range(source.n_chunks))


def test_two_ranks_train_as_one_process(X):
    """Check a 2-rank fit against one process with the same global batch.

    One epoch: weights within 1e-5 (float rounding of the split sums). A
    full fit: held-out error within 2 %. Two seeded 2-rank fits: bitwise
    equal.
    """
    one = AutoencoderTransformer(4, max_iter=1, batch_size=64, **EXACT).fit(X)
    two = AutoencoderTransformer(4, max_iter=1, batch_size=64, distributed=2, **EXACT).fit(X)
    for key, value in _weights(one).items():
        assert_allclose(_weights(two)[key], value, atol=1e-5, err_msg=key)
    assert two.n_iter_ == 1 and two.loss_curve_[0] == pytest.approx(one.loss_curve_[0], rel=1e-6)
    assert not hasattr(two.net_, "ddp_") or two.net_.ddp_ is None

    train, test = X[:800], X[800:]
    full = dict(max_iter=15, batch_size=64, **SETTINGS)
    single = AutoencoderTransformer(8, **full).fit(train)
    ranks = [AutoencoderTransformer(8, distributed=2, **full).fit(train) for _ in range(2)]
    ratio = reconstruction_error(ranks[0], test) / reconstruction_error(single, test)
    assert abs(ratio - 1) < 0.02
    assert_array_equal(ranks[0].transform(test), ranks[1].transform(test))
    assert ranks[0].n_iter_ == single.n_iter_ == 15


def test_a_fit_on_ranks_passes_on_no_warning_of_its_own(X):
    """Check that torch's warnings about the wrapper fit builds do not reach the user."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AutoencoderTransformer(2, max_iter=1, distributed=2, **SETTINGS).fit(X)
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []


def test_streamed_fit_on_ranks_with_early_stopping_and_pca_init(X, tmp_path):
    """Check a streamed 2-rank fit: own chunks, early stopping, PCA start, the detector."""
    np.save(tmp_path / "X.npy", X)
    memmap = np.load(tmp_path / "X.npy", mmap_mode="r")
    det = AutoencoderOutlierDetector(
        4,
        init="pca",
        early_stopping=True,
        max_iter=4,
        chunk_size=128,
        contamination=0.05,
        distributed=2,
        **SETTINGS,
    ).fit(memmap)
    assert det.n_iter_ == len(det.validation_scores_) <= 4
    # the contamination quantile of the training scores, computed in the caller
    assert 50 <= int((det.predict(X) == -1).sum()) <= 53
    one = AutoencoderOutlierDetector(
        4, init="pca", max_iter=1, learning_rate_init=1e-30, chunk_size=128, **SETTINGS
    ).fit(memmap)
    two = AutoencoderOutlierDetector(
        4,
        init="pca",
        max_iter=1,
        learning_rate_init=1e-30,
        chunk_size=128,
        distributed=2,
        **SETTINGS,
    ).fit(memmap)
    # the ranks' PCA from summed moments starts where the one-process PCA does
    assert_allclose(two.score_samples(X), one.score_samples(X), rtol=2e-3, atol=1e-6)


def test_a_nan_in_rank_1s_shard_is_a_value_error_naming_the_row(X, tmp_path):
    """Check the caller's error for bad data only rank 1 reads, and that no rank is left."""
    bad = X.copy()
    bad[900, 5] = np.nan
    np.save(tmp_path / "X.npy", bad)
    memmap = np.load(tmp_path / "X.npy", mmap_mode="r")
    ae = AutoencoderTransformer(4, max_iter=2, chunk_size=128, distributed=2, **SETTINGS)
    start = time.monotonic()
    msg = "Rank 1 of 2 failed: Input X contains NaN in row 900 (read in the chunk of rows 896"
    with pytest.raises(ValueError, match=re.escape(msg)):
        ae.fit(memmap)
    assert time.monotonic() - start < SETTINGS["distributed_timeout"]
    assert not hasattr(ae, "net_")
    assert _rank_processes() == []


def test_partial_fit_refuses_distributed(X):
    """Check the clear error: partial_fit trains in this process."""
    msg = "partial_fit trains on one chunk in this process; distributed=2 applies to fit only."
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer(2, distributed=2).partial_fit(X)


def test_a_port_in_use_is_a_clear_error(X, monkeypatch):
    """Check MASTER_PORT pointing at a port that something else holds."""
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    monkeypatch.setenv("MASTER_PORT", str(port))
    msg = f"MASTER_PORT={port} is already in use on 127.0.0.1"
    try:
        with pytest.raises(ValueError, match=re.escape(msg)):
            AutoencoderTransformer(2, max_iter=1, distributed=2, **SETTINGS).fit(X)
    finally:
        holder.close()


def test_torchrun_without_its_environment_is_refused(X, monkeypatch):
    """Check that distributed='torchrun' never falls back to one silent fit."""
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    msg = "distributed='torchrun' joins the ranks of a launcher, but RANK, WORLD_SIZE, LOCAL_RANK"
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer(2, distributed="torchrun").fit(X)


def _run(script, *args, timeout=240):
    return subprocess.run(
        [*args, script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"},
    )


SPMD = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import torch.distributed as dist
    from sklearn.datasets import load_digits
    from sk_autoencoder import AutoencoderTransformer

    X = (load_digits().data[:1024] / 16).astype(np.float32)
    out = sys.argv[0] + ".out"
    if os.environ.get("CHECK_SIZE"):
        dist.init_process_group("gloo")
        os.environ["WORLD_SIZE"] = "3"
    ae = AutoencoderTransformer(4, max_iter=2, batch_size=64, n_threads=1, random_state=0,
                                distributed="torchrun").fit(X)
    rank = os.environ["RANK"]
    np.save(f"{out}-codes-{rank}.npy", ae.transform(X))
    ae.save(f"{out}-model-{rank}.skae")
    """
)


def test_torchrun_ranks_end_with_the_same_model(X, tmp_path):
    """Check SPMD under torchrun: identical codes on every rank, saved by rank 0 only.

    The defaults hold batch norm, whose running statistics each rank
    gathers over its own batches: without their average, the ranks would
    end with different models.
    """
    script = tmp_path / "spmd.py"
    script.write_text(SPMD)
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
    ]
    done = _run(str(script), *torchrun)
    assert done.returncode == 0, done.stderr[-3000:]
    codes = [np.load(f"{script}.out-codes-{rank}.npy") for rank in (0, 1)]
    assert_array_equal(codes[0], codes[1])
    assert os.path.exists(f"{script}.out-model-0.skae")
    assert not os.path.exists(f"{script}.out-model-1.skae")
    loaded = AutoencoderTransformer.load(f"{script}.out-model-0.skae")
    assert_array_equal(loaded.transform(X), codes[0])
    # the defaults' batch norm: each rank's running statistics, averaged
    one = AutoencoderTransformer(4, max_iter=2, batch_size=64, n_threads=1, random_state=0).fit(X)
    ratio = reconstruction_error(loaded, X) / reconstruction_error(one, X)
    assert abs(ratio - 1) < 0.05


def test_torchrun_with_a_group_of_another_size_is_refused(tmp_path):
    """Check the error when WORLD_SIZE does not match the process group."""
    script = tmp_path / "spmd.py"
    script.write_text(SPMD)
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
    ]
    done = subprocess.run(
        [*torchrun, str(script)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1", "CHECK_SIZE": "1"},
    )
    assert done.returncode != 0
    assert "WORLD_SIZE=3, but the process group has 2 ranks" in done.stderr


UNGUARDED = textwrap.dedent(
    """
    import numpy as np
    from torch import nn
    from sk_autoencoder import AutoencoderTransformer
    from sk_autoencoder.networks import MLPNetwork, Network

    class Codec(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.layer = nn.Linear(n_in, n_out)

        def forward(self, X):
            return self.layer(X)

    class Linear(Network):
        def build(self, n_features, n_components, *, generator=None):
            module = nn.Module()
            module.encoder = Codec(n_features, n_components)
            module.decoder = Codec(n_components, n_features)
            return module

    X = np.random.RandomState(0).rand(256, 8).astype(np.float32)
    print("script ran", flush=True)
    est = AutoencoderTransformer(
        2, network=Linear(), max_iter=2, n_threads=1, distributed=2, random_state=0
    )
    est.fit(X)  # the default PCA path wraps the network's encoder as its residual
    print("fitted", est.n_iter_, type(est.net_.module_.encoder.residual).__name__, flush=True)
    est.set_params(warm_start=True).fit(X)  # the fitted Codecs travel to the ranks; n_iter_ adds up
    print("refitted", est.n_iter_, flush=True)
    """
)


def test_a_script_without_a_main_guard_runs_once(tmp_path):
    """Check that the ranks do not re-run the caller's script (scikit-learn users rarely
    guard it), and still build a network class defined there."""
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["script ran", "fitted 2 Codec", "refitted 4"]


KILLABLE = textwrap.dedent(
    """
    import numpy as np
    from sk_autoencoder import AutoencoderTransformer

    X = np.random.RandomState(0).rand(20000, 32).astype(np.float32)
    print("fitting", flush=True)
    # No early stopping: the fit must still be training when the test strikes.
    AutoencoderTransformer(
        4, max_iter=500, batch_size=32, n_threads=1, distributed=2, early_stopping=False
    ).fit(X)
    """
)


def _start_and_wait_for_ranks(script):
    process = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ranks = [p for p in _rank_processes() if _parent_chain_has(p, process.pid)]
        if len(ranks) == 2:
            time.sleep(3)  # let them reach training
            return process, ranks
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the ranks did not start")


def _parent_chain_has(pid, ancestor):
    for _ in range(5):
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(") ", 1)[1].split()[1])
        except OSError:
            return False
        if pid == ancestor:
            return True
    return False


@pytest.mark.parametrize("how", ["kill rank 1", "ctrl-c in the caller"])
def test_a_dead_rank_or_an_interrupt_stops_every_rank(tmp_path, how):
    """Check a SIGKILLed rank (named in the error) and Ctrl-C in the caller."""
    script = tmp_path / "killable.py"
    script.write_text(KILLABLE)
    process, ranks = _start_and_wait_for_ranks(script)
    if how == "kill rank 1":
        rank_1 = max(ranks)  # the agent starts rank 0 first
        os.kill(rank_1, signal.SIGKILL)
    else:
        os.kill(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    if how == "kill rank 1":
        assert re.search(
            r"RuntimeError: Rank 1 of 2 \(pid \d+\) was killed by signal SIGKILL", stderr
        )
    else:
        assert "KeyboardInterrupt" in stderr
    assert [p for p in ranks if os.path.exists(f"/proc/{p}")] == []


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed", reason="distributed is in the test extra")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def test_dask_ranks_train_on_the_partitions_of_their_workers(X, client):
    """Check the dask mode: one rank per worker, each on blocks held locally."""
    import dask.array as da

    from sk_autoencoder import _distributed

    Xd = da.from_array(X, chunks=(256, 64))
    workers = sorted(client.scheduler_info()["workers"])
    blocks, starts = _distributed._locate(client, Xd, workers, None)
    holders = client.who_has([f for w in workers for f in blocks[w]])
    assert sorted(s for w in workers for s in starts[w]) == [0, 256, 512, 768]
    assert [len(blocks[w]) for w in workers] == [2, 2]  # balanced rows
    # a block moves only when its holders already have their share
    held = {w: sum(w in holders[f.key] for g in workers for f in blocks[g]) for w in workers}
    moved = sum(w not in holders[f.key] for w in workers for f in blocks[w])
    assert moved == sum(max(0, held[w] - 2) for w in workers)

    ae = AutoencoderTransformer(4, max_iter=6, batch_size=64, distributed="dask", **SETTINGS)
    ae.fit(Xd)
    one = AutoencoderTransformer(4, max_iter=6, batch_size=64, **SETTINGS).fit(X)
    assert ae.n_iter_ == 6
    # The ranks shuffle their own blocks, not one global order, so the match
    # is statistical: one process under random_state 0..7 spreads by 4 % here
    # (2 epochs spread by 6 %, and CI once saw 9 %), and the untrained PCA
    # start is 37 % worse than the worst of them.
    error = reconstruction_error(ae, X)
    assert abs(error / reconstruction_error(one, X) - 1) < 0.12
    assert reconstruction_error(PCA(4).fit(X), X) > 1.25 * error
    assert ae.transform(Xd).compute().shape == (1024, 4)
    vae = VariationalAutoencoderTransformer(3, max_iter=1, distributed="dask", **SETTINGS).fit(X)
    assert vae.transform(X).shape == (1024, 3)


def test_dask_rank_failure_reaches_the_caller(X, client):
    """Check that a NaN in one worker's block is the caller's ValueError, within the timeout."""
    import dask.array as da

    bad = X.copy()
    bad[900, 5] = np.nan
    ae = AutoencoderTransformer(
        4, max_iter=2, batch_size=64, distributed="dask", **{**SETTINGS, "distributed_timeout": 20}
    )
    start = time.monotonic()
    with pytest.raises(ValueError, match=re.escape("Input X contains NaN in row 900")):
        ae.fit(da.from_array(bad, chunks=(256, 64)))
    assert time.monotonic() - start < 20 + 15
