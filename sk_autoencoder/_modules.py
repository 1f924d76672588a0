"""PyTorch modules: the MLP encoder/decoder pair.

Nothing in this file knows about scikit-learn or skorch; the modules can be
used, saved and fine-tuned in plain PyTorch.
"""

import math
from collections import OrderedDict

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "identity": nn.Identity,
}


class Dropout(nn.Dropout):
    """``nn.Dropout`` that draws its masks from ``generator`` when one is set.

    ``nn.Dropout`` can only draw from torch's global generator, which other
    threads share; a net that sets ``generator`` gets masks that depend on
    its own seed alone. With ``generator=None`` it is ``nn.Dropout``.
    """

    generator = None

    def forward(self, X):
        if not self.training or self.p == 0 or self.generator is None:
            return super().forward(X)
        keep = 1.0 - self.p
        mask = torch.empty_like(X).bernoulli_(keep, generator=self.generator)
        return X * mask / keep


def linear(fan_in, fan_out, generator=None, dtype=torch.float32):
    """``nn.Linear`` with torch's default initialisation drawn from ``generator``.

    The layer is allocated without being initialised (so building it draws
    nothing from torch's global generator), then initialised exactly as
    ``nn.Linear.reset_parameters`` does: Kaiming-uniform weights with
    ``a=sqrt(5)`` and biases uniform in ``+-1/sqrt(fan_in)``. The dtype is
    explicit, so ``torch.set_default_dtype`` does not change it.
    """
    layer = nn.utils.skip_init(nn.Linear, fan_in, fan_out, dtype=dtype)
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


def make_mlp(
    sizes,
    activation="relu",
    output_activation="identity",
    dropout=0.0,
    batch_norm=False,
    hidden_output=False,
    generator=None,
    dtype=torch.float32,
):
    """Build a fully connected network as a named ``nn.Sequential``.

    Every hidden layer is ``linear -> [batch norm] -> activation -> [dropout]``;
    the last layer is ``linear -> output activation``. Layers are named
    ``linear0``, ``bn0``, ``act0``, ``drop0``, ... so that parameters can be
    addressed by pattern (e.g. ``"*linear*.weight"`` for weight decay).

    Parameters
    ----------
    sizes : sequence of int
        Widths from input to output, at least two entries.
    activation : str
        Key of ``ACTIVATIONS`` used after every hidden layer.
    output_activation : str
        Key of ``ACTIVATIONS`` used after the last layer.
    dropout : float
        Dropout probability after every hidden activation (0 disables it).
    batch_norm : bool
        Whether to add ``BatchNorm1d`` before every hidden activation.
    hidden_output : bool
        Treat the last layer as a hidden one too (batch norm, activation,
        dropout), for a trunk that feeds further heads.
    generator : torch.Generator or None
        Draws the initial weights; None uses torch's global generator.
    dtype : torch.dtype
        Dtype of the parameters, whatever torch's default dtype is.

    Returns
    -------
    mlp : nn.Sequential
    """
    layers = OrderedDict()
    n_layers = len(sizes) - 1
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers[f"linear{i}"] = linear(fan_in, fan_out, generator, dtype)
        if i < n_layers - 1 or hidden_output:
            if batch_norm:
                layers[f"bn{i}"] = nn.BatchNorm1d(fan_out, dtype=dtype)
            layers[f"act{i}"] = ACTIVATIONS[activation]()
            if dropout > 0:
                layers[f"drop{i}"] = Dropout(dropout)
        elif output_activation != "identity":
            layers[f"act{i}"] = ACTIVATIONS[output_activation]()
    return nn.Sequential(layers)


class MLPAutoencoder(nn.Module):
    """A multilayer-perceptron autoencoder with a mirrored decoder.

    The encoder maps ``n_features -> *hidden_layer_sizes -> n_components``
    with a linear code layer; the decoder maps back through the hidden widths
    in reverse order and ends in ``output_activation``.

    Parameters
    ----------
    n_features : int
        Width of the input and of the reconstruction.
    n_components : int
        Width of the code.
    hidden_layer_sizes : tuple of int
        Encoder hidden widths; the decoder uses them reversed.
    activation, output_activation, dropout, batch_norm
        See :func:`make_mlp`.
    seed : int or None, default=None
        Seeds the initial weights through a generator of the module's own;
        None draws them from torch's global generator, as ``nn.Linear`` does.

    Attributes
    ----------
    encoder : nn.Sequential
        Maps ``(n, n_features)`` to ``(n, n_components)``.
    decoder : nn.Sequential
        Maps ``(n, n_components)`` to ``(n, n_features)``.
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(),
        activation="relu",
        output_activation="identity",
        dropout=0.0,
        batch_norm=False,
        seed=None,
    ):
        super().__init__()
        hidden = tuple(hidden_layer_sizes)
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        common = dict(
            activation=activation, dropout=dropout, batch_norm=batch_norm, generator=generator
        )
        self.encoder = make_mlp((n_features, *hidden, n_components), **common)
        self.decoder = make_mlp(
            (n_components, *hidden[::-1], n_features),
            output_activation=output_activation,
            **common,
        )

    def forward(self, X):
        return self.decoder(self.encoder(X))


class VariationalMLPAutoencoder(nn.Module):
    """A variational autoencoder with a Gaussian MLP encoder.

    A shared trunk ``n_features -> *hidden_layer_sizes`` feeds two linear
    heads, the posterior mean and log-variance of the ``n_components``-d
    code; the decoder mirrors the trunk. ``encoder`` maps inputs to the
    posterior mean (deterministic codes); ``encode_stats`` returns both
    statistics for training.

    Parameters
    ----------
    Same as :class:`MLPAutoencoder`.

    Attributes
    ----------
    encoder : nn.Sequential
        ``trunk`` then ``linear_mean``: inputs to posterior means.
    linear_log_var : nn.Linear
        The log-variance head on the trunk's output.
    decoder : nn.Sequential
        Codes to reconstructions.
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(),
        activation="relu",
        output_activation="identity",
        dropout=0.0,
        batch_norm=False,
        seed=None,
    ):
        super().__init__()
        hidden = tuple(hidden_layer_sizes)
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        common = dict(
            activation=activation, dropout=dropout, batch_norm=batch_norm, generator=generator
        )
        trunk = (
            make_mlp((n_features, *hidden), hidden_output=True, **common)
            if hidden
            else nn.Identity()
        )
        width = hidden[-1] if hidden else n_features
        self.encoder = nn.Sequential(
            OrderedDict(trunk=trunk, linear_mean=linear(width, n_components, generator))
        )
        self.linear_log_var = linear(width, n_components, generator)
        self.decoder = make_mlp(
            (n_components, *hidden[::-1], n_features),
            output_activation=output_activation,
            **common,
        )

    def encode_stats(self, X):
        """Return the posterior ``(mean, log_var)``, each ``(n, n_components)``."""
        h = self.encoder.trunk(X)
        return self.encoder.linear_mean(h), self.linear_log_var(h)

    def forward(self, X):
        return self.decoder(self.encoder(X))
