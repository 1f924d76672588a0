"""Reconstruction error for any fitted transformer with ``inverse_transform``.

These helpers work the same for :class:`~sklearn.decomposition.PCA`,
:class:`~sklearn.decomposition.KernelPCA` (``fit_inverse_transform=True``),
:class:`~sklearn.decomposition.NMF`, a :class:`~sklearn.pipeline.Pipeline`
whose steps all invert, and :class:`~sk_autoencoder.AutoencoderTransformer`,
so that one ``scoring`` compares them all in ``GridSearchCV``.
"""

import numpy as np
import scipy.sparse as sp


def reconstruction_error(estimator, X, *, per_sample=False):
    """Mean squared error between ``X`` and its round trip through ``estimator``.

    The round trip is ``estimator.inverse_transform(estimator.transform(X))``;
    the error is averaged over features (and, unless ``per_sample``, over
    samples), so it is comparable across numbers of components.

    Parameters
    ----------
    estimator : fitted transformer
        Must implement ``transform`` and ``inverse_transform``.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data in the space the estimator was fitted in.
    per_sample : bool, default=False
        Return one error per sample instead of their mean.

    Returns
    -------
    error : float or ndarray of shape (n_samples,)
        The mean squared error, or each sample's when ``per_sample``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sk_autoencoder import reconstruction_error
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    >>> float(reconstruction_error(PCA(n_components=1).fit(X), X)) < 1e-20
    True
    """
    if not hasattr(estimator, "inverse_transform"):
        raise TypeError(
            f"{type(estimator).__name__} has no inverse_transform, so its "
            "reconstruction error is undefined."
        )
    X_hat = estimator.inverse_transform(estimator.transform(X))
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    X_hat = X_hat.toarray() if sp.issparse(X_hat) else np.asarray(X_hat)
    if X_hat.shape != X.shape:
        raise ValueError(
            f"inverse_transform returned shape {X_hat.shape} for input of shape {X.shape}."
        )
    errors = row_mse(X, X_hat)
    return errors if per_sample else float(np.mean(errors))


def row_mse(X, X_hat):
    """Mean over features of ``(X_hat - X) ** 2``, one value per row, in float64."""
    diff = X_hat.astype(np.float64, copy=False) - X
    return np.mean(diff * diff, axis=1)


def reconstruction_scorer(estimator, X, y=None):
    """Scorer: minus the mean squared reconstruction error (higher is better).

    Pass it as ``scoring=reconstruction_scorer`` to ``GridSearchCV`` or
    ``cross_val_score`` to tune any transformer with ``inverse_transform``
    without labels; ``y`` is ignored.

    Parameters
    ----------
    estimator : fitted transformer
        Must implement ``transform`` and ``inverse_transform``.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data in the space the estimator was fitted in.
    y : ignored
        Present for the scorer signature.

    Returns
    -------
    score : float
        ``-reconstruction_error(estimator, X)``.
    """
    return -reconstruction_error(estimator, X)
