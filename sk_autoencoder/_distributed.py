"""Data-parallel fit: one model trained by several processes on torch.distributed.

The estimators call :func:`fit` when ``distributed`` is set. Three ways to
the ranks, all on existing engines:

* ``distributed=N``: torch's elastic agent (``elastic_launch``, what
  ``torchrun`` runs) starts N local processes. The caller validates X,
  writes the validated rows once to a temporary ``.npy`` that every rank
  maps (memmap, zarr and h5py sources are passed by reference instead),
  and reads rank 0's fitted estimator back from the same folder.
* ``distributed="torchrun"``: the script already runs as one of the ranks
  of an external launcher; this process joins (or uses) its process group.
* ``distributed="dask"``: one rank per worker of the active client. The
  dask array's blocks are persisted where they are computed and each
  rank trains on the blocks that live on its worker.

Each rank trains with :meth:`BaseAutoencoder._fit_prepared` and a
:class:`~sk_autoencoder._data.Shard`: the net reads its share of every
global batch (or, streamed, of its own chunks), runs its training forward
pass through ``DistributedDataParallel`` and averages the epoch losses
over the ranks. A rank that fails writes its exception where the caller
finds it; the others stop (the elastic agent stops them, or their next
collective fails when the failed rank leaves the group), and the caller
raises the failed rank's error.
"""

import contextlib
import datetime
import io
import json
import os
import pickle
import signal
import socket
import sys
import tempfile
import time
import traceback
import uuid
import warnings
from pathlib import Path

import numpy as np
import torch

from ._data import BlockSource, ChunkedArray, Shard, StreamData, import_optional, is_dask
from ._parallel import torch_threads
from ._validation import warn_at_caller

PAYLOAD = "payload.pkl"
RESULT = "result.pkl"

# What each local rank runs: a fresh interpreter (the elastic agent's binary
# entry point), not multiprocessing's spawn, which re-runs the caller's
# script in every rank and so starts the fit again in a script without an
# ``if __name__ == "__main__":`` guard. The caller's import path comes along
# (a package found through the script's folder or sys.path edits), and a
# failed rank exits quietly: its error is in the folder, for the caller.
RANK_COMMAND = """
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
from sk_autoencoder._distributed import _rank_main
try:
    _rank_main(sys.argv[2], int(sys.argv[3]))
except BaseException:
    sys.exit(1)
"""


def _cloudpickle():
    """cloudpickle (joblib's dependency), which carries ``__main__`` classes by value."""
    try:
        import cloudpickle
    except ImportError:  # joblib < 1.5 vendored it
        from joblib.externals import cloudpickle
    return cloudpickle


def _dumps(obj, estimator):
    """cloudpickle's bytes of ``obj``, after the ``__main__`` classes of the estimator's net.

    skorch pickles a net's modules, criteria and optimisers with plain
    pickle, which names a class defined in ``__main__`` (a script's, a
    notebook's) instead of carrying it, so a process with another
    ``__main__`` (a rank, a dask worker, the caller receiving a rank's
    model) could not load it. Those classes go first, by value (cloudpickle
    maps them back to the sender's own class objects), and :func:`_loads`
    puts them in ``__main__`` while it loads the rest.
    """
    cloudpickle = _cloudpickle()
    classes = _main_classes(estimator)
    with _in_main(classes):
        return cloudpickle.dumps(classes) + cloudpickle.dumps(obj)


def _loads(data):
    """The object that :func:`_dumps` wrote."""
    stream = io.BytesIO(data)
    classes = pickle.load(stream)
    with _in_main(classes):
        return pickle.load(stream)


def _main_classes(estimator):
    """The top-level ``__main__`` classes among the torch objects that skorch pickles."""
    net = getattr(estimator, "net_", None)
    if net is None:
        return []
    found = {}
    for key, value in vars(net).items():
        if isinstance(key, str) and key.startswith(tuple(net.cuda_dependent_attributes_)):
            objects = value.modules() if isinstance(value, torch.nn.Module) else [value]
            for obj in objects:
                cls = type(obj)
                if cls.__module__ == "__main__" and "." not in cls.__qualname__:
                    found[cls.__qualname__] = cls
    return list(found.values())


@contextlib.contextmanager
def _in_main(classes):
    """Make ``classes`` importable from ``__main__`` for a while (a worker outlives a fit)."""
    main = sys.modules["__main__"]
    missing = object()
    saved = {cls.__qualname__: getattr(main, cls.__qualname__, missing) for cls in classes}
    for cls in classes:
        setattr(main, cls.__qualname__, cls)
    try:
        yield
    finally:
        for name, previous in saved.items():
            if previous is missing:
                delattr(main, name)
            else:
                setattr(main, name, previous)


