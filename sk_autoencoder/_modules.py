"""PyTorch building blocks: layers with seeded initialisation, the MLP pair.

Nothing in this file knows about scikit-learn or skorch; the modules can be
used, saved and fine-tuned in plain PyTorch. The network specs of
``sk_autoencoder.networks`` assemble their modules from these blocks.
"""

import math
from collections import OrderedDict

import torch
from torch import nn

from ._fixed_order import BatchNorm1d, Linear, rows_matmul

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
    layer = nn.utils.skip_init(Linear, fan_in, fan_out, dtype=dtype)
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
        Whether to add batch norm before every hidden activation (a
        :class:`~sk_autoencoder._fixed_order.BatchNorm1d`, whose training
        step does not depend on the thread count).
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
                layers[f"bn{i}"] = BatchNorm1d(fan_out, dtype=dtype)
            layers[f"act{i}"] = ACTIVATIONS[activation]()
            if dropout > 0:
                layers[f"drop{i}"] = Dropout(dropout)
        elif output_activation != "identity":
            layers[f"act{i}"] = ACTIVATIONS[output_activation]()
    return nn.Sequential(layers)


def _generator(seed, generator):
    if generator is not None or seed is None:
        return generator
    return torch.Generator().manual_seed(seed)


_MLP_PARAMETERS = """\
    Parameters
    ----------
    n_features : int
        Width of the input and of the reconstruction.
    n_components : int
        Width of the code.
    hidden_layer_sizes : tuple of int
        Encoder hidden widths; the decoder uses them reversed.
    activation : str, default="relu"
        Activation after each hidden layer.
    output_activation : str, default="identity"
        Activation of the reconstruction.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    batch_norm : bool, default=False
        Batch norm before each hidden activation.
    seed : int or None, default=None
        Seeds the initial weights through a generator of the module's own;
        None draws them from torch's global generator, as ``nn.Linear`` does.
    generator : torch.Generator or None, default=None
        Draws the initial weights instead (``seed`` is then ignored).

"""


class EncoderDecoder(nn.Module):
    """An autoencoder module: ``encoder`` and ``decoder`` submodules, chained by ``forward``."""

    def forward(self, X):
        """Reconstruct ``X`` through the encoder and the decoder.

        Parameters
        ----------
        X : Tensor of shape (n_samples, n_features)
            Rows to reconstruct.

        Returns
        -------
        X_hat : Tensor of shape (n_samples, n_features)
            The reconstruction.
        """
        return self.decoder(self.encoder(X))


class MLPAutoencoder(EncoderDecoder):
    """A multilayer-perceptron autoencoder with a mirrored decoder.

        The encoder maps ``n_features -> *hidden_layer_sizes -> n_components``
        with a linear code layer; the decoder maps back through the hidden widths
        in reverse order and ends in ``output_activation``.

    {parameters}    Attributes
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
        generator=None,
    ):
        super().__init__()
        hidden = tuple(hidden_layer_sizes)
        generator = _generator(seed, generator)
        common = dict(
            activation=activation, dropout=dropout, batch_norm=batch_norm, generator=generator
        )
        self.encoder = make_mlp((n_features, *hidden, n_components), **common)
        self.decoder = make_mlp(
            (n_components, *hidden[::-1], n_features),
            output_activation=output_activation,
            **common,
        )


MLPAutoencoder.__doc__ = MLPAutoencoder.__doc__.format(parameters=_MLP_PARAMETERS)


class VariationalMLPAutoencoder(EncoderDecoder):
    """A variational autoencoder with a Gaussian MLP encoder.

        A shared trunk ``n_features -> *hidden_layer_sizes`` feeds two linear
        heads, the posterior mean and log-variance of the ``n_components``-d
        code; the decoder mirrors the trunk. ``encoder`` maps inputs to the
        posterior mean (deterministic codes); ``encode_stats`` returns both
        statistics for training.

    {parameters}    Attributes
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
        generator=None,
    ):
        super().__init__()
        hidden = tuple(hidden_layer_sizes)
        generator = _generator(seed, generator)
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


VariationalMLPAutoencoder.__doc__ = VariationalMLPAutoencoder.__doc__.format(
    parameters=_MLP_PARAMETERS
)


class RoundTrip(nn.Module):
    """``decoder(encoder(X))`` of an autoencoder module, whatever its ``forward``.

    A module from a network spec only has to have ``encoder`` and
    ``decoder``; inference and ONNX export of the round trip go through this.
    """

    def __init__(self, autoencoder):
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, X):
        return self.autoencoder.decoder(self.autoencoder.encoder(X))


class CodesAndReconstruction(nn.Module):
    """One training forward pass: ``(reconstruction, codes)`` of a batch.

    The loss needs the codes (penalties) as well as the reconstruction;
    one module computes both so that data-parallel training can wrap it in
    ``DistributedDataParallel``, whose gradient hooks follow its forward.
    """

    def __init__(self, autoencoder):
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, X):
        codes = self.autoencoder.encoder(X)
        return self.autoencoder.decoder(codes), codes


class SampledReconstruction(nn.Module):
    """A variational training pass: ``(reconstruction, mean, log_var)``.

    In training mode the decoder gets ``mean + exp(log_var / 2) * eps``, with
    ``eps`` standard normal from ``generator`` (the reparameterisation
    trick); in eval mode the mean.
    """

    def __init__(self, autoencoder):
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, X, generator=None):
        mean, log_var = self.autoencoder.encode_stats(X)
        # Keeps exp() finite when an update overshoots.
        log_var = log_var.clamp(-30.0, 20.0)
        codes = mean
        if self.autoencoder.training:
            noise = torch.randn(
                mean.shape, generator=generator, dtype=mean.dtype, device=mean.device
            )
            codes = mean + torch.exp(0.5 * log_var) * noise
        return self.autoencoder.decoder(codes), mean, log_var


