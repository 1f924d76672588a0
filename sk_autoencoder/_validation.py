"""Checks of settings and values before training, with messages that name the fix."""

from numbers import Integral

import numpy as np
import torch

from ._data import training_rows


class ValidationMixin:
    """Training-time checks for ``BaseAutoencoder``; not for direct use."""

    def _check_training_context(self):
        """Refuse settings that would only fail inside torch."""
        for name in (
            "n_components",
            "batch_size",
            "max_iter",
            "n_iter_no_change",
            "chunk_size",
            "n_threads",
        ):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be an int, got the bool {value!r}.")
        if torch.is_inference_mode_enabled():
            raise RuntimeError(
                f"{type(self).__name__}.fit cannot train inside torch.inference_mode(): "
                "autograd is off there. Call fit outside it (inference methods such as "
                "transform work inside it)."
            )

    def _check_values(self, X, where=""):
        """Raise ValueError for values the network cannot train on."""
        if X.dtype == np.float64 and np.abs(X).max() > np.finfo(np.float32).max:
            raise ValueError(
                f"X has values beyond the float32 range the network trains in{where}; "
                "scale X first, e.g. with StandardScaler."
            )
        if self.loss_ == "bce":
            lo, hi = X.min(), X.max()
            if lo < 0 or hi > 1:
                chosen = (
                    " (chosen by loss='auto' from the data the model was first fitted on)"
                    if self.loss == "auto"
                    else ""
                )
                raise ValueError(
                    f"loss='bce'{chosen} requires X in [0, 1], got values in "
                    f"[{lo:.4g}, {hi:.4g}]{where}; rescale X (e.g. MinMaxScaler) or "
                    "use loss='mse'."
                )

    def _resolve_output(self, X):
        """Set ``output_activation_`` and ``loss_``, resolving ``"auto"`` on X.

        Data in [0, 1] (pixel intensities, min-max scaled features) get a
        sigmoid output and binary cross-entropy; anything else an identity
        output and mean squared error. An explicit ``output_activation``
        is kept, and ``loss="auto"`` pairs ``"sigmoid"`` with BCE only for
        data in [0, 1].
        """
        in_unit = False
        if "auto" in (self.output_activation, self.loss):
            with np.errstate(invalid="ignore"):
                in_unit = bool(X.min() >= 0 and X.max() <= 1)
        output = self.output_activation
        if output == "auto":
            output = "sigmoid" if in_unit else "identity"
        loss = self.loss
        if loss == "auto":
            loss = "bce" if output == "sigmoid" and in_unit else "mse"
        self.output_activation_, self.loss_ = output, loss

    def _check_settings(self, data, early_stopping):
        """Raise ValueError for settings that cannot train on data of this size."""
        if self.loss_ == "bce" and self.output_activation_ != "sigmoid":
            raise ValueError(
                "loss='bce' needs output_activation='sigmoid', got "
                f"output_activation={self.output_activation!r}."
            )
        if self.noise == "masking" and self.noise_level >= 1:
            raise ValueError(
                "noise='masking' needs noise_level < 1 (the probability of "
                f"zeroing an input), got noise_level={self.noise_level}."
            )
        self._hidden_sizes()
        n_samples = len(data)
        n_train = training_rows(data, early_stopping, self.validation_fraction)
        if n_train < 1:
            raise ValueError(
                f"early_stopping=True with validation_fraction={self.validation_fraction} "
                f"leaves no sample to train on out of n_samples={n_samples}; lower "
                "validation_fraction, pass more samples or set early_stopping=False."
            )
        if not self.batch_norm:
            return
        # Batch norm cannot normalise a batch of one row in training mode.
        if n_train < 2:
            where = (
                f"early_stopping holds out validation_fraction={self.validation_fraction} "
                f"of n_samples={n_samples}, leaving {n_train} for training"
                if early_stopping
                else f"got n_samples={n_train}"
            )
            raise ValueError(f"batch_norm=True needs at least 2 samples to train; {where}.")
        if self.batch_size_ == 1:
            raise ValueError(
                "batch_norm=True cannot train on batches of one sample, which "
                "batch_size=1 gives; use batch_size >= 2 or batch_norm=False."
            )

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