def fit(estimator, X):
    """Fit ``estimator`` data-parallel as its ``distributed`` says; return the validated X."""
    mode = estimator.distributed
    warm = estimator.warm_start and hasattr(estimator, "net_")
    if mode == "torchrun":
        return _fit_torchrun(estimator, X, warm)
    if mode == "dask":
        return _fit_dask(estimator, X, warm)
    return _fit_local(estimator, X, warm, int(mode))


def _backend(estimator):
    return "nccl" if estimator._resolve_device() == "cuda" else "gloo"


def _device(estimator, local_rank):
    device = estimator._resolve_device()
    return f"cuda:{local_rank}" if device == "cuda" else "cpu"


def _threads(estimator, world):
    """torch threads per rank: ``n_threads``, else the cores shared among the local ranks."""
    if estimator.n_threads is not None:
        return estimator.n_threads
    return max(1, (os.cpu_count() or 1) // world)


# --------------------------------------------------------------------------
# distributed=N: local ranks started by torch's elastic agent


def _fit_local(estimator, X, warm, world):
    data, X = estimator._prepare(X, reset=not warm)
    with tempfile.TemporaryDirectory(prefix="sk_autoencoder-") as folder:
        folder = Path(folder)
        payload = {
            "estimator": estimator,
            "source": _share(data, folder),
            "warm": warm,
        }
        (folder / PAYLOAD).write_bytes(_dumps(payload, estimator))
        _launch(folder, world, estimator.distributed_timeout)
        fitted, caught = _loads((folder / RESULT).read_bytes())
    _adopt(estimator, fitted, caught)
    return X


@contextlib.contextmanager
def _recorded_warnings():
    """Collect a rank's warnings as ``(category, text)``, for the caller to raise once."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = []
        yield records
        records.extend((w.category, str(w.message)) for w in caught)


def _adopt(estimator, fitted, caught):
    """Give the caller's estimator rank 0's fitted state and warnings."""
    estimator.__dict__.update(vars(fitted))
    for category, text in dict.fromkeys(caught):
        warn_at_caller(text, category)


def _share(data, folder):
    """How ranks open ``data``: a descriptor, never the rows themselves."""
    if not isinstance(data, StreamData):
        # One copy of the validated training rows, mapped by every rank.
        path = folder / "X.npy"
        rows = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=data.shape)
        step = max(1, (64 << 20) // (4 * max(1, data.shape[1])))
        for start in range(0, len(data), step):
            rows[start : start + step] = data[start : start + step]
        rows.flush()
        del rows
        return {"kind": "npy", "path": str(path)}
    X = data.source.X
    chunk_rows = data.source.chunk_rows
    if isinstance(X, np.memmap):
        base = X.base if isinstance(X.base, np.memmap) else X
        return {
            "kind": "memmap",
            "path": X.filename,
            "offset": X.offset,
            "dtype": X.dtype.str,
            "shape": X.shape,
            "order": "F" if X.flags.f_contiguous and not X.flags.c_contiguous else "C",
            "chunk_rows": chunk_rows,
            "mode": base.mode if hasattr(base, "mode") else "r",
        }
    if type(X).__module__.split(".")[0] == "h5py":
        return {
            "kind": "h5py",
            "path": X.file.filename,
            "name": X.name,
            "chunk_rows": chunk_rows,
        }
    # zarr arrays pickle as a reference to their store; dask arrays as their graph.
    return {"kind": "object", "array": X, "chunk_rows": chunk_rows}


def _open(source, estimator, shard):
    """The rank's training data from a descriptor of :func:`_share`."""
    if source["kind"] == "npy":
        return np.load(source["path"], mmap_mode="r")
    if source["kind"] == "memmap":
        X = np.memmap(
            source["path"],
            dtype=np.dtype(source["dtype"]),
            mode="r",
            offset=source["offset"],
            shape=tuple(source["shape"]),
            order=source["order"],
        )
    elif source["kind"] == "h5py":
        h5py = import_optional("h5py", "scale")
        X = h5py.File(source["path"], "r")[source["name"]]
    else:
        X = source["array"]
    chunked = ChunkedArray(X, source["chunk_rows"], check=estimator._check_values)
    start, stop = shard.span(chunked.n_chunks)
    if start == stop:
        raise ValueError(
            f"X has {chunked.n_chunks} chunk(s) of {chunked.chunk_rows} rows, fewer than the "
            f"{shard.world} ranks: rank {shard.rank} would have no data. Lower chunk_size or "
            "use fewer ranks."
        )
    shard.n_rows = chunked.shape[0]
    return StreamData(chunked).shard(list(range(start, stop)))


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port():
    """``MASTER_PORT`` when the caller set it (checked free), else a free port."""
    given = os.environ.get("MASTER_PORT")
    if not given:
        return _free_port()
    port = int(given)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ValueError(
                f"MASTER_PORT={port} is already in use on 127.0.0.1, so the ranks cannot "
                "meet there. Unset MASTER_PORT to let fit pick a free port, or choose "
                "another."
            ) from None
    return port


def _launch(folder, world, timeout):
    """Run :func:`_rank_main` on ``world`` local ranks; raise the failed rank's error."""
    import logging

    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=world,
        run_id=uuid.uuid4().hex,
        rdzv_backend="static",
        rdzv_endpoint=f"127.0.0.1:{_port()}",
        rdzv_configs={"rank": 0, "timeout": int(timeout)},
        max_restarts=0,
        monitor_interval=0.1,
        logs_specs=DefaultLogsSpecs(log_dir=str(folder / "logs")),
    )
    # The agent logs every start and stop, and a failed rank's traceback,
    # which the caller gets as an exception: a fit is quiet. (Its modules
    # set their loggers' levels themselves, so each one is quietened.)
    loggers = [
        logging.getLogger(name)
        for name in [
            "torch.distributed.elastic",
            "torch.multiprocessing",
            *logging.root.manager.loggerDict,
        ]
        if name.startswith(("torch.distributed.elastic", "torch.multiprocessing"))
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        path = json.dumps([p for p in sys.path if p])
        elastic_launch(config, sys.executable)("-c", RANK_COMMAND, path, str(folder), str(world))
    except ChildFailedError as exc:
        raise _rank_error(folder, world, exc.failures) from None
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if type(exc).__name__ == "SignalException":  # Ctrl-C or SIGTERM reached the agent
            raise KeyboardInterrupt from None
        raise
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _rank_main(folder, world):
    """A local rank's work (:data:`RANK_COMMAND` calls it in each process)."""
    folder = Path(folder)
    rank = int(os.environ["RANK"])
    try:
        payload = _loads((folder / PAYLOAD).read_bytes())
        estimator = payload["estimator"]
        shard = Shard(rank, world, device=_device(estimator, int(os.environ["LOCAL_RANK"])))
        _init_group(estimator, shard)
        try:
            data = _open(payload["source"], estimator, shard)
            with torch_threads(_threads(estimator, world)), _recorded_warnings() as caught:
                _fit_on_rank(estimator, data, payload["warm"], shard)
        finally:
            torch.distributed.destroy_process_group()
        if rank == 0:
            partial = folder / f"{RESULT}.part"
            partial.write_bytes(_dumps((estimator, caught), estimator))
            partial.rename(folder / RESULT)
    except BaseException as exc:
        _write_error(folder, rank, exc)
        raise


def _fit_on_rank(estimator, data, warm, shard):
    """Train this rank's part, then wait until every rank has done the same.

    The barrier keeps a rank that finished first from tearing its process
    group down while a peer still has an operation in flight on it (gloo
    aborts a process whose peer closes a pair under a pending operation).
    """
    estimator._fit_prepared(data, warm, shard)
    torch.distributed.barrier()


def _init_group(estimator, shard):
    backend = _backend(estimator)
    if shard.device.startswith("cuda"):
        torch.cuda.set_device(shard.device)
    torch.distributed.init_process_group(
        backend, timeout=datetime.timedelta(seconds=estimator.distributed_timeout)
    )


def _write_error(folder, rank, exc):
    record = {
        "time": time.time(),
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": traceback.format_exc(),
    }
    try:
        record["exception"] = pickle.dumps(exc)
    except Exception:  # an exception that does not pickle still has its text
        pass
    partial = folder / f"error-{rank}.part"
    partial.write_bytes(pickle.dumps(record))
    partial.rename(folder / f"error-{rank}.pkl")


def _rank_error(folder, world, failures):
    """The caller's exception for a failed local launch: what the first failing rank hit.

    A rank that fails makes the others fail too (their collectives lose a
    peer, or the agent stops them), so the secondary failures are set
    aside: a data or settings error (ValueError, TypeError) first, then a
    rank killed by a signal without reporting anything (one the agent did
    not stop with SIGTERM first), then the earliest reported error.
    """
    records = {}
    for path in folder.glob("error-*.pkl"):
        records[int(path.stem.split("-")[1])] = pickle.loads(path.read_bytes())
    primary = {r: rec for r, rec in records.items() if rec["type"] in PRIMARY}
    if primary:
        return _root_cause(primary, world)
    killed = {
        rank: failure
        for rank, failure in failures.items()
        if rank not in records and failure.exitcode is not None and failure.exitcode < 0
    }
    if killed:
        # The agent stops the surviving ranks with SIGTERM: a rank killed by
        # any other signal is the one that started the failure.
        rank, failure = min(
            killed.items(), key=lambda item: (item[1].exitcode == -signal.SIGTERM, item[0])
        )
        return RuntimeError(
            f"Rank {rank} of {world} (pid {failure.pid}) was killed by signal "
            f"{failure.signal_name()}; the other ranks were stopped."
        )
    if records:
        return _root_cause(records, world)
    rank, failure = min(failures.items())
    return RuntimeError(
        f"Rank {rank} of {world} (pid {failure.pid}) exited with code {failure.exitcode} "
        "before it could report an error; the other ranks were stopped."
    )


# Errors that a rank's own data or settings cause, rather than a lost peer.
PRIMARY = ("ValueError", "TypeError", "KeyboardInterrupt")


def _root_cause(records, world):
    """The error that started a failure: data and settings errors first, then the earliest."""

    def rank_key(item):
        rank, record = item
        return (record["type"] not in PRIMARY, record["time"])

    rank, record = min(records.items(), key=rank_key)
    exc = pickle.loads(record["exception"]) if "exception" in record else None
    if isinstance(exc, KeyboardInterrupt):
        return KeyboardInterrupt()
    kind = type(exc) if isinstance(exc, (ValueError, TypeError)) else RuntimeError
    error = kind(f"Rank {rank} of {world} failed: {record['message']}")
    if kind is RuntimeError:
        error.add_note(record["traceback"])
    return error


# --------------------------------------------------------------------------
# distributed="torchrun": this process is one rank of an external launcher


def _fit_torchrun(estimator, X, warm):
    missing = [name for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK") if name not in os.environ]
    if missing:
        raise ValueError(
            f"distributed='torchrun' joins the ranks of a launcher, but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set: this process was not started "
            "by torchrun. Run the script with torchrun --nproc_per_node N script.py, or "
            "set distributed=N to start N processes from fit."
        )
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist = torch.distributed
    created = not dist.is_initialized()
    shard = Shard(rank, world, device=_device(estimator, int(os.environ["LOCAL_RANK"])))
    if created:
        _init_group(estimator, shard)
    try:
        if dist.get_world_size() != world:
            raise ValueError(
                f"WORLD_SIZE={world}, but the process group has {dist.get_world_size()} "
                "ranks; start every rank with the same launcher settings."
            )
        data, X = estimator._prepare(X, reset=not warm)
        if isinstance(data, StreamData):
            start, stop = shard.span(data.source.n_chunks)
            shard.n_rows = len(data)
            data = data.shard(list(range(start, stop)))
        _fit_on_rank(estimator, data, warm, shard)
    finally:
        if created:
            dist.destroy_process_group()
    return X


def is_writer(estimator):
    """Whether this process writes files for ``estimator`` (rank 0 of a torchrun fit)."""
    if getattr(estimator, "distributed", None) != "torchrun":
        return True
    return int(os.environ.get("RANK", "0")) == 0


# --------------------------------------------------------------------------
# distributed="dask": one rank per worker of a dask.distributed cluster


def _fit_dask(estimator, X, warm):
    distributed = import_optional("distributed", "scale")
    try:
        client = distributed.get_client()
    except ValueError:
        raise ValueError(
            "distributed='dask' trains on the workers of the active dask.distributed "
            "Client, and there is none; create one first (Client(...) or "
            "with Client(...):)."
        ) from None
    workers = sorted(client.scheduler_info()["workers"])
    world = len(workers)
    if world == 0:
        raise ValueError("The dask cluster has no workers to train on.")
    reference = X
    if not is_dask(X):
        data, X = estimator._prepare(X, reset=not warm)
        if isinstance(data, StreamData):
            raise TypeError(
                "distributed='dask' takes a dask array (each worker trains on its own "
                "partitions) or an in-memory array; for a memmap, zarr or h5py source "
                "use distributed=N, or wrap it with dask.array.from_array."
            )
        blocks, starts = _scatter(client, data, workers)
    else:
        data, _ = estimator._prepare(X, reset=not warm)  # shape checks; chunks checked on ranks
        blocks, starts = _locate(client, X, workers, estimator._chunk_rows())
    host = distributed.comm.get_address_host(workers[0])
    port = client.run(_free_port, workers=[workers[0]])[workers[0]]
    payload = _dumps({"estimator": estimator, "warm": warm}, estimator)
    futures = [
        client.submit(
            _dask_rank,
            payload,
            rank,
            world,
            host,
            port,
            blocks[w],
            starts[w],
            len(data),
            workers=[w],
            allow_other_workers=False,
            pure=False,
            key=f"sk_autoencoder-rank-{rank}-{uuid.uuid4().hex}",
        )
        for rank, w in enumerate(workers)
    ]
    distributed.wait(futures, timeout=None)
    records = {}
    for rank, future in enumerate(futures):
        if future.status == "error":
            exc = future.exception()
            records[rank] = {
                "time": getattr(exc, "rank_time", rank),
                "type": type(exc).__name__,
                "message": str(exc),
                "traceback": "".join(traceback.format_exception(exc)),
                "exception": pickle.dumps(exc),
            }
    if records:
        raise _root_cause(records, world)
    fitted, caught = _loads(futures[0].result())
    _adopt(estimator, fitted, caught)
    return reference


def _scatter(client, data, workers):
    """An in-memory array's rows split evenly over the workers, shipped once each."""
    world = len(workers)
    blocks, starts = {}, {}
    for rank, w in enumerate(workers):
        start, stop = Shard(rank, world).span(len(data))
        blocks[w] = [client.scatter(np.ascontiguousarray(data[start:stop]), workers=[w])]
        starts[w] = [start]
    return blocks, starts


def _locate(client, X, workers, chunk_rows):
    """The dask array's blocks, computed where dask puts them, balanced over the workers.

    Every rank takes as many steps per epoch as the smallest shard holds
    batches, so the rows are balanced: each block stays on a worker that
    holds it while that worker has less than its share of rows, and only
    the blocks left over move, to the workers with the fewest rows.
    """
    from distributed import futures_of, wait

    if chunk_rows:
        X = X.rechunk({0: chunk_rows})
    X = X.rechunk({1: -1})
    persisted = client.persist(X)
    futures = futures_of(persisted)
    wait(futures)  # the blocks exist somewhere before we ask where
    by_key = {f.key: f for f in futures}
    keys = sorted(by_key, key=lambda key: key[1] if isinstance(key, tuple) else 0)
    if len(keys) < len(workers):
        raise ValueError(
            f"X has {len(keys)} row block(s) for {len(workers)} dask workers: every worker "
            "needs one to train on. Rechunk X (e.g. X.rechunk({0: rows})) or set chunk_size."
        )
    sizes = list(X.chunks[0])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    share = offsets[-1] / len(workers)
    holders = client.who_has(list(by_key.values()))
    blocks = {w: [] for w in workers}
    starts = {w: [] for w in workers}
    rows = dict.fromkeys(workers, 0)

    def assign(i, w):
        blocks[w].append(by_key[keys[i]])
        starts[w].append(int(offsets[i]))
        rows[w] += sizes[i]

    left = []
    for i, key in enumerate(keys):
        local = [w for w in holders.get(key, ()) if w in rows and rows[w] < share]
        if local:
            assign(i, min(local, key=rows.get))
        else:
            left.append(i)
    for i in left:
        assign(i, min(workers, key=lambda w: (rows[w], len(blocks[w]))))
    return blocks, starts


def _dask_rank(payload, rank, world, host, port, blocks, starts, n_rows):
    """A rank on a dask worker: join the group, train on the local blocks."""
    dist = torch.distributed
    try:
        state = _loads(payload)
        estimator = state["estimator"]
        shard = Shard(rank, world, n_rows=n_rows, device=_device(estimator, 0))
        dist.init_process_group(
            _backend(estimator),
            init_method=f"tcp://{host}:{port}",
            rank=rank,
            world_size=world,
            timeout=datetime.timedelta(seconds=estimator.distributed_timeout),
        )
        try:
            data = StreamData(BlockSource(blocks, starts, check=estimator._check_values))
            with torch_threads(estimator.n_threads or 1), _recorded_warnings() as caught:
                _fit_on_rank(estimator, data, state["warm"], shard)
        finally:
            # Leaving the group fails the others' next collective at once.
            dist.destroy_process_group()
    except BaseException as exc:
        exc.rank_time = time.time()
        raise
    return _dumps((estimator, caught), estimator) if rank == 0 else None
