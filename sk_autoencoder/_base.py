"""What every autoencoder estimator shares: parameters, validation, training.

``BaseAutoencoder._build_net`` is the one place where scikit-learn's
vocabulary becomes skorch's.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import EarlyStopping, ProgressBar
from skorch.dataset import ValidSplit

from ._modules import ACTIVATIONS, MLPAutoencoder
from ._net import AutoencoderNet, DivergenceCheck, TrainingDiverged, as_array, module_is_finite
from ._scoring import row_mse

FLOAT_DTYPES = (np.float64, np.float32)
LOSSES = {"mse": torch.nn.MSELoss, "bce": torch.nn.BCELoss}

SHARED_PARAMETERS = """\
    n_components : int, default=2
        Size of the code (the output of ``transform``).

    hidden_layer_sizes : int or tuple of int, default=(256, 128)
        Widths of the encoder's hidden layers, input side first. The decoder
        uses the same widths in reverse. ``()`` gives a network with no
        hidden layer.

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

    noise : {"gaussian", "masking"} or None, default=None
        Denoising: corrupt each training batch and learn to reconstruct the
        clean one. ``"gaussian"`` adds noise of standard deviation
        ``noise_level``; ``"masking"`` zeroes each input with probability
        ``noise_level``. Never applied by ``transform``.

    noise_level : float, default=0.1
        Strength of the corruption; see ``noise``.

    sparsity : float, default=0.0
        Weight of an L1 penalty on the codes (mean over samples of the sum
        of absolute code values) added to the training loss.

    contractive : float, default=0.0
        Weight of a penalty on the squared Frobenius norm of the encoder's
        Jacobian with respect to its input, estimated per batch with one
        random projection (Hutchinson's estimator, unbiased).

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
        Seeds weight initialisation, shuffling, the validation split,
        dropout and corruption noise. Pass an int for bitwise-reproducible
        fits on the CPU. The global torch random state is left untouched.

    verbose : int, default=0
        0 is silent, 1 prints skorch's per-epoch table, 2 or more also shows
        a progress bar per epoch.

    warm_start : bool, default=False
        If True and the estimator is already fitted, start from the current
        weights instead of a new initialisation (the optimiser restarts)."""

SHARED_ATTRIBUTES = """\
    net_ : AutoencoderNet
        The trained skorch net. Its ``module_`` has ``encoder`` and
        ``decoder`` submodules that can be reused in plain PyTorch.

    n_components_ : int
        Width of the fitted code; what ``transform`` returns and
        ``inverse_transform`` takes, whatever ``set_params`` changes later.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    loss_curve_ : list of float
        Training loss (penalties included) at each epoch, over all fits
        when ``warm_start``.

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
        The device the net lives on."""


def _fused_adam(device):
    """Whether Adam's fused kernel exists for this device and torch version.

    One fused kernel per step instead of a loop over parameters: about 13 %
    faster training on the CPU for the 784-512-128-32 net of the speed
    benchmark. CPU support arrived in torch 2.4.
    """
    version = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
    return device == "cuda" or version >= (2, 4)


def fill_doc(cls):
    """Put the shared parameter and attribute sections into a docstring."""
    cls.__doc__ = cls.__doc__.replace("    {shared_parameters}", SHARED_PARAMETERS)
    cls.__doc__ = cls.__doc__.replace("    {shared_attributes}", SHARED_ATTRIBUTES)
    return cls


class BaseAutoencoder(BaseEstimator):
    """Base class for the autoencoder estimators; not for direct use.

    Subclasses set ``_module_class`` / ``_net_class`` and may extend
    ``_module_params`` / ``_net_params``; their ``fit`` calls ``_fit``.
    """

    _module_class = MLPAutoencoder
    _net_class = AutoencoderNet

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "output_activation": [StrOptions({"identity", "sigmoid"})],
        "loss": [StrOptions(set(LOSSES))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "noise": [StrOptions({"gaussian", "masking"}), None],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "sparsity": [Interval(Real, 0, None, closed="left")],
        "contractive": [Interval(Real, 0, None, closed="left")],
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
        noise=None,
        noise_level=0.1,
        sparsity=0.0,
        contractive=0.0,
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
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.contractive = contractive
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

    def _fit(self, X):
        """Validate X, train ``net_`` on it and record the history; return X.

        A fit that raises (invalid data, divergence, an interrupt before the
        first epoch completed) leaves the estimator exactly as it was before
        the call: its attributes are restored, so a fitted estimator keeps
        its previous model and an unfitted one stays unfitted.
        """
        snapshot = self.__dict__.copy()
        try:
            return self._fit_unguarded(X)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _fit_unguarded(self, X):
        self._check_training_context()
        warm = self.warm_start and hasattr(self, "net_")
        X = validate_data(self, as_array(X), dtype=FLOAT_DTYPES, reset=not warm)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.device_ = self._resolve_device()
        self.batch_size_ = min(256, X.shape[0]) if self.batch_size == "auto" else self.batch_size
        self._check_data(X)
        # Every random draw of the fit comes from generators seeded here
        # (weights, shuffles, validation split, dropout, noise), never from
        # torch's global generator: fits reproduce in any thread and leave
        # the caller's random state alone.
        net = self._build_net(X.shape[1], seed)
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
        self.n_components_ = self.n_components
        self.net_ = net
        return X

    def _check_training_context(self):
        """Refuse settings that would only fail inside torch."""
        for name in ("n_components", "batch_size", "max_iter", "n_iter_no_change"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be an int, got the bool {value!r}.")
        if torch.is_inference_mode_enabled():
            raise RuntimeError(
                f"{type(self).__name__}.fit cannot train inside torch.inference_mode(): "
                "autograd is off there. Call fit outside it (inference methods such as "
                "transform work inside it)."
            )

    def _validate_for_inference(self, X):
        check_is_fitted(self)
        return validate_data(self, as_array(X), dtype=FLOAT_DTYPES, reset=False)

    def _reconstruction_errors(self, X, validated=False):
        """Per-sample mean squared reconstruction error, in float64.

        ``validated=True`` skips input validation for an X that ``_fit``
        has just validated.
        """
        if not validated:
            X = self._validate_for_inference(X)
        return row_mse(X, self.net_.reconstruct(X))

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
        if self.noise == "masking" and self.noise_level >= 1:
            raise ValueError(
                "noise='masking' needs noise_level < 1 (the probability of "
                f"zeroing an input), got noise_level={self.noise_level}."
            )
        self._hidden_sizes()
        n_train = self._n_training_rows(X.shape[0])
        if self.batch_norm:
            # Batch norm cannot normalise a batch of one row in training mode.
            if n_train < 2:
                where = (
                    f"early_stopping holds out validation_fraction={self.validation_fraction} "
                    f"of n_samples={X.shape[0]}, leaving {n_train} for training"
                    if self.early_stopping
                    else f"got n_samples={n_train}"
                )
                raise ValueError(f"batch_norm=True needs at least 2 samples to train; {where}.")
            if self.batch_size_ == 1:
                raise ValueError(
                    "batch_norm=True cannot train on batches of one sample, which "
                    "batch_size=1 gives; use batch_size >= 2 or batch_norm=False."
                )

    def _n_training_rows(self, n_samples):
        """Rows left for training once the early-stopping split is held out."""
        if not self.early_stopping:
            return n_samples
        # skorch's ValidSplit is sklearn's ShuffleSplit: ceil for the test part.
        n_valid = math.ceil(self.validation_fraction * n_samples)
        n_train = n_samples - n_valid
        if n_train < 1:
            raise ValueError(
                f"early_stopping=True with validation_fraction={self.validation_fraction} "
                f"leaves no sample to train on out of n_samples={n_samples}; lower "
                "validation_fraction, pass more samples or set early_stopping=False."
            )
        return n_train

    def _hidden_sizes(self):
        if isinstance(self.hidden_layer_sizes, Integral):
            sizes = np.array([self.hidden_layer_sizes])
        else:
            sizes = np.asarray(self.hidden_layer_sizes).ravel()
        if sizes.size and (not np.issubdtype(sizes.dtype, np.integer) or sizes.min() < 1):
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

    def _module_params(self, n_features):
        return {
            "n_features": n_features,
            "n_components": self.n_components,
            "hidden_layer_sizes": self._hidden_sizes(),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
        }

    def _net_params(self):
        return {
            "noise": self.noise,
            "noise_level": self.noise_level,
            "sparsity": self.sparsity,
            "contractive": self.contractive,
        }

    def _build_net(self, n_features, seed):
        """Translate the estimator's parameters into an unfitted skorch net."""
        if self.early_stopping:
            monitor, train_split = (
                "valid_loss",
                ValidSplit(self.validation_fraction, stratified=False, random_state=seed),
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
        module_params = {f"module__{k}": v for k, v in self._module_params(n_features).items()}
        module_params["module__seed"] = seed
        return self._net_class(
            self._module_class,
            **module_params,
            **self._net_params(),
            criterion=LOSSES[self.loss],
            optimizer=torch.optim.Adam,
            optimizer__fused=_fused_adam(self.device_),
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
        """Set the fitted attributes from the epochs that completed.

        An interrupted fit (Ctrl-C: skorch stops its loop on a
        ``KeyboardInterrupt``) keeps its weights, as ``MLPRegressor`` does,
        and warns; the attributes count the completed epochs only. With no
        completed epoch there is nothing to keep, and the interrupt is
        raised again.
        """
        keys = ["train_loss"] + (["valid_loss"] if self.early_stopping else [])
        epochs = [row for row in net.history if all(key in row for key in keys)]
        stopper = dict(net.callbacks_)["stopping"]
        stopped = stopper.misses_ >= self.n_iter_no_change
        interrupted = not stopped and len(epochs) < self.max_iter
        if interrupted and not epochs:
            raise KeyboardInterrupt
        if not module_is_finite(net.module_):
            # Interrupted in the middle of a diverging epoch.
            raise ValueError(
                "Training diverged: the weights became non-finite. Lower "
                f"learning_rate_init (now {self.learning_rate_init})."
            )
        losses = [float(row["train_loss"]) for row in epochs]
        if self.early_stopping:
            valid = [float(row["valid_loss"]) for row in epochs]
            scores = [-v for v in valid]
            if warm and self.validation_scores_ is not None:
                scores = self.validation_scores_ + scores
            self.validation_scores_ = scores
            self.best_validation_score_ = max(scores)
            self.best_loss_ = min(valid)
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = min(losses)
        if warm:
            losses = self.loss_curve_ + losses
            self.n_iter_ += len(epochs)
        else:
            self.n_iter_ = len(epochs)
        self.loss_curve_ = losses
        if interrupted:
            kept = (
                "the best epoch's weights (early_stopping)"
                if self.early_stopping
                else "the weights so far"
            )
            warnings.warn(
                f"Training interrupted by user after {len(epochs)} complete "
                f"epoch(s) of max_iter={self.max_iter}; keeping {kept}.",
                UserWarning,
                stacklevel=6,  # the caller's fit (through _fit and _fit_context)
            )
        elif not stopped:
            warnings.warn(
                f"{type(self).__name__} stopped at max_iter={self.max_iter} "
                "epochs before the loss converged; consider increasing "
                "max_iter.",
                ConvergenceWarning,
                stacklevel=6,
            )
