"""AutoencoderTransformer: the scikit-learn face of the autoencoder."""

from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from ._base import FLOAT_DTYPES, BaseAutoencoder, fill_doc
from ._data import as_array, is_out_of_core
from ._parallel import torch_threads
from .networks import MLPNetwork


@fill_doc
class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseAutoencoder):
    """Autoencoder for non-linear dimensionality reduction, trained by skorch.

    An encoder maps each sample to ``n_components`` codes and a decoder
    maps the codes back; both are trained together to minimise the
    reconstruction loss with Adam. The architecture is the ``network``
    spec (by default ``MLPNetwork()``: one hidden layer of 256, GELU and
    batch norm, mirrored), and so is the recipe that trains it: the
    training settings left at ``"auto"`` take the spec's values for the
    data, and ``recipe_`` records them. ``transform``
    returns the codes, ``inverse_transform`` decodes them, and ``score`` is
    minus the mean squared reconstruction error, so the estimator can stand
    where :class:`~sklearn.decomposition.PCA` stands: in a
    :class:`~sklearn.pipeline.Pipeline`, in
    :class:`~sklearn.model_selection.GridSearchCV` (with or without labels),
    under ``clone`` and ``pickle``.

    Training runs in float32 through a :class:`skorch.NeuralNet` (the fitted
    ``net_``), so skorch's history and callbacks are available. Inference
    follows the input: float32 data are encoded in float32, float64 data in
    float64.

    Parameters
    ----------
    {shared_parameters}

    Attributes
    ----------
    {shared_attributes}

    See Also
    --------
    sklearn.decomposition.PCA : Linear dimensionality reduction.
    sklearn.neural_network.BernoulliRBM : Unsupervised neural features.
    sk_autoencoder.reconstruction_error : The same error for any transformer.

    Notes
    -----
    The default recipe (``MLPNetwork()``'s ``"fast"`` preset) starts at
    PCA (``init="pca"``) and keeps PCA's weights unless an epoch beats
    them on a validation split (``early_stopping``), so a default fit is
    never worse than PCA on its validation rows, also on near-Gaussian
    data where PCA is optimal; it trains 25 epochs of a cosine schedule
    from 7.5e-3 over batches of 64, a few seconds on MNIST-5k.
    ``network=MLPNetwork(preset="quality")`` trades about twice the fit
    time for a third less error on images, and
    ``network=ConvNetwork(image_shape)`` trains a convolutional
    autoencoder with the benchmark's recipe. The user guide's page on
    networks lists the recipes, and the benchmarks page their held-out
    figures and the searches they come from.

    References
    ----------
    G. E. Hinton and R. R. Salakhutdinov, "Reducing the dimensionality of
    data with neural networks", Science 313 (5786), 504-507, 2006.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_autoencoder import AutoencoderTransformer
    >>> X = load_digits().data / 16
    >>> ae = AutoencoderTransformer(n_components=8, max_iter=5, random_state=0)
    >>> Z = ae.fit_transform(X)
    >>> Z.shape
    (1797, 8)
    >>> ae.inverse_transform(Z).shape
    (1797, 64)
    """

    @classmethod
    def _default_network(cls):
        """The spec of ``network=None``: ``MLPNetwork()``, one hidden layer of 256 (fast preset)."""
        return MLPNetwork()

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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder to reconstruct X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. Sparse matrices are not supported.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : AutoencoderTransformer
            The fitted estimator.
        """
        self._fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train on X for one pass over its minibatches.

        The first call validates X, builds and seeds the network; later
        calls continue it, with Adam's state, so that a stream of chunks
        (files, a database cursor, a dask array's blocks) trains one model.
        Each call is one epoch: ``max_iter``, ``early_stopping`` and the
        stopping rule do not apply, and ``n_iter_`` counts the calls. After
        ``fit``, ``partial_fit`` continues the fitted model; ``fit`` after
        ``partial_fit`` starts afresh (unless ``warm_start``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data, in memory or out of core.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : AutoencoderTransformer
            The estimator, trained on one more chunk.
        """
        self._partial_fit(X)
        return self

    def transform(self, X):
        """Encode X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode: in memory, or out of core (memmap, zarr, h5py,
            dask), which is read in chunks.

        Returns
        -------
        Z : ndarray or dask array of shape (n_samples, ``n_components_``)
            The codes, in X's float dtype (float64 for integer input); a
            lazy dask array, chunked like X's rows, for dask input.
        """
        check_is_fitted(self)
        if is_out_of_core(X):
            return self._out_of_core(X, "transform", self.n_components_)
        X = self._validate_for_inference(X)
        with torch_threads(self.n_threads):
            return self.net_.encode(X)

    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, ``n_components_``)
            Codes, e.g. the output of ``transform``.

        Returns
        -------
        X_original : ndarray or dask array of shape (n_samples, ``n_features_in_``)
            Reconstructions, in the codes' float dtype.
        """
        check_is_fitted(self)
        if is_out_of_core(X):
            return self._out_of_core(
                X, "inverse_transform", self.n_features_in_, n_inputs=self.n_components_
            )
        Z = check_array(as_array(X), dtype=FLOAT_DTYPES, input_name="X")
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects "
                f"{self.n_components_} (the fitted n_components_)."
            )
        with torch_threads(self.n_threads):
            return self.net_.decode(Z)

    def score_samples(self, X):
        """Return minus each sample's mean squared reconstruction error.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples to score.

        Returns
        -------
        scores : ndarray or dask array of shape (n_samples,)
            Higher is better; 0 is a perfect reconstruction.
        """
        return -self._reconstruction_errors(X)

    def score(self, X, y=None):
        """Return minus the mean squared reconstruction error on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples to score.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Higher is better; usable directly by ``GridSearchCV``.
        """
        return -self._mean_error(X)

    @property
    def _n_features_out(self):
        # The fitted width, not the parameter: set_params after fit must not
        # change what the fitted model reports. Raises AttributeError (so
        # get_feature_names_out raises NotFittedError) before fit.
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
