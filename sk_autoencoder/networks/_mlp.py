"""MLPNetwork: the multilayer perceptron as a network spec."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._modules import ACTIVATIONS, MLPAutoencoder, VariationalMLPAutoencoder
from ._base import Network
from ._recipe import QUALITY, default_recipe

# The hidden widths of hidden_layer_sizes="auto", per preset.
PRESET_WIDTHS = {"fast": (256,), "quality": (1024,)}


def hidden_sizes(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a tuple of positive ints, or a ValueError."""
    if isinstance(hidden_layer_sizes, Integral):
        sizes = np.array([hidden_layer_sizes])
    else:
        sizes = np.asarray(hidden_layer_sizes).ravel()
    if sizes.size and (not np.issubdtype(sizes.dtype, np.integer) or sizes.min() < 1):
        raise ValueError(
            f"hidden_layer_sizes must contain positive integers, got {hidden_layer_sizes!r}."
        )
    return tuple(int(h) for h in sizes)


class MLPNetwork(Network):
    """A multilayer-perceptron autoencoder with a mirrored decoder, and its recipe.

    The encoder maps ``n_features -> *hidden_layer_sizes -> n_components``
    with a linear code layer; the decoder maps back through the hidden
    widths in reverse. :class:`~sk_autoencoder.AutoencoderTransformer`
    trains this spec when its ``network`` is None.

    ``preset`` is the speed-quality trade-off in one word. ``"fast"`` (the
    default) is one hidden layer of 256 that starts at PCA and keeps PCA
    unless a validation epoch beats it, trained 25 epochs (a few seconds on
    MNIST-5k). ``"quality"`` is one hidden layer of 1024 trained 30 epochs
    from a random start, with a sigmoid output and cross-entropy for data
    in [0, 1]: about twice the fit time for a third less error on images,
    but no PCA start, so it can lose to PCA on near-Gaussian data. The
    preset sets the width (when ``hidden_layer_sizes="auto"``) and the
    transformer's training settings that are left at ``"auto"``
    (:meth:`recipe`); any setting given explicitly wins. The variational
    transformer and the outlier detector train every preset with their own
    recipe.

    Parameters
    ----------
    hidden_layer_sizes : "auto", int or tuple of int, default="auto"
        Widths of the encoder's hidden layers, input side first; ``()``
        gives a network with no hidden layer. ``"auto"`` is ``(256,)`` under
        the ``"fast"`` preset and ``(1024,)`` under ``"quality"``.
    activation : {"relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", \
"identity"}, default="gelu"
        Activation after every hidden layer.
    dropout : float, default=0.0
        Dropout probability after every hidden activation, in training.
    batch_norm : bool, default=True
        Whether to add batch normalisation before every hidden activation.
        Its statistics are reduced in an order that does not depend on the
        thread count, so fits are bitwise identical on 1 or 16 threads.
    preset : {"fast", "quality"}, default="fast"
        The width and the transformer's training recipe; see above.

    See Also
    --------
    ConvNetwork : A convolutional autoencoder for images and signals.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_autoencoder import AutoencoderTransformer
    >>> from sk_autoencoder.networks import MLPNetwork
    >>> X = load_digits().data / 16
    >>> ae = AutoencoderTransformer(8, network=MLPNetwork(preset="quality"), max_iter=3,
    ...                             random_state=0).fit(X)
    >>> ae.recipe_["init"], ae.recipe_["max_iter"], ae.output_activation_
    ('random', 3, 'sigmoid')
    >>> ae.net_.module_.encoder
    Sequential(
      (linear0): Linear(in_features=64, out_features=1024, bias=True)
      (bn0): BatchNorm1d(1024, eps=1e-05, momentum=0.1, affine=True, bias=True, ...)
      (act0): GELU(approximate='none')
      (linear1): Linear(in_features=1024, out_features=8, bias=True)
    )
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            StrOptions({"auto"}),
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "preset": [StrOptions(set(PRESET_WIDTHS))],
    }

    _draws_only_from_generator = True

    def __init__(
        self,
        hidden_layer_sizes="auto",
        activation="gelu",
        dropout=0.0,
        batch_norm=True,
        preset="fast",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.preset = preset

    def hidden_sizes(self):
        """Return the hidden widths, ``"auto"`` resolved by the preset.

        Returns
        -------
        sizes : tuple of int
            The widths of the encoder's hidden layers, input side first.
        """
        if isinstance(self.hidden_layer_sizes, str) and self.hidden_layer_sizes == "auto":
            return PRESET_WIDTHS[self.preset]
        return hidden_sizes(self.hidden_layer_sizes)

    def recipe(self, n_samples, n_features, n_components, *, task="transformer"):
        """Return the preset's training settings (see :meth:`Network.recipe`).

        Parameters
        ----------
        n_samples : int
            Rows the fit trains on.
        n_features : int
            Width of the rows.
        n_components : int
            Width of the code.
        task : {"transformer", "variational", "outlier"}, default="transformer"
            Which estimator asks.

        Returns
        -------
        recipe : dict
            ``"fast"``: the generic recipe; ``"quality"``: 30 cosine epochs
            from 1.2e-3 from a random start (for the transformer).
        """
        if task == "transformer" and self.preset == "quality":
            return dict(QUALITY)
        return default_recipe(task)

    def _settings(self, generator):
        return dict(
            hidden_layer_sizes=self.hidden_sizes(),
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            generator=generator,
        )

    def build(self, n_features, n_components, *, generator=None):
        """Build an :class:`~sk_autoencoder.MLPAutoencoder` (identity output).

        Parameters
        ----------
        n_features : int
            Width of the rows the module reconstructs.
        n_components : int
            Width of the code.
        generator : torch.Generator or None, default=None
            Draws the initial weights.

        Returns
        -------
        module : MLPAutoencoder
            Untrained, its weights drawn from ``generator``.
        """
        return MLPAutoencoder(n_features, n_components, **self._settings(generator))

    def build_variational(self, n_features, n_components, *, generator=None):
        """Build a :class:`~sk_autoencoder.VariationalMLPAutoencoder`.

        A shared trunk feeds two linear heads (mean and log-variance)
        instead of the default's doubled code layer.

        Parameters
        ----------
        n_features : int
            Width of the rows the module reconstructs.
        n_components : int
            Width of the code.
        generator : torch.Generator or None, default=None
            Draws the initial weights.

        Returns
        -------
        module : VariationalMLPAutoencoder
            Untrained, its weights drawn from ``generator``.
        """
        return VariationalMLPAutoencoder(n_features, n_components, **self._settings(generator))
