"""Checks of settings and values before training, with messages that name the fix."""

import sys
import warnings

import numpy as np
import torch

from ._data import training_rows

# Frames of these packages are between a user's call and a warning raised
# for it (our estimators, sklearn's fit wrappers and searches, joblib, skorch).
_INTERNAL = ("sk_autoencoder", "sklearn", "skorch", "joblib", "torch", "threadpoolctl")


def warn_at_caller(message, category):
    """``warnings.warn`` attributed to the first frame outside the library stack.

    A fixed ``stacklevel`` points at the wrong line as soon as the call
    comes through another path (``fit_transform``, a search, a pipeline);
    the user's line is the first frame that is not ours or sklearn's.
    """
    frame, level = sys._getframe(0), 1
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.split(".")[0] not in _INTERNAL:
            break
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


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

    def _check_settings(self, data, early_stopping):
        """Raise ValueError for settings that cannot train on data of this size."""
        if self.recipe_["init"] == "pca":
            if self._variational:
                raise ValueError(
                    "init='pca' is for deterministic autoencoders: a variational "
                    "encoder's log-variances and sampled codes have no PCA starting "
                    "point. Use init='random' (or 'auto')."
                )
            if self.output_activation_ != "identity":
                raise ValueError(
                    "init='pca' starts from PCA's linear reconstruction, which a "
                    f"{self.output_activation_} output cannot express; use "
                    "output_activation='identity' (or 'auto', which is identity under "
                    "init='pca')."
                )
        if self.loss_ == "bce" and self.output_activation_ != "sigmoid":
            raise ValueError(
                "loss='bce' needs output_activation='sigmoid', got "
                f"output_activation={self.output_activation_!r}."
            )
        if self.noise == "masking" and self.noise_level >= 1:
            raise ValueError(
                "noise='masking' needs noise_level < 1 (the probability of "
                f"zeroing an input), got noise_level={self.noise_level}."
            )
        n_samples = len(data)
        n_train = training_rows(data, early_stopping, self.validation_fraction)
        if n_train < 1:
            raise ValueError(
                f"early_stopping=True with validation_fraction={self.validation_fraction} "
                f"leaves no sample to train on out of n_samples={n_samples}; lower "
                "validation_fraction, pass more samples or set early_stopping=False."
            )

    def _check_batch_norm(self, net, data, early_stopping):
        """Raise ValueError when the built network's batch norm would see one-row batches."""
        if not net._has_batch_norm():
            return
        name = type(self.network_).__name__
        if getattr(self.network_, "batch_norm", None) is True:
            what, fix = f"{name}(batch_norm=True)", f"network={name}(batch_norm=False)"
        else:
            what = f"{name}'s batch normalisation"
            fix = "a network without batch norm"
        n_samples = len(data)
        n_train = training_rows(data, early_stopping, self.validation_fraction)
        # Batch norm cannot normalise a batch of one row in training mode.
        if n_train < 2:
            where = (
                f"early_stopping holds out validation_fraction={self.validation_fraction} "
                f"of n_samples={n_samples}, leaving {n_train} for training"
                if early_stopping
                else f"got n_samples={n_train}"
            )
            raise ValueError(f"{what} needs at least 2 samples to train; {where}.")
        if self.batch_size_ == 1:
            raise ValueError(
                f"{what} cannot train on batches of one sample, which "
                f"batch_size=1 gives; use batch_size >= 2 or {fix}."
            )
