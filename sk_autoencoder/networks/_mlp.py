"""MLPNetwork: the multilayer perceptron as a network spec."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._modules import ACTIVATIONS, MLPAutoencoder, VariationalMLPAutoencoder
from ._base import Network


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
    """A multilayer-perceptron autoencoder with a mirrored decoder.

    The encoder maps ``n_features -> *hidden_layer_sizes -> n_components``
    with a linear code layer; the decoder maps back through the hidden
    widths in reverse. This is the network the estimators build when their
    ``network`` is None, from their own ``hidden_layer_sizes``,
    ``activation``, ``dropout`` and ``batch_norm``: passing
    ``network=MLPNetwork(...)`` instead trains the same module, with the
    same weights for the same ``random_state``. Its own defaults are those
    of the estimators before 0.2 (one hidden layer of 512, ReLU, no batch
    norm); ``AutoencoderTransformer``'s defaults now are
    ``MLPNetwork((256,), activation="gelu", batch_norm=True)``.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(512,)
        Widths of the encoder's hidden layers, input side first; ``()``
        gives a network with no hidden layer.
    activation : {"relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", \
"identity"}, default="relu"
        Activation after every hidden layer.
    dropout : float, default=0.0
        Dropout probability after every hidden activation, in training.
    batch_norm : bool, default=False
        Whether to add batch normalisation before every hidden activation.

    See Also
    --------
    ConvNetwork : A convolutional autoencoder for images and signals.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_autoencoder import AutoencoderTransformer
    >>> from sk_autoencoder.networks import MLPNetwork
    >>> X = load_digits().data / 16
    >>> ae = AutoencoderTransformer(8, network=MLPNetwork((128,)), init="random",
    ...                             max_iter=3, random_state=0).fit(X)
    >>> ae.net_.module_.encoder
    Sequential(
      (linear0): Linear(in_features=64, out_features=128, bias=True)
      (act0): ReLU()
      (linear1): Linear(in_features=128, out_features=8, bias=True)
    )
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
    }

    _draws_only_from_generator = True

    def __init__(self, hidden_layer_sizes=(512,), activation="relu", dropout=0.0, batch_norm=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm

    def _settings(self, generator):
        return dict(
            hidden_layer_sizes=hidden_sizes(self.hidden_layer_sizes),
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
