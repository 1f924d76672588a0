"""AutoencoderOutlierDetector: novelty and outlier scores from reconstruction."""

from numbers import Real

import numpy as np
from sklearn.base import OutlierMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._base import BaseAutoencoder, fill_doc
from ._data import is_dask
from .networks import MLPNetwork


@fill_doc
class AutoencoderOutlierDetector(OutlierMixin, BaseAutoencoder):
    """Outlier detection by autoencoder reconstruction error.

    An autoencoder trained on (mostly normal) data reconstructs samples like
    them well and unusual samples badly. ``score_samples`` is minus each
    sample's mean squared reconstruction error (lower is more abnormal, as
    in :class:`~sklearn.ensemble.IsolationForest`); the decision threshold
    is the ``contamination`` quantile of the training scores.

    Parameters
    ----------
    {shared_parameters}

    contamination : float, default=0.1
        Expected proportion of outliers in the training data, in (0, 0.5]:
        that fraction of the training samples is predicted as outliers.

    Attributes
    ----------
    {shared_attributes}

    offset_ : float
        ``decision_function = score_samples - offset_``: the
        ``contamination`` quantile of the training scores.

    threshold_ : float
        The reconstruction error above which a sample is an outlier
        (``-offset_``), as in pyod.

    See Also
    --------
    sklearn.ensemble.IsolationForest : Isolation-based outlier detection.
    AutoencoderTransformer : The same network as a transformer.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_autoencoder import AutoencoderOutlierDetector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 20))
    >>> det = AutoencoderOutlierDetector(n_components=5, max_iter=20,
    ...                                  contamination=0.05, random_state=0).fit(X)
    >>> int((det.predict(X) == -1).sum())
    10
    """

    _task = "outlier"

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
    }

    @classmethod
    def _default_network(cls):
        """The spec of ``network=None``: two hidden layers of 256 and 128, ReLU, no batch norm."""
        return MLPNetwork((256, 128), activation="relu", batch_norm=False)

    def __init__(
        self,
        n_components=2,
        *,
        network=None,
        output_activation="auto",
        loss="auto",
        noise=None,
        noise_level=0.1,
        sparsity=0.0,
        contractive=0.0,
        alpha="auto",
        batch_size="auto",
        learning_rate_init="auto",
        learning_rate="auto",
        init="auto",
        max_iter="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        chunk_size="auto",
        n_threads=None,
        device="cpu",
        distributed=None,
        distributed_timeout=300.0,
        random_state=None,
        verbose=0,
        warm_start=False,
        contamination=0.1,
    ):
        super().__init__(
            n_components,
            network=network,
            output_activation=output_activation,
            loss=loss,
            noise=noise,
            noise_level=noise_level,
            sparsity=sparsity,
            contractive=contractive,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            learning_rate=learning_rate,
            init=init,
            max_iter=max_iter,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            chunk_size=chunk_size,
            n_threads=n_threads,
            device=device,
            distributed=distributed,
            distributed_timeout=distributed_timeout,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
        )
        self.contamination = contamination

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on X and set the decision threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, mostly normal.
        y : None
            Ignored.

        Returns
        -------
        self : AutoencoderOutlierDetector
            The fitted detector.
        """
        X = self._fit(X)
        self._set_threshold(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train on X for one pass over its minibatches, then set the threshold.

        As :meth:`AutoencoderTransformer.partial_fit`. The threshold
        (``offset_``, ``threshold_``) is then the ``contamination`` quantile
        of the scores of this call's X under the updated model: the chunk
        stands for the data, and the model has changed since earlier chunks
        were seen, so their scores would be stale. Pass a representative
        chunk last (or call :meth:`fit`) when the threshold matters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data, mostly normal.
        y : None
            Ignored.

        Returns
        -------
        self : AutoencoderOutlierDetector
            The detector, trained on one more chunk.
        """
        X = self._partial_fit(X)
        self._set_threshold(X)
        return self

    def _set_threshold(self, X):
        errors = self._reconstruction_errors(X, validated=True)
        if is_dask(errors):
            errors = errors.compute()
        self.offset_ = float(np.percentile(-errors, 100.0 * self.contamination))
        self.threshold_ = -self.offset_

    def score_samples(self, X):
        """Return minus each sample's mean squared reconstruction error.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            The lower, the more abnormal.
        """
        return -self._reconstruction_errors(X)

    def decision_function(self, X):
        """Return the shifted scores: negative for outliers, non-negative for inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        check_is_fitted(self)
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label each sample +1 (inlier) or -1 (outlier).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples to label.

        Returns
        -------
        labels : ndarray or dask array of shape (n_samples,)
            +1 where ``decision_function(X) >= 0``, else -1.
        """
        decision = self.decision_function(X)
        if is_dask(decision):
            return decision.map_blocks(_labels, dtype=np.int64)
        return _labels(decision)


def _labels(decision):
    return np.where(decision < 0, -1, 1)
