"""PCA of the rows given to ``fit``, for ``init="pca"``.

The starting point is the PCA a user would fit on the same rows (the
validation split of ``early_stopping`` included: keeping it when no epoch
beats it on the validation rows then means ending at or below that PCA).
It is computed in one pass over row chunks, without a copy of the data:
the mean and the scatter matrix ``X^T X`` are accumulated in float64 and
eigendecomposed (for up to ``MOMENTS_MAX_FEATURES`` features; wider data
use scikit-learn's ``IncrementalPCA`` over the chunks). Data-parallel
ranks all-reduce their sums, so that every rank starts from the PCA of all
ranks' rows while reading only its own.
"""

import numpy as np
from sklearn.decomposition import IncrementalPCA

from ._data import CHUNK_BYTES, StreamData

# Up to this many features, the scatter matrix (8 * F^2 bytes) and its
# eigendecomposition are cheap; beyond, IncrementalPCA's memory is linear in F.
MOMENTS_MAX_FEATURES = 4096


def training_pca(data, n_components, seed=0, shard=None):
    """``(mean, components)``, float32, of PCA on the rows given to fit.

    ``components`` has ``n_components`` rows; when the data have fewer
    dimensions or rows than that, the missing components are zero (codes
    that the residual networks may learn to use).

    Parameters
    ----------
    data : ndarray or StreamData
        In memory or streamed (a data-parallel rank's own chunks).
    n_components : int
    seed : int
        Unused by the moments; kept for IncrementalPCA's determinism.
    shard : Shard or None
        A data-parallel rank: the sums are all-reduced across the ranks.
    """
    n_features = data.source.shape[1] if isinstance(data, StreamData) else data.shape[1]
    if n_features <= MOMENTS_MAX_FEATURES:
        mean, components = _from_moments(_chunks(data), n_features, n_components, shard)
    else:
        if shard is not None and shard.world > 1:
            raise ValueError(
                f"init='pca' with distributed training needs at most {MOMENTS_MAX_FEATURES} "
                f"features (the ranks share PCA's moments), got {n_features}; use "
                "init='random' or distributed=None."
            )
        mean, components = _incremental(_chunks(data), n_features, n_components)
    full = np.zeros((n_components, n_features), dtype=np.float32)
    full[: len(components)] = components
    return mean.astype(np.float32), full


def _chunks(data):
    """Row chunks of ``data`` (validated as they are read when streamed)."""
    if isinstance(data, StreamData):
        for c in data.chunk_ids:
            yield data.chunk(c)
        return
    rows = max(1, CHUNK_BYTES // (8 * max(1, data.shape[1])))
    for start in range(0, len(data), rows):
        yield np.asarray(data[start : start + rows])


def _from_moments(chunks, n_features, n_components, shard):
    """PCA from the sums of x and x x^T: one pass, no copy, float64 sums."""
    count, total = 0, np.zeros(n_features)
    scatter = np.zeros((n_features, n_features))
    for X in chunks:
        X = X.astype(np.float64, copy=False)
        count += len(X)
        total += X.sum(axis=0)
        scatter += X.T @ X
    if shard is not None and shard.world > 1:
        import torch
        import torch.distributed as dist

        sums = torch.from_numpy(np.concatenate([[count], total, scatter.ravel()]))
        if torch.device(shard.device).type == "cuda":
            sums = sums.cuda()
        dist.all_reduce(sums)
        sums = sums.cpu().numpy()
        count, total = sums[0], sums[1 : 1 + n_features]
        scatter = sums[1 + n_features :].reshape(n_features, n_features)
    mean = total / count
    covariance = scatter / count - np.outer(mean, mean)
    _, vectors = np.linalg.eigh(covariance)
    k = min(n_components, n_features, int(count))
    components = vectors[:, ::-1][:, :k].T
    # scikit-learn's sign convention: each component's largest entry positive.
    signs = np.sign(components[np.arange(k), np.argmax(np.abs(components), axis=1)])
    return mean, components * np.where(signs == 0, 1, signs)[:, None]


def _incremental(chunks, n_features, n_components):
    """IncrementalPCA over the chunks, merging short ones.

    It tracks more components than asked for and keeps the leading ones:
    an incremental SVD truncated to exactly k components between chunks
    loses what the next chunk would have promoted into the top k.
    """
    pending, pca = [], None
    for X in chunks:
        pending.append(X)
        rows = sum(map(len, pending))
        if pca is None:
            wanted = min(n_components, n_features)
            pca = IncrementalPCA(min(n_features, max(2 * wanted, wanted + 20)))
        if rows >= pca.n_components:
            pca.partial_fit(np.concatenate(pending))
            pending = []
    if pending and (not hasattr(pca, "components_") or sum(map(len, pending)) >= pca.n_components):
        pca.partial_fit(np.concatenate(pending))
    return pca.mean_, pca.components_[: min(n_components, n_features)]
