"""AutoencoderTransformer: the scikit-learn face of the autoencoder."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from skorch.callbacks import EarlyStopping, ProgressBar
from skorch.dataset import ValidSplit
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._modules import ACTIVATIONS, MLPAutoencoder
from ._net import AutoencoderNet, DivergenceCheck, TrainingDiverged
from ._scoring import reconstruction_error

_FLOAT_DTYPES = (np.float64, np.float32)
_LOSSES = {"mse": torch.nn.MSELoss, "bce": torch.nn.BCELoss}


class AutoencoderTransformer(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Autoencoder for non-linear dimensionality reduction, trained by skorch.

    A multilayer-perceptron encoder maps each sample to ``n_components``
    codes and a mirrored decoder maps the codes back; both are trained
    together to minimise the reconstruction loss with Adam. ``transform``
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
    n_components : int, default=2
        Size of the code (the output of ``transform``).

    hidden_layer_sizes : int or tuple of int, default=(256, 128)
        Widths of the encoder's hidden layers, input side first. The decoder
        uses the same widths in reverse. ``()`` gives a linear-in-depth
        network with no hidden layer.

    activation : {"relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", \
            "identity"}, default="relu"
        Activation after every hidden layer. With ``"identity"`` the
        autoencoder is linear and learns the principal subspace.

    output_activation : {"identity", "sigmoid"}, default="identity"
        Activation of the decoder's last layer. ``"sigmoid"`` bounds the
        reconstruction to (0, 1), for data such as pixel intensities.

    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss: mean squared error, or binary cross-entropy
        (needs ``output_activation="sigmoid"`` and data in [0, 1]).

    dropout : float, default=0.0
        Dropout probability after every hidden activation, during training
        only.

    batch_norm : bool, default=False
        Whether to add batch normalisation before every hidden activation.

    alpha : float, default=0.0
        Strength of the L2 penalty on the weights (not the biases), applied
        as Adam's ``weight_decay``.

    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` is ``min(256, n_samples)``.

    learning_rate_init : float, default=1e-3
        Adam's learning rate.

    max_iter : int, default=200
        Maximum number of epochs (passes over the training data).

    early_stopping : bool, default=False
        If True, hold out ``validation_fraction`` of the training data, stop
        when the validation loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and restore the best weights. If False,
        the same rule is applied to the training loss.

    validation_fraction : float, default=0.1
        Fraction of the training data held out when ``early_stopping``.

    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` before stopping.

    tol : float, default=1e-4
        Minimum decrease of the monitored loss that counts as improvement.

    device : {"cpu", "cuda", "auto"}, default="cpu"
        Where to train and infer; ``"auto"`` picks CUDA when available.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the validation split and
        dropout. Pass an int for bitwise-reproducible fits on the CPU. The
        global torch random state is left untouched.

    verbose : int, default=0
        0 is silent, 1 prints skorch's per-epoch table, 2 or more also shows
        a progress bar per epoch.

    warm_start : bool, default=False
        If True and the estimator is already fitted, start from the current
        weights instead of a new initialisation (the optimiser restarts).

    Attributes
    ----------
    net_ : AutoencoderNet
        The trained skorch net. Its ``module_`` has ``encoder`` and
        ``decoder`` submodules that can be reused in plain PyTorch.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    loss_curve_ : list of float
        Training loss at each epoch (all fits, with ``warm_start``).

    validation_scores_ : list of float or None
        Minus the validation loss at each epoch (higher is better), when
        ``early_stopping``; None otherwise.

    best_validation_score_ : float or None
        Best of ``validation_scores_``; None without early stopping.

    best_loss_ : float
        Lowest monitored loss of the last fit: the training loss, or the
        validation loss when ``early_stopping``.

    n_iter_ : int
        Number of epochs run (all fits, with ``warm_start``).

    batch_size_ : int
        The minibatch size used.

    device_ : str
        The device the net lives on.

    See Also
    --------
    sklearn.decomposition.PCA : Linear dimensionality reduction.
    sklearn.neural_network.BernoulliRBM : Unsupervised neural features.
    sk_autoencoder.reconstruction_error : The same error for any transformer.

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

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "output_activation": [StrOptions({"identity", "sigmoid"})],
        "loss": [StrOptions(set(_LOSSES))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(256, 128),
        activation="relu",
        output_activation="identity",
        loss="mse",
        dropout=0.0,
        batch_norm=False,
        alpha=0.0,
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=200,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        device="cpu",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

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
        warm = self.warm_start and hasattr(self, "net_")
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=not warm)
        self._check_data(X)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.device_ = self._resolve_device()
        self.batch_size_ = (
            min(256, X.shape[0]) if self.batch_size == "auto" else self.batch_size
        )
        net = self._build_net(X.shape[1], seed)
        # Initialisation and dropout draw from torch's global generator: seed
        # it here and give the caller's state back afterwards.
        cuda = [torch.device(self.device_).index or 0] if self.device_ == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            net.initialize()
            if warm:
                self._load_previous_weights(net)
            try:
                net.partial_fit(X)
            except TrainingDiverged as exc:
                raise ValueError(
                    f"Training diverged: {exc}. Lower learning_rate_init "
                    f"(now {self.learning_rate_init}) or scale X, e.g. with "
                    "StandardScaler."
                ) from None
        net.module_.eval()
        self._record_history(net, warm)
        self.net_ = net
        return self

    def transform(self, X):
        """Encode X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            The codes, in X's float dtype (float64 for integer input).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        return self.net_.encode(X)

    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. the output of ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Reconstructions, in the codes' float dtype.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=_FLOAT_DTYPES, input_name="X")
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects "
                f"{self.n_components} (n_components)."
            )
        return self.net_.decode(Z)

    def score_samples(self, X):
        """Minus each sample's mean squared reconstruction error.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Higher is better; 0 is a perfect reconstruction.
        """
        return -reconstruction_error(self, X, per_sample=True)

    def score(self, X, y=None):
        """Minus the mean squared reconstruction error on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
            Higher is better; usable directly by ``GridSearchCV``.
        """
        return -reconstruction_error(self, X)

    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _check_data(self, X):
        """Raise ValueError for data or settings the network cannot train on."""
        if X.dtype == np.float64 and np.abs(X).max() > np.finfo(np.float32).max:
            raise ValueError(
                "X has values beyond the float32 range the network trains in; "
                "scale X first, e.g. with StandardScaler."
            )
        if self.loss == "bce":
            if self.output_activation != "sigmoid":
                raise ValueError(
                    "loss='bce' needs output_activation='sigmoid', got "
                    f"output_activation={self.output_activation!r}."
                )
            lo, hi = X.min(), X.max()
            if lo < 0 or hi > 1:
                raise ValueError(
                    "loss='bce' requires X in [0, 1], got values in "
                    f"[{lo:.4g}, {hi:.4g}]; rescale X (e.g. MinMaxScaler) or "
                    "use loss='mse'."
                )
        hidden = self._hidden_sizes()
        if any(h < 1 for h in hidden):
            raise ValueError(
                "hidden_layer_sizes must contain positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        if self.batch_norm and X.shape[0] < 2:
            raise ValueError(
                "batch_norm=True needs at least 2 samples to train, got "
                "n_samples=1."
            )

    def _hidden_sizes(self):
        if isinstance(self.hidden_layer_sizes, Integral):
            return (int(self.hidden_layer_sizes),)
        sizes = np.asarray(self.hidden_layer_sizes).ravel()
        if sizes.size and not np.issubdtype(sizes.dtype, np.integer):
            raise ValueError(
                "hidden_layer_sizes must contain positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return tuple(int(h) for h in sizes)

    def _resolve_device(self):
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                "device='cuda' but torch.cuda.is_available() is False; use "
                "device='cpu' or device='auto'."
            )
        return self.device

    def _build_net(self, n_features, seed):
        """Translate the estimator's parameters into an unfitted skorch net.

        This is the only place where scikit-learn's vocabulary becomes
        skorch's.
        """
        if self.early_stopping:
            monitor, train_split = "valid_loss", ValidSplit(
                self.validation_fraction, stratified=False, random_state=seed
            )
        else:
            monitor, train_split = "train_loss", None
        callbacks = [
            ("divergence", DivergenceCheck()),
            (
                "stopping",
                EarlyStopping(
                    monitor=monitor,
                    patience=self.n_iter_no_change,
                    threshold=self.tol,
                    threshold_mode="abs",
                    load_best=self.early_stopping,
                ),
            ),
        ]
        if self.verbose >= 2:
            callbacks.append(("progress", ProgressBar()))
        return AutoencoderNet(
            MLPAutoencoder,
            module__n_features=n_features,
            module__n_components=self.n_components,
            module__hidden_layer_sizes=self._hidden_sizes(),
            module__activation=self.activation,
            module__output_activation=self.output_activation,
            module__dropout=self.dropout,
            module__batch_norm=self.batch_norm,
            criterion=_LOSSES[self.loss],
            optimizer=torch.optim.Adam,
            lr=self.learning_rate_init,
            max_epochs=self.max_iter,
            batch_size=self.batch_size_,
            train_split=train_split,
            callbacks=callbacks,
            device=self.device_,
            verbose=int(self.verbose),
            seed=seed,
            **self._disabled_default_callbacks(),
            # Weight decay on the weights only; a second parameter group costs
            # a second optimizer pass per step, so only when it is used.
            **(
                {"optimizer__param_groups": [("*linear*.weight", {"weight_decay": self.alpha})]}
                if self.alpha
                else {}
            ),
        )

    def _disabled_default_callbacks(self):
        """skorch defaults that would only cost time in this fit."""
        disabled = {}
        if not self.verbose:
            # PrintLog formats its table every epoch even when silent.
            disabled["callbacks__print_log"] = None
        if not self.early_stopping:
            disabled["callbacks__valid_loss"] = None
        return disabled

    def _load_previous_weights(self, net):
        try:
            net.module_.load_state_dict(self.net_.module_.state_dict())
        except RuntimeError as exc:
            raise ValueError(
                "warm_start=True cannot reuse the fitted weights because the "
                "architecture changed (n_components or hidden_layer_sizes); "
                "set warm_start=False to refit from scratch."
            ) from exc

    def _record_history(self, net, warm):
        history = net.history
        losses = [float(v) for v in history[:, "train_loss"]]
        stopper = dict(net.callbacks_)["stopping"]
        if self.early_stopping:
            scores = [-float(v) for v in history[:, "valid_loss"]]
            if warm and self.validation_scores_ is not None:
                scores = self.validation_scores_ + scores
            self.validation_scores_ = scores
            self.best_validation_score_ = max(scores)
            self.best_loss_ = float(min(history[:, "valid_loss"]))
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = min(losses)
        if warm:
            losses = self.loss_curve_ + losses
            self.n_iter_ += len(history)
        else:
            self.n_iter_ = len(history)
        self.loss_curve_ = losses
        if stopper.misses_ < self.n_iter_no_change:
            warnings.warn(
                f"AutoencoderTransformer stopped at max_iter={self.max_iter} "
                "epochs before the loss converged; consider increasing "
                "max_iter.",
                ConvergenceWarning,
            )
