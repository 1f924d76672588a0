"""What every autoencoder estimator shares: parameters, validation, training.

``BaseAutoencoder._build_net`` is the one place where scikit-learn's
vocabulary becomes skorch's. Data sources (in memory or out of core) come
from ``_data.py``, training-time checks from ``_validation.py``, and
inference, saving and serving from ``_inference.py``; the estimators call
``_fit`` and ``_partial_fit`` defined here.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data
from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar

from ._data import (
    FLOAT_DTYPES,
    ChunkedArray,
    StreamData,
    TrainValidSplit,
    as_array,
    is_out_of_core,
    n_held_out,
)
from ._docs import fill_doc
from ._inference import InferenceMixin
from ._net import (
    AutoencoderNet,
    AverageAcrossRanks,
    DivergenceCheck,
    KeepStartIfBest,
    TrainingDiverged,
    continue_net,
    is_incremental,
    module_is_finite,
    net_state,
    restore_net_state,
)
from ._parallel import torch_threads
from ._pca import training_pca
from ._recipe import MLP_PARAMETERS, removed_parameters_message, resolve
from ._validation import ValidationMixin, warn_at_caller
from .networks._base import ModuleBuilder, Network

__all__ = ["FLOAT_DTYPES", "BaseAutoencoder", "fill_doc"]

LOSSES = {"mse": torch.nn.MSELoss, "bce": torch.nn.BCELoss}
# learning_rate: how Adam's step size moves from learning_rate_init over a fit.
SCHEDULES = ("constant", "cosine", "onecycle", "adaptive")
# Schedules planned to end at max_iter: reaching it is not a failure to converge.
PLANNED_SCHEDULES = ("cosine", "onecycle")
# "onecycle" warms the rate up over this fraction of the fit's steps.
WARMUP_FRACTION = 0.1


def _fused_adam(device):
    """Whether Adam's fused kernel exists for this device and torch version.

    One fused kernel per step instead of a loop over parameters: about 13 %
    faster training on the CPU for the 784-512-128-32 net of the speed
    benchmark. CPU support arrived in torch 2.4.
    """
    version = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
    return device == "cuda" or version >= (2, 4)


class BaseAutoencoder(ValidationMixin, InferenceMixin, BaseEstimator):
    """Base class for the autoencoder estimators; not for direct use.

    Subclasses state every parameter's default in their own ``__init__``,
    set ``_task`` (which recipe a network gives them), ``_variational`` and
    ``_net_class``, define ``_default_network`` and may extend
    ``_net_params``; their ``fit`` calls ``_fit``.
    """

    _task = "transformer"
    _variational = False
    _net_class = AutoencoderNet

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "network": [Network, None],
        "output_activation": [StrOptions({"auto", "identity", "sigmoid"})],
        "loss": [StrOptions({"auto", *LOSSES})],
        "noise": [StrOptions({"gaussian", "masking"}), None],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "sparsity": [Interval(Real, 0, None, closed="left")],
        "contractive": [Interval(Real, 0, None, closed="left")],
        "alpha": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "learning_rate": [StrOptions({"auto", *SCHEDULES})],
        "init": [StrOptions({"auto", "random", "pca"})],
        "max_iter": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "chunk_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "distributed": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"torchrun", "dask"}),
            None,
        ],
        "distributed_timeout": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __new__(cls, *args, **kwargs):
        # The MLP's parameters left the signature for ``network``: say what to
        # write instead of Python's "unexpected keyword argument".
        given = {name: kwargs[name] for name in MLP_PARAMETERS if name in kwargs}
        if given:
            raise TypeError(removed_parameters_message(cls, given))
        return super().__new__(cls)

    def __init__(
        self,
        n_components,
        *,
        network,
        output_activation,
        loss,
        noise,
        noise_level,
        sparsity,
        contractive,
        alpha,
        batch_size,
        learning_rate_init,
        learning_rate,
        init,
        max_iter,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        tol,
        chunk_size,
        n_threads,
        device,
        distributed,
        distributed_timeout,
        random_state,
        verbose,
        warm_start,
    ):
        self.n_components = n_components
        self.network = network
        self.output_activation = output_activation
        self.loss = loss
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.contractive = contractive
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.init = init
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.chunk_size = chunk_size
        self.n_threads = n_threads
        self.device = device
        self.distributed = distributed
        self.distributed_timeout = distributed_timeout
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def _fit(self, X):
        """Validate X, train ``net_`` on it and record the history; return X.

        A fit that raises (invalid data, divergence, an interrupt before the
        first epoch completed) leaves the estimator exactly as it was before
        the call: its attributes are restored, so a fitted estimator keeps
        its previous model and an unfitted one stays unfitted. (fit trains a
        new net, so the previous one is never touched.)
        """
        return self._guarded(self._fit_unguarded, X)

    def _partial_fit(self, X):
        """One pass over X's minibatches, continuing the module and optimizer.

        Atomic like ``_fit``: a call that raises also restores the net it
        trained in place (weights, optimizer state, random stream, history).
        """
        net = getattr(self, "net_", None)
        in_place = net is not None and is_incremental(net)
        return self._guarded(
            self._partial_fit_unguarded, X, (net, net_state(net)) if in_place else None
        )

    def _guarded(self, step, X, net_snapshot=None):
        """Run ``step(X)``; on any exception restore ``__dict__`` (and the net)."""
        snapshot = self.__dict__.copy()
        try:
            with torch_threads(self.n_threads):
                return step(X)
        except BaseException:
            if net_snapshot is not None:
                restore_net_state(*net_snapshot)
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _fit_unguarded(self, X):
        self._check_training_context()
        if self.distributed is not None:
            from . import _distributed

            return _distributed.fit(self, X)
        warm = self.warm_start and hasattr(self, "net_")
        data, X = self._prepare(X, reset=not warm)
        self._fit_prepared(data, warm)
        return X

    def _fit_prepared(self, data, warm, shard=None):
        """Train a new net on validated ``data`` and set the fitted attributes.

        ``shard`` is this process's rank in a data-parallel fit: ``data``
        is then all rows in memory (the net takes the rank's share of each
        batch) or, streamed, the rank's chunks only, and ``shard.n_rows``
        counts the rows of all ranks.
        """
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.device_ = self._resolve_device() if shard is None else shard.device
        n_samples = len(data) if shard is None or shard.n_rows is None else shard.n_rows
        self.batch_size_ = (
            min(self.recipe_["batch_size"], n_samples)
            if self.batch_size == "auto"
            else self.batch_size
        )
        self._check_settings(data, self.recipe_["early_stopping"])
        # Every random draw of the fit comes from generators seeded here
        # (weights, shuffles, validation split, dropout, noise), never from
        # torch's global generator: fits reproduce in any thread and leave
        # the caller's random state alone.
        pca = None
        if self.recipe_["init"] == "pca" and not warm:
            pca = training_pca(data, self.n_components, seed, shard=shard)
        train_rows = n_samples
        if self.recipe_["early_stopping"]:
            train_rows = n_samples - n_held_out(n_samples, self.validation_fraction)
        n_batches = -(-train_rows // self.batch_size_)
        net = self._build_net(self.n_features_in_, seed, pca=pca, n_batches=n_batches, shard=shard)
        net.initialize()
        self._check_batch_norm(net, data, self.recipe_["early_stopping"])
        if warm:
            self._load_previous_weights(net)
        self._train(net)(data)
        net.module_.eval()
        net.end_data_parallel()
        self._record_history(net, warm)
        self.n_components_ = self.n_components
        self.net_ = net

    def _partial_fit_unguarded(self, X):
        self._check_training_context()
        if self.distributed is not None:
            raise ValueError(
                f"partial_fit trains on one chunk in this process; distributed="
                f"{self.distributed!r} applies to fit only. Call fit for a data-parallel fit, "
                "or set distributed=None to train chunk by chunk."
            )
        first = not hasattr(self, "net_")
        data, X = self._prepare(X, reset=first)
        if first:
            self.batch_size_ = self.recipe_["batch_size"]
        self._check_settings(data, early_stopping=False)
        if first:
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            self.device_ = self._resolve_device()
            pca = None
            if self.recipe_["init"] == "pca":
                pca = training_pca(data, self.n_components, seed)
            net = self._build_net(self.n_features_in_, seed, incremental=True, pca=pca)
            net.initialize()
            self.n_components_ = self.n_components
            self.loss_curve_, self.n_iter_ = [], 0
        elif not is_incremental(self.net_):
            # Continue a model trained by fit: same weights, optimizer state,
            # random streams and history, in a net without fit's stopping.
            net = self._build_net(self.n_features_in_, self.net_.seed, incremental=True)
            net.initialize()
            continue_net(net, self.net_)
            # fit's schedule may have lowered the rate (to 0 under cosine);
            # partial_fit trains at the constant learning_rate_init.
            for group in net.optimizer_.param_groups:
                group["lr"] = self.recipe_["learning_rate_init"]
        else:
            net = self.net_
        self._check_batch_norm(net, data, early_stopping=False)
        n_epochs = len(net.history)
        self._train(net)(data, epochs=1)
        if len(net.history) == n_epochs or "train_loss" not in net.history[-1]:
            # skorch stops its loop on Ctrl-C; this call's epoch did not complete.
            raise KeyboardInterrupt
        net.module_.eval()
        self.loss_curve_ = [*self.loss_curve_, float(net.history[-1, "train_loss"])]
        self.n_iter_ += 1
        self.best_loss_ = min(self.loss_curve_)
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self.net_ = net
        return X

    def _train(self, net):
        """``net.partial_fit``, with divergence reported as a ValueError."""

        def train(data, **kwargs):
            try:
                net.partial_fit(data, **kwargs)
            except TrainingDiverged as exc:
                raise ValueError(
                    f"Training diverged: {exc}. Lower learning_rate_init "
                    f"(now {self.recipe_['learning_rate_init']}) or scale X, e.g. with "
                    "StandardScaler."
                ) from None
            if not module_is_finite(net.module_):
                # Interrupted in the middle of a diverging epoch.
                raise ValueError(
                    "Training diverged: the weights became non-finite. Lower "
                    f"learning_rate_init (now {self.recipe_['learning_rate_init']})."
                )
            # Finite weights can still be large enough to overflow the
            # activations: a fit that returns must reconstruct its own data
            # (streamed: its first chunk; data-parallel: the rank's rows, and
            # every rank learns whether any failed).
            if isinstance(data, StreamData):
                rows = data.chunk(data.chunk_ids[0])
            elif net.shard is not None:
                rows = data[slice(*net.shard.span(len(data)))]
            else:
                rows = data
            finite = net.reconstructs_finitely(rows)
            if net.rank_mean(float(not finite), 1) > 0:
                raise ValueError(
                    "Training diverged: the weights stayed finite, but the network's "
                    "output on its own training data is not. Lower learning_rate_init "
                    f"(now {self.recipe_['learning_rate_init']}) or scale X, e.g. with "
                    "StandardScaler."
                ) from None

        return train

    def _prepare(self, X, reset):
        """Validate X for training: ``(data for the net, X for the caller)``.

        In memory, X is validated whole and the net gets the array.
        Out of core, only the shape is checked here; the net gets a
        ``StreamData`` whose chunks are validated as they are read.
        Both resolve the network and the ``"auto"`` training settings
        (``network_``, ``recipe_``); ``reset`` (a new model) also resolves
        ``"auto"`` output activation and loss, from the first chunk when out
        of core.
        """
        if is_out_of_core(X):
            source = ChunkedArray(X, self._chunk_rows(), check=self._check_values)
            validate_data(self, X, skip_check_array=True, reset=reset)
            resolve(self, source.head() if reset else None, X.shape[0], reset)
            return StreamData(source), X
        X = validate_data(self, as_array(X), dtype=FLOAT_DTYPES, reset=reset)
        resolve(self, X, len(X), reset)
        self._check_values(X)
        return X, X

    def _chunk_rows(self):
        return None if self.chunk_size == "auto" else self.chunk_size

    def _resolve_device(self):
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                "device='cuda' but torch.cuda.is_available() is False; use "
                "device='cpu' or device='auto'."
            )
        return self.device

    def _module_params(self, n_features, pca=None):
        return {
            "network": self.network_,
            "n_features": n_features,
            "n_components": self.n_components,
            "output_activation": self.output_activation_,
            "variational": self._variational,
            "pca_residual": self.recipe_["init"] == "pca",
            "pca": pca,
        }

    def _net_params(self):
        return {
            "noise": self.noise,
            "noise_level": self.noise_level,
            "sparsity": self.sparsity,
            "contractive": self.contractive,
        }

    def _build_net(self, n_features, seed, incremental=False, pca=None, n_batches=1, shard=None):
        """Translate the estimator's parameters into an unfitted skorch net.

        ``incremental`` builds the net of ``partial_fit``: no validation
        split and no stopping rule (each call is one epoch), as in
        ``MLPRegressor.partial_fit``. ``pca`` is ``init="pca"``'s starting
        point (None: a module whose weights are loaded next), and
        ``n_batches`` the training batches per epoch, which a per-batch
        schedule needs.
        """
        early_stopping = self.recipe_["early_stopping"] and not incremental
        if early_stopping:
            monitor, train_split = "valid_loss", TrainValidSplit(self.validation_fraction, seed)
        else:
            monitor, train_split = "train_loss", None
        callbacks = [("divergence", DivergenceCheck())]
        if shard is not None and shard.world > 1:
            # First: every later callback reads the losses of all ranks.
            callbacks.insert(0, ("ranks", AverageAcrossRanks()))
        if not incremental:
            # Before the stopping rule, whose KeyboardInterrupt ends the
            # epoch: every epoch's history row then has its learning rate.
            schedule = self._schedule(monitor, n_batches)
            if schedule is not None:
                callbacks.append(("schedule", schedule))
            # Relative, so that when training stops does not depend on the
            # data's scale: an improvement counts if it is at least
            # tol times the best loss so far.
            stopping = EarlyStopping(
                monitor=monitor,
                patience=self.n_iter_no_change,
                threshold=self.tol,
                threshold_mode="rel",
                load_best=early_stopping,
            )
            callbacks.append(("stopping", stopping))
            if early_stopping and self.recipe_["init"] == "pca":
                # After the stopping rule's best-epoch restore: PCA's own
                # weights win when no epoch beat them on validation.
                callbacks.append(("starting_point", KeepStartIfBest()))
        if self.verbose >= 2:
            callbacks.append(("progress", ProgressBar()))
        return self._net_class(
            ModuleBuilder(**self._module_params(n_features, pca), seed=seed),
            **self._net_params(),
            criterion=LOSSES[self.loss_],
            optimizer=torch.optim.Adam,
            optimizer__fused=_fused_adam(self.device_),
            lr=self.recipe_["learning_rate_init"],
            max_epochs=1 if incremental else self.recipe_["max_iter"],
            batch_size=self.batch_size_,
            train_split=train_split,
            callbacks=callbacks,
            device=self.device_,
            verbose=int(self.verbose),
            seed=seed,
            weight_decay=self.recipe_["alpha"],
            shard=shard,
            **self._disabled_default_callbacks(early_stopping),
        )

    def _schedule(self, monitor, n_batches):
        """skorch's ``LRScheduler`` for ``learning_rate`` (None if constant).

        ``"cosine"`` anneals the rate to 0 over ``max_iter`` epochs;
        ``"onecycle"`` warms it up from ``learning_rate_init / 25`` over the
        first tenth of the fit's batches (at least one), then anneals it
        (cosine) to about 0 by the last batch of epoch ``max_iter``; a fit
        of fewer than 3 batches in all trains at the constant rate; ``"adaptive"`` divides it
        by 5 after ``max(n_iter_no_change // 2, 1)`` epochs without a
        relative improvement of ``tol`` in the monitored loss (torch counts
        ``patience + 1`` bad epochs). ``partial_fit`` (one epoch per call)
        trains at a constant ``learning_rate_init``.
        """
        if self.recipe_["learning_rate"] == "cosine":
            return LRScheduler(
                torch.optim.lr_scheduler.CosineAnnealingLR, T_max=self.recipe_["max_iter"]
            )
        if self.recipe_["learning_rate"] == "onecycle":
            steps = self.recipe_["max_iter"] * n_batches
            if steps < 3:  # no room for a warm-up and an annealing: a constant rate
                return None
            return LRScheduler(
                torch.optim.lr_scheduler.OneCycleLR,
                max_lr=self.recipe_["learning_rate_init"],
                total_steps=steps,
                # torch needs the warm-up to end after the first step.
                pct_start=max(WARMUP_FRACTION, 1.5 / steps),
                cycle_momentum=False,
                step_every="batch",
            )
        if self.recipe_["learning_rate"] == "adaptive":
            return LRScheduler(
                torch.optim.lr_scheduler.ReduceLROnPlateau,
                monitor=monitor,
                factor=0.2,
                patience=max(self.n_iter_no_change // 2 - 1, 0),
                threshold=self.tol,
                threshold_mode="rel",
            )
        return None

    def _disabled_default_callbacks(self, early_stopping):
        """skorch defaults that would only cost time in this fit."""
        disabled = {}
        if not self.verbose:
            # PrintLog formats its table every epoch even when silent.
            disabled["callbacks__print_log"] = None
        if not early_stopping:
            disabled["callbacks__valid_loss"] = None
        return disabled

    def _load_previous_weights(self, net):
        try:
            net.module_.load_state_dict(self.net_.module_.state_dict())
        except RuntimeError as exc:
            raise ValueError(
                "warm_start=True cannot reuse the fitted weights because the "
                "architecture changed (n_components, hidden_layer_sizes or network); "
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
        keys = ["train_loss"] + (["valid_loss"] if self.recipe_["early_stopping"] else [])
        epochs = [row for row in net.history if all(key in row for key in keys)]
        stopper = dict(net.callbacks_)["stopping"]
        stopped = stopper.misses_ >= self.n_iter_no_change
        interrupted = not stopped and len(epochs) < self.recipe_["max_iter"]
        if interrupted and not epochs:
            raise KeyboardInterrupt
        losses = [float(row["train_loss"]) for row in epochs]
        if self.recipe_["early_stopping"]:
            valid = [float(row["valid_loss"]) for row in epochs]
            scores = [-v for v in valid]
            if warm and self.validation_scores_ is not None:
                scores = self.validation_scores_ + scores
            self.validation_scores_ = scores
            self.best_validation_score_ = max(scores)
            self.best_loss_ = min(valid)
            start = dict(net.callbacks_).get("starting_point")
            if start is not None and start.loss_ is not None and start.loss_ <= self.best_loss_:
                # PCA's starting point was kept: no epoch beat it.
                self.best_loss_ = start.loss_
                self.best_validation_score_ = -start.loss_
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
                if self.recipe_["early_stopping"]
                else "the weights so far"
            )
            warn_at_caller(
                f"Training interrupted by user after {len(epochs)} complete "
                f"epoch(s) of max_iter={self.recipe_['max_iter']}; keeping {kept}.",
                UserWarning,
            )
        elif not stopped and self.recipe_["learning_rate"] not in PLANNED_SCHEDULES:
            # A cosine or one-cycle schedule is planned to end at max_iter;
            # under the others, reaching it means stopping short.
            warn_at_caller(
                f"{type(self).__name__} stopped at max_iter={self.recipe_['max_iter']} "
                "epochs before the loss converged; consider increasing "
                "max_iter.",
                ConvergenceWarning,
            )
