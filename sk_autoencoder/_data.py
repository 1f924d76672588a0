"""Data sources: everything that turns ``X`` into minibatches and row chunks.

In memory, the training data become one float32 tensor and minibatches are
slices of a seeded permutation (``TensorData``, ``BatchIterator``).

Out of core (NumPy memmaps, zarr arrays, h5py datasets, dask arrays), ``X`` is
never read whole: ``ChunkedArray`` reads row chunks and validates each one as
it is read, ``StreamData`` is the skorch dataset over those chunks (with a
seeded, chunk-wise validation split), and ``StreamBatchIterator`` shuffles
the chunk order and the rows within a bounded buffer of chunks. When the
whole array is one chunk, the streamed batches are exactly the in-memory
ones, so a streamed fit equals the in-memory fit bit for bit.

Nothing here imports zarr, h5py or dask: sources are recognised by their
type's module, and dask is imported only to build a lazy output.
"""

import math
import threading
import warnings

import numpy as np
import torch
from sklearn.model_selection import ShuffleSplit
from torch.utils.data import Dataset, Subset

from ._parallel import torch_threads

FLOAT_DTYPES = (np.float64, np.float32)
# An automatic chunk holds about this many bytes of float32 rows; a training
# buffer holds SHUFFLE_BUFFER_CHUNKS chunks.
CHUNK_BYTES = 32 << 20
SHUFFLE_BUFFER_CHUNKS = 4
_OUT_OF_CORE_MODULES = ("dask", "zarr", "h5py")


def as_array(X):
    """Return a torch tensor's data as a NumPy array; anything else unchanged.

    sklearn's validation would turn a float32 tensor into float64 (it does
    not know torch dtypes); converting first keeps float32 in, float32 out.
    Half-precision tensors become float32, which NumPy can hold.
    """
    if not isinstance(X, torch.Tensor):
        return X
    X = X.detach()
    if X.is_floating_point() and X.dtype not in (torch.float32, torch.float64):
        X = X.float()
    return X.cpu().resolve_conj().resolve_neg().numpy()


def as_tensor(X, dtype=torch.float32, device="cpu"):
    """Convert an array to a C-contiguous tensor with at most one copy."""
    if isinstance(X, torch.Tensor):
        return X.to(device=device, dtype=dtype).contiguous()
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    X = np.ascontiguousarray(X, dtype=np_dtype)
    with warnings.catch_warnings():
        # Read-only inputs (memmaps) are only ever read.
        warnings.filterwarnings("ignore", message="The given NumPy array is not")
        return torch.as_tensor(X).to(device)


def is_out_of_core(X):
    """Whether X is read in chunks: a memmap, or a dask, zarr or h5py array."""
    if isinstance(X, np.memmap):
        return True
    package = type(X).__module__.split(".")[0]
    return package in _OUT_OF_CORE_MODULES and hasattr(X, "shape") and hasattr(X, "dtype")


def is_dask(X):
    """Whether X is a dask array (its methods then return dask arrays)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "map_blocks")


def import_optional(name, extra):
    """Import an optional dependency, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(
            f"{name} is needed for this and is not installed; install it with "
            f'pip install "sk-autoencoder[{extra}]".'
        ) from exc


class TensorData(Dataset):
    """The training data as one tensor; each sample is its own target."""

    def __init__(self, X):
        self.X = X

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.X[i]


