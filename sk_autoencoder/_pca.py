"""PCA on the training rows, for ``init="pca"``.

In memory, scikit-learn's ``PCA`` on the rows the net trains on (the
validation split of ``early_stopping`` held out, exactly as skorch will
hold it out). Out of core, ``IncrementalPCA`` over the training side of
each chunk, one pass, in bounded memory.
"""

import numpy as np
from sklearn.decomposition import PCA, IncrementalPCA

from ._data import StreamData, TrainValidSplit


def training_pca(data, n_components, early_stopping, fraction, seed, shard=None):
    """``(mean, components)`` of PCA on the rows a fit trains on.

    ``components`` has ``n_components`` rows; when the data have fewer
    dimensions or rows than that, the missing components are zero (codes
    that the residual networks may learn to use).

    Parameters
    ----------
    data : ndarray or StreamData
    n_components : int
    early_stopping : bool
        Hold out the validation split, as the fit will.
    fraction : float
        ``validation_fraction``.
    seed : int
        The fit's seed (it draws the split, and PCA's randomised solver).
    shard : Shard or None
        A data-parallel rank whose streamed ``data`` are its own chunks: the
        PCA is then that of every rank's rows, from their summed moments.
    """
    if isinstance(data, StreamData):
        train = data.split(fraction, seed)[0] if early_stopping else data
        if shard is not None and shard.world > 1:
            mean, components = _from_moments(train, n_components, shard)
        else:
            mean, components = _incremental(train, n_components)
    else:
        rows = data
        if early_stopping:
            train, _ = TrainValidSplit(fraction, seed)(np.arange(len(data)))
            rows = data[np.asarray(train.indices)]
        k = min(n_components, *rows.shape)
        pca = PCA(k, random_state=seed).fit(rows)
        mean, components = pca.mean_, pca.components_
    full = np.zeros((n_components, len(mean)), dtype=np.float32)
    full[: len(components)] = components
    return mean.astype(np.float32), full


def _incremental(train, n_components):
    """IncrementalPCA over the chunks of a ``StreamData``, merging short ones.

    It tracks more components than asked for and keeps the leading ones:
    an incremental SVD truncated to exactly k components between chunks
    loses what the next chunk would have promoted into the top k.
    """
    n_features = train.source.shape[1]
    wanted = min(n_components, n_features, len(train))
    k = min(n_features, len(train), max(2 * wanted, wanted + 20))
    pca = IncrementalPCA(k)
    pending = []
    for c in range(train.source.n_chunks):
        pending.append(train.chunk(c))
        if sum(map(len, pending)) >= k:
            pca.partial_fit(np.concatenate(pending))
            pending = []
    if pending:
        if hasattr(pca, "components_"):
            rows = np.concatenate(pending)
            if len(rows) >= k:
                pca.partial_fit(rows)
        else:
            pca.partial_fit(np.concatenate(pending))
    return pca.mean_, pca.components_[:wanted]


def _from_moments(train, n_components, shard):
    """PCA of all ranks' rows: sums of x and x x^T all-reduced, then an eigendecomposition.

    Every rank reads only its own chunks and ends with the same components
    (the same reduced sums, the same deterministic ``eigh``).
    """
    import torch
    import torch.distributed as dist

    n_features = train.source.shape[1]
    sums = np.zeros(1 + n_features + n_features * n_features)
    for c in train.chunk_ids:
        X = train.chunk(c).astype(np.float64)
        sums[0] += len(X)
        sums[1 : 1 + n_features] += X.sum(axis=0)
        sums[1 + n_features :] += (X.T @ X).ravel()
    total = torch.from_numpy(sums)
    if torch.device(shard.device).type == "cuda":
        total = total.cuda()
    dist.all_reduce(total)
    sums = total.cpu().numpy()
    n = sums[0]
    mean = sums[1 : 1 + n_features] / n
    covariance = sums[1 + n_features :].reshape(n_features, n_features) / n - np.outer(mean, mean)
    values, vectors = np.linalg.eigh(covariance)
    k = min(n_components, n_features, int(n))
    components = vectors[:, ::-1][:, :k].T
    # sklearn's sign convention: the largest entry of each component positive.
    signs = np.sign(components[np.arange(k), np.argmax(np.abs(components), axis=1)])
    return mean, components * signs[:, None]
