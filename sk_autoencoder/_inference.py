"""Inference, saving and serving: the methods every fitted estimator shares.

In-memory input is validated whole and run through the net in bounded
chunks; out-of-core input (memmap, zarr, h5py, dask) is read chunk by chunk,
or mapped block by block when it is a dask array. ``save``/``load`` and
``to_onnx`` are thin calls into ``_persistence`` and ``_onnx``.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _onnx, _persistence
from ._data import FLOAT_DTYPES, ChunkedArray, as_array, dask_map, is_dask, is_out_of_core
from ._parallel import torch_threads
from ._scoring import row_mse


class InferenceMixin:
    """Inference helpers and persistence for ``BaseAutoencoder``; not for direct use."""

    def _validate_for_inference(self, X):
        check_is_fitted(self)
        return validate_data(self, as_array(X), dtype=FLOAT_DTYPES, reset=False)

    def _out_of_core(self, X, method, width, dtype=None, n_inputs=None):
        """Apply the in-memory ``method`` to the row chunks of out-of-core X.

        Dask in, dask out (lazy, one block per input row chunk, the model in
        the graph once); other sources give a NumPy array filled chunk by
        chunk. ``width`` is the output's number of columns (None: 1-D);
        ``dtype`` None means X's float dtype; ``n_inputs`` is the expected
        input width when it is not ``n_features_in_`` (codes).
        """
        source = ChunkedArray(X, self._chunk_rows())
        if n_inputs is None:
            validate_data(self, X, skip_check_array=True, reset=False)
        elif source.shape[1] != n_inputs:
            raise ValueError(
                f"X has {source.shape[1]} features, but {method} expects "
                f"{n_inputs} (the fitted n_components_)."
            )
        dtype = np.dtype(dtype or source.dtype)
        if is_dask(X):
            return dask_map(self, X, method, width, dtype)
        n_rows = source.shape[0]
        out = np.empty((n_rows,) if width is None else (n_rows, width), dtype=dtype)
        for start, chunk in source:
            out[start : start + len(chunk)] = getattr(self, method)(chunk)
        return out

    def _reconstruction_errors(self, X, validated=False):
        """Per-sample mean squared reconstruction error, in float64.

        ``validated=True`` skips input validation for an X that ``_fit``
        has just validated. Out-of-core X is read in chunks (dask stays lazy).
        """
        if is_out_of_core(X):
            check_is_fitted(self)
            return self._out_of_core(X, "_reconstruction_errors", None, np.float64)
        if not validated:
            X = self._validate_for_inference(X)
        with torch_threads(self.n_threads):
            return row_mse(X, self.net_.reconstruct(X))

    def save(self, path):
        """Save the fitted estimator without pickle: safetensors and JSON.

        ``path`` is a file (one safetensors file whose header holds the
        JSON), or a folder (an existing one, or a path ending in ``/``) that
        receives ``weights.safetensors`` and ``metadata.json``. Saved: the
        parameters, the fitted attributes, the network's weights, Adam's
        state, the random stream and the history, so a loaded estimator
        predicts identically and continues training (``partial_fit``,
        ``warm_start``) as this one would. Needs the ``[export]`` extra.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        path : pathlib.Path
        """
        return _persistence.save(self, path)

    @classmethod
    def load(cls, path, device=None, trusted=None):
        """Load an estimator saved by :meth:`save`; never executes code from the file.

        The file is checked before anything is built: a newer format
        version, a truncated or modified file, tensors that do not match
        the metadata, parameters that fail validation, or a model of
        another class raise ``ValueError``.

        A network spec is recorded by its class's import path, which
        ``load`` never imports: the built-in specs (``MLPNetwork``,
        ``ConvNetwork``) load as they are, and a spec class of your own
        loads only when you pass it in ``trusted``; otherwise a
        ``ValueError`` names the untrusted type.

        Parameters
        ----------
        path : str or path-like
        device : str or None, default=None
            Where to put the network; None keeps the saved device, or the
            CPU when the model was trained on a GPU that is not available.
        trusted : sequence of Network subclasses, default=None
            Network spec classes that the file may name, besides the
            built-in ones.

        Returns
        -------
        estimator : instance of cls
            The fitted estimator.
        """
        return _persistence.load(cls, path, device=device, trusted=trusted)

    def to_onnx(self, part="encoder", path=None):
        """Export part of the fitted network to ONNX (float32, dynamic batch axis).

        Parameters
        ----------
        part : {"encoder", "decoder", "autoencoder", "error"}, default="encoder"
            ``"encoder"`` computes ``transform`` (a VAE's posterior mean),
            ``"decoder"`` ``inverse_transform``, ``"autoencoder"`` the round
            trip, and ``"error"`` each sample's mean squared reconstruction
            error (``-score_samples``), to threshold as the detector does.
        path : str or path-like, default=None
            Also write the model there.

        Returns
        -------
        model : onnx.ModelProto
            Input ``"X"``; output ``"codes"``, ``"reconstruction"`` or
            ``"error"``. Needs the ``[export]`` extra.
        """
        return _onnx.to_onnx(self, part, path)

    def _mean_error(self, X):
        """The mean reconstruction error as a float (computing dask input)."""
        errors = self._reconstruction_errors(X)
        return float(errors.mean().compute() if is_dask(errors) else errors.mean())