def _n_batches(n_rows, batch_size, drop_singleton):
    n_batches = -(-n_rows // batch_size)
    if drop_singleton and n_rows > 1 and n_rows % batch_size == 1:
        n_batches -= 1
    return n_batches


class Shard:
    """One rank's place in data-parallel training: ``rank`` of ``world`` processes.

    The batch sources use it to read only this rank's part of the data;
    launching the ranks and the process group belong to ``_distributed``.
    ``n_rows`` counts the rows of all ranks (None: the data the rank holds
    are all of them), and ``device`` is the rank's torch device.
    """

    def __init__(self, rank, world, n_rows=None, device="cpu"):
        self.rank = rank
        self.world = world
        self.n_rows = n_rows
        self.device = device

    def span(self, n):
        """``(start, stop)`` of this rank's share of ``n`` items, split as evenly as possible."""
        base, extra = divmod(n, self.world)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (self.rank < extra)

    def __repr__(self):
        return f"Shard(rank={self.rank}, world={self.world})"


class BatchIterator:
    """Minibatches sliced from a tensor, optionally in a fresh random order.

    With a ``shard``, training batches are this rank's part of each global
    batch: every rank draws the same permutation (the same generator
    state), splits each global batch of ``batch_size`` rows as evenly as
    possible, and takes its part, so that N ranks together visit the very
    batches one process would. ``weight`` is then the factor that makes the
    rank's mean loss, averaged over ranks by DDP, the global batch's mean.
    Evaluation passes (no generator) read the rank's contiguous share of
    the rows.

    Parameters
    ----------
    X : torch.Tensor
        All rows, already on the training device.
    indices : torch.Tensor or None
        The rows of ``X`` to iterate over (a validation split); None for all.
    batch_size : int
        Rows per batch (per global batch with a shard).
    generator : torch.Generator or None
        Draws one permutation per pass; None keeps the stored order.
    drop_singleton : bool
        Skip a trailing batch of one row (batch norm cannot train on it);
        with a shard, a trailing global batch too small to give every rank
        two rows.
    shard : Shard or None
    """

    def __init__(self, X, indices, batch_size, generator=None, drop_singleton=False, shard=None):
        self.X = X
        self.indices = indices
        self.batch_size = batch_size
        self.generator = generator
        self.drop_singleton = drop_singleton
        self.shard = shard
        self.weight = 1.0

    def _n_rows(self):
        return len(self.X) if self.indices is None else len(self.indices)

    def _sharded_training(self):
        return self.shard is not None and self.generator is not None

    def __len__(self):
        n_rows = self._n_rows()
        if self.shard is not None and self.generator is None:
            start, stop = self.shard.span(n_rows)
            return _n_batches(stop - start, self.batch_size, False)
        if not self._sharded_training():
            return _n_batches(n_rows, self.batch_size, self.drop_singleton)
        n_batches = -(-n_rows // self.batch_size)
        last = n_rows - (n_batches - 1) * self.batch_size
        if n_batches and last < self.shard.world * (2 if self.drop_singleton else 1):
            n_batches -= 1
        return n_batches

    def __iter__(self):
        n_rows = self._n_rows()
        order = self.indices
        if self.generator is not None:
            perm = torch.randperm(n_rows, generator=self.generator)
            order = perm if order is None else order[perm]
        offset = 0
        if self.shard is not None and self.generator is None:
            offset, stop = self.shard.span(n_rows)
            n_rows = stop
        if order is not None:
            order = order.to(self.X.device)
        for b in range(len(self)):
            start = offset + b * self.batch_size
            stop = min(start + self.batch_size, n_rows)
            if self._sharded_training():
                lo, hi = self.shard.span(stop - start)
                self.weight = self.shard.world * (hi - lo) / (stop - start)
                start, stop = start + lo, start + hi
            if order is None:
                Xb = self.X[start:stop]
            else:
                Xb = self.X.index_select(0, order[start:stop])
            yield Xb, Xb


def _source_row_chunk(X):
    """The row chunk of a chunked store (dask, zarr, h5py), or None."""
    chunks = getattr(X, "chunks", None)
    if not chunks:
        return None
    first = chunks[0]
    if isinstance(first, tuple):  # dask: a tuple of sizes per dimension
        first = first[0] if first else None
    return int(first) if first else None


def auto_chunk_rows(X):
    """About ``CHUNK_BYTES`` of float32 rows, a multiple of the store's own row chunk."""
    n_rows, n_features = X.shape
    rows = max(1, CHUNK_BYTES // (4 * max(1, n_features)))
    source = _source_row_chunk(X)
    if source:
        rows = max(source, rows // source * source)
    return max(1, min(rows, n_rows))


def check_finite(chunk, start):
    """Raise ValueError naming the first row of ``chunk`` with a NaN or infinity.

    ``start`` is the chunk's first row in the whole array.
    """
    # The common case in one pass and O(1) memory, as sklearn does: a sum is
    # finite when every value is (an overflowing sum falls through to the
    # exact search, which then finds nothing).
    if np.isfinite(np.sum(chunk)):
        return
    finite = np.isfinite(chunk)
    if finite.all():
        return
    row = int(np.flatnonzero(~finite.all(axis=1))[0])
    bad = chunk[row][~finite[row]][0]
    kind = "NaN" if np.isnan(bad) else "infinity"
    raise ValueError(
        f"Input X contains {kind} in row {start + row} (read in the chunk of rows "
        f"{start} to {start + len(chunk) - 1})."
    )


class _Chunks:
    """Reading of validated chunks, for sources with ``bounds`` and ``_raw``."""

    def read(self, c):
        """Chunk ``c`` as a validated NumPy array of ``dtype``."""
        start, stop = self.bounds(c)
        chunk = np.asarray(self._raw(c), dtype=self.dtype)
        check_finite(chunk, start)
        if self.check is not None:
            self.check(chunk, f" (in the chunk of rows {start} to {stop - 1})")
        return chunk

    def __iter__(self):
        """Yield ``(start, chunk)`` in order."""
        for c in range(self.n_chunks):
            yield self.bounds(c)[0], self.read(c)


class ChunkedArray(_Chunks):
    """A 2-D array read in row chunks, each validated as it is read.

    Only the shape and dtype are looked at up front; values are checked
    chunk by chunk, and an error names the first offending row, so a NaN in
    row 9,000,001 is found when its chunk is read, before it reaches the
    network.

    Parameters
    ----------
    X : array-like with ``shape``, ``dtype`` and row slicing
        A memmap, zarr array, h5py dataset or dask array.
    chunk_rows : int or None
        Rows per chunk; None picks :func:`auto_chunk_rows`.
    check : callable or None
        ``check(chunk, where)`` raises for values the caller cannot use;
        ``where`` is text naming the chunk's rows.

    Attributes
    ----------
    dtype : numpy dtype
        The float dtype chunks are returned in: float32 for float32 sources,
        float64 otherwise (as ``check_array`` converts integers).
    n_chunks : int
    """

    def __init__(self, X, chunk_rows=None, check=None):
        shape = tuple(X.shape)
        if len(shape) != 2:
            raise ValueError(
                f"Expected 2D array, got {len(shape)}D array of shape {shape} instead."
            )
        kind = np.dtype(X.dtype).kind
        if kind == "c":
            raise ValueError("Complex data not supported.")
        if kind not in "fiub":
            raise ValueError(f"X has dtype {X.dtype}; a numeric dtype is required.")
        if shape[0] < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is required."
            )
        if shape[1] < 1:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required."
            )
        self.X = X
        self.shape = shape
        self.dtype = np.dtype(np.float32 if X.dtype == np.float32 else np.float64)
        self.chunk_rows = int(chunk_rows) if chunk_rows else auto_chunk_rows(X)
        self.n_chunks = -(-shape[0] // self.chunk_rows)
        self.check = check

    def bounds(self, c):
        """``(start, stop)`` rows of chunk ``c``."""
        start = c * self.chunk_rows
        return start, min(start + self.chunk_rows, self.shape[0])

    def head(self):
        """The first chunk as a NumPy array, not validated."""
        return np.asarray(self.X[slice(*self.bounds(0))])

    def _raw(self, c):
        chunk = self.X[slice(*self.bounds(c))]
        return chunk.compute() if is_dask(chunk) else chunk


class BlockSource(_Chunks):
    """In-memory row blocks read like a ``ChunkedArray`` (a dask worker's partitions).

    Parameters
    ----------
    blocks : list of ndarray
        Each of shape ``(rows, n_features)``.
    starts : list of int
        Each block's first row in the whole array, for error messages.
    check : callable or None
        As for :class:`ChunkedArray`.
    """

    def __init__(self, blocks, starts, check=None):
        self.blocks = list(blocks)
        self.starts = list(starts)
        n_features = self.blocks[0].shape[1] if self.blocks else 0
        self.shape = (sum(len(b) for b in self.blocks), n_features)
        self.dtype = np.dtype(
            np.float32 if all(b.dtype == np.float32 for b in self.blocks) else np.float64
        )
        self.n_chunks = len(self.blocks)
        self.check = check

    def bounds(self, c):
        return self.starts[c], self.starts[c] + len(self.blocks[c])

    def head(self):
        return np.asarray(self.blocks[0])

    def _raw(self, c):
        return self.blocks[c]


def n_held_out(n_rows, fraction):
    """Validation rows of a split of ``n_rows``: sklearn's ShuffleSplit rounds up."""
    return math.ceil(fraction * n_rows)


class StreamData(Dataset):
    """A skorch dataset over a ``ChunkedArray``: all rows, or one side of a split.

    The validation split is drawn per chunk, as sklearn's ``ShuffleSplit``
    draws it for a whole array: chunk ``c`` of ``n`` rows holds out the first
    ``ceil(fraction * n)`` rows of ``RandomState(seed + c).permutation(n)``.
    For a single chunk this is skorch's ``ValidSplit`` exactly.

    ``chunks`` restricts the data to some of the source's chunks (a rank's
    shard in data-parallel training); None is all of them.
    """

    def __init__(self, source, part=None, fraction=None, seed=0, chunks=None):
        self.source = source
        self.part = part
        self.fraction = fraction
        self.seed = seed
        self.chunks = chunks

    @property
    def chunk_ids(self):
        """The source chunks this data reads, in source order."""
        return list(range(self.source.n_chunks)) if self.chunks is None else list(self.chunks)

    def split(self, fraction, seed):
        """The ``(train, valid)`` pair of this data."""
        return (
            StreamData(self.source, "train", fraction, seed, self.chunks),
            StreamData(self.source, "valid", fraction, seed, self.chunks),
        )

    def shard(self, chunks):
        """The same side of the split, restricted to ``chunks``."""
        return StreamData(self.source, self.part, self.fraction, self.seed, chunks)

    def _rows(self, c, n):
        if self.part is None:
            return None
        n_valid = n_held_out(n, self.fraction)
        perm = np.random.RandomState((self.seed + c) % 2**32).permutation(n)
        return perm[:n_valid] if self.part == "valid" else perm[n_valid:]

    def count(self, c):
        """Rows of chunk ``c`` on this side of the split, without reading it."""
        start, stop = self.source.bounds(c)
        n = stop - start
        if self.part is None:
            return n
        n_valid = n_held_out(n, self.fraction)
        return n_valid if self.part == "valid" else n - n_valid

    def chunk(self, c):
        """This side's rows of chunk ``c``, validated, in the split's order."""
        X = self.source.read(c)
        rows = self._rows(c, len(X))
        return X if rows is None else X[rows]

    def __len__(self):
        return sum(self.count(c) for c in self.chunk_ids)

    def __getitem__(self, i):
        raise TypeError("StreamData is read in chunks by StreamBatchIterator, not by index.")


class StreamBatchIterator:
    """Minibatches from ``StreamData``, shuffled within a bounded buffer.

    Each pass visits the chunks in an order drawn from ``generator``; it
    loads ``buffer_chunks`` of them at a time into one preallocated buffer
    (each chunk is copied in and released as it is read, so memory holds
    the buffer and the chunk being read), draws a permutation of the
    buffer's rows and yields full minibatches, carrying the remainder into
    the next buffer. Memory is bounded by the buffer, whatever the data's
    size. With one chunk, the batches are those of ``BatchIterator``.
    ``n_batches`` stops a pass after that many batches (data-parallel
    ranks take the same number of steps whatever their shard's size).
    """

    def __init__(
        self,
        data,
        batch_size,
        generator=None,
        drop_singleton=False,
        device="cpu",
        buffer_chunks=SHUFFLE_BUFFER_CHUNKS,
        n_batches=None,
    ):
        self.data = data
        self.batch_size = batch_size
        self.generator = generator
        self.drop_singleton = drop_singleton
        self.device = device
        self.buffer_chunks = buffer_chunks
        self.n_batches = n_batches
        # Set by a data-parallel net: the rank's loss weight (see BatchIterator).
        self.weight = 1.0

    def __len__(self):
        if self.n_batches is not None:
            return self.n_batches
        return _n_batches(len(self.data), self.batch_size, self.drop_singleton)

    def __iter__(self):
        order = self.data.chunk_ids
        if self.generator is not None and len(order) > 1:
            order = [order[i] for i in torch.randperm(len(order), generator=self.generator)]
        groups = [
            order[i : i + self.buffer_chunks] for i in range(0, len(order), self.buffer_chunks)
        ]
        capacity = max((sum(map(self.data.count, g)) for g in groups), default=0)
        buffer = torch.empty(
            (capacity + self.batch_size, self.data.source.shape[1]),
            dtype=torch.float32,
            device=self.device,
        )
        n_carry, yielded, limit = 0, 0, len(self)
        for g, group in enumerate(groups):
            n_rows = n_carry
            for c in group:
                chunk = self.data.chunk(c)
                buffer[n_rows : n_rows + len(chunk)].copy_(as_tensor(chunk))
                n_rows += len(chunk)
                del chunk
            if n_rows == 0:
                continue
            perm = None
            if self.generator is not None:
                perm = torch.randperm(n_rows, generator=self.generator).to(self.device)
            last = g == len(groups) - 1
            n_out = n_rows if last else n_rows // self.batch_size * self.batch_size
            if last and self.drop_singleton and n_rows > 1 and n_rows % self.batch_size == 1:
                n_out -= 1
            for start in range(0, n_out, self.batch_size):
                if yielded == limit:
                    return
                stop = min(start + self.batch_size, n_out)
                Xb = (
                    buffer[start:stop] if perm is None else buffer.index_select(0, perm[start:stop])
                )
                yielded += 1
                yield Xb, Xb
            # A copy: the rest and the buffer's front can overlap.
            rest = (
                buffer[n_out:n_rows].clone()
                if perm is None
                else buffer.index_select(0, perm[n_out:])
            )
            n_carry = len(rest)
            buffer[:n_carry] = rest


class TrainValidSplit:
    """skorch ``train_split``: hold out ``fraction`` of the rows, seeded.

    In memory this is skorch's ``ValidSplit(fraction)`` (sklearn's
    ``ShuffleSplit``); streamed data are split chunk by chunk
    (:class:`StreamData`).
    """

    def __init__(self, fraction, seed):
        self.fraction = fraction
        self.seed = seed

    def __call__(self, dataset, y=None, **kwargs):
        if isinstance(dataset, StreamData):
            return dataset.split(self.fraction, self.seed)
        splitter = ShuffleSplit(test_size=self.fraction, random_state=self.seed)
        train, valid = next(splitter.split(np.arange(len(dataset))))
        return Subset(dataset, train), Subset(dataset, valid)


def training_rows(data, early_stopping, fraction):
    """Rows of ``data`` (an array or ``StreamData``) left for training.

    With ``early_stopping``, the validation split is held out: one split of
    the whole array in memory, one per chunk when streamed.
    """
    if not early_stopping:
        return len(data)
    if isinstance(data, StreamData):
        train, _ = data.split(fraction, seed=0)  # sizes do not depend on the seed
        return len(train)
    return len(data) - n_held_out(len(data), fraction)


def dask_map(estimator, X, method, width, dtype):
    """Lazily apply ``estimator.<method>`` to each row block of a dask array.

    The estimator enters the graph once, as one delayed object that every
    block depends on, so a scheduler ships it to each worker once rather than
    with every block. Output blocks line up with the input's row chunks.
    """
    dask = import_optional("dask", "scale")
    X = X.rechunk({1: -1})
    model = dask.delayed(estimator, pure=False)
    if width is None:
        return X.map_blocks(
            _apply_method, model, method, drop_axis=1, dtype=dtype, meta=np.empty((0,), dtype)
        )
    return X.map_blocks(
        _apply_method,
        model,
        method,
        chunks=(X.chunks[0], (width,)),
        dtype=dtype,
        meta=np.empty((0, width), dtype),
    )


def _apply_method(block, estimator, method, block_info=None):
    if np.dtype(block.dtype).kind in "fc":
        check_finite(block, block_info[0]["array-location"][0][0] if block_info else 0)
    threads = estimator.n_threads
    if threads is None and threading.current_thread() is not threading.main_thread():
        # dask's threaded scheduler runs one block per core: its threads are
        # the parallelism. torch's own OpenMP team per calling thread would
        # oversubscribe the cores, and leaves the process's later torch work
        # slower (measured ~2x on 2 cores); the count is per thread, so the
        # caller's main thread keeps its setting.
        threads = 1
    with torch_threads(threads):
        return getattr(estimator, method)(block)