class Narrow(nn.Module):
    """Keep the first ``width`` columns of a ``(n, m)`` input."""

    def __init__(self, width):
        super().__init__()
        self.width = width

    def forward(self, X):
        return X[:, : self.width]

    def extra_repr(self):
        return f"width={self.width}"


class GaussianEncoderAutoencoder(nn.Module):
    """A variational autoencoder assembled from any encoder/decoder pair.

    ``stats_encoder`` maps inputs to ``2 * n_components`` columns: the
    posterior means, then the log-variances. ``encoder`` (the posterior
    mean, what ``transform`` returns) is ``stats_encoder`` followed by
    :class:`Narrow`, so it exports and reuses like any encoder.

    Parameters
    ----------
    stats_encoder : nn.Module
        ``(n, n_features) -> (n, 2 * n_components)``.
    decoder : nn.Module
        ``(n, n_components) -> (n, n_features)``.
    n_components : int
    """

    def __init__(self, stats_encoder, decoder, n_components):
        super().__init__()
        self.encoder = nn.Sequential(OrderedDict(stats=stats_encoder, mean=Narrow(n_components)))
        self.decoder = decoder
        self.n_components = n_components

    def encode_stats(self, X):
        """Return the posterior ``(mean, log_var)``, each ``(n, n_components)``."""
        stats = self.encoder.stats(X)
        return stats[:, : self.n_components], stats[:, self.n_components :]

    def forward(self, X):
        return self.decoder(self.encoder(X))


def output_layer(network, owner):
    """The last layer of ``network`` if zeroing it silences ``network``, else None.

    That is the last registered module with parameters, when it is a
    linear or (transposed) convolution layer and ``owner`` (the whole
    autoencoder) uses its weight nowhere else (tied weights would zero
    the encoder too). A spec's module that is built otherwise gets a gate.
    """
    layers = [m for m in network.modules() if list(m.parameters(recurse=False))]
    if not layers or not isinstance(layers[-1], (nn.Linear, nn.modules.conv._ConvNd)):
        return None
    last = layers[-1]
    uses = sum(p is last.weight for _, p in owner.named_parameters(remove_duplicate=False))
    return last if uses == 1 else None


class _PCAPath(nn.Module):
    """PCA's linear map plus a residual network that starts silent.

    The residual starts at zero output: its last layer zero-initialised
    when :func:`output_layer` finds it (every output weight then learns at
    Adam's full step from the first update), else multiplied by a scalar
    ``gate`` that starts at 0.
    """

    def __init__(self, residual, n_features, n_components, owner):
        super().__init__()
        self.pca_mean = nn.Parameter(torch.zeros(n_features, dtype=torch.float32))
        self.pca_components = nn.Parameter(
            torch.zeros(n_components, n_features, dtype=torch.float32)
        )
        self.residual = residual
        last = output_layer(residual, owner)
        if last is None:
            self.gate = nn.Parameter(torch.zeros((), dtype=torch.float32))
        else:
            self.gate = None
            with torch.no_grad():
                last.weight.zero_()
                if last.bias is not None:
                    last.bias.zero_()

    def _residual(self, X):
        out = self.residual(X)
        return out if self.gate is None else self.gate * out


class PCAEncoder(_PCAPath):
    """``(X - mean) @ components.T + f(X)``: PCA's codes plus a learnt residual."""

    def forward(self, X):
        # rows_matmul: a training step's product in an order that does not
        # depend on the thread count (sk_autoencoder._fixed_order).
        product = rows_matmul if self.training else torch.matmul
        return product(X - self.pca_mean, self.pca_components.t()) + self._residual(X)


class PCADecoder(_PCAPath):
    """``mean + codes @ components + h(codes)``: PCA's inverse plus a learnt residual."""

    def forward(self, Z):
        product = rows_matmul if self.training else torch.matmul
        return self.pca_mean + product(Z, self.pca_components) + self._residual(Z)


class PCAResidualAutoencoder(nn.Module):
    """An autoencoder that starts as PCA: linear PCA paths plus residual networks.

    ``codes = P (x - mean) + f(x)`` and ``x_hat = mean + Q^T codes +
    h(codes)``, with ``P = Q`` PCA's components and residuals ``f``, ``h``
    that start at zero (:class:`_PCAPath`): before any training step the
    module computes PCA's codes and reconstructions exactly, and training
    moves away from them where the loss falls. ``f`` and ``h`` are the
    encoder and decoder of any autoencoder module (an MLP, a conv net,
    yours).

    Parameters
    ----------
    autoencoder : nn.Module
        With ``encoder`` and ``decoder``: the residual networks.
    n_features, n_components : int
    mean : array-like of shape (n_features,), optional
    components : array-like of shape (n_components, n_features), optional
        PCA's mean and components (rows); without them the PCA paths start
        at zero, for a module whose weights are loaded next.
    """

    def __init__(self, autoencoder, n_features, n_components, mean=None, components=None):
        super().__init__()
        self.encoder = PCAEncoder(autoencoder.encoder, n_features, n_components, autoencoder)
        self.decoder = PCADecoder(autoencoder.decoder, n_features, n_components, autoencoder)
        if mean is not None:
            with torch.no_grad():
                for part in (self.encoder, self.decoder):
                    part.pca_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
                    part.pca_components.copy_(torch.as_tensor(components, dtype=torch.float32))

    def forward(self, X):
        return self.decoder(self.encoder(X))
