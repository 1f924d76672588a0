"""ConvNetwork: a convolutional autoencoder over rows that hold images or signals."""

import math
from collections import OrderedDict
from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from .._fixed_order import BatchNorm1d, Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .._modules import ACTIVATIONS, EncoderDecoder, GaussianEncoderAutoencoder, make_mlp
from ._base import Network
from ._mlp import hidden_sizes
from ._recipe import CONV, CONV_SMALL_CODE, default_recipe

# Convolutions whose training step does not depend on the thread count.
_CONV = {1: Conv1d, 2: Conv2d}
_TRANSPOSED = {1: ConvTranspose1d, 2: ConvTranspose2d}
# torch's 2-D batch norm reduces each channel in one thread already.
_NORM = {1: BatchNorm1d, 2: nn.BatchNorm2d}


def conv(cls, in_channels, out_channels, kernel_size, stride, padding, generator=None, **kwargs):
    """A (transposed) convolution with torch's default initialisation drawn from ``generator``.

    As ``linear`` does for ``nn.Linear``: allocated uninitialised, then
    Kaiming-uniform weights (``a=sqrt(5)``) and biases uniform in
    ``+-1/sqrt(fan_in)``, exactly as ``reset_parameters`` would draw them.
    """
    layer = nn.utils.skip_init(
        cls, in_channels, out_channels, kernel_size, stride, padding, dtype=torch.float32, **kwargs
    )
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


class ConvAutoencoder(EncoderDecoder):
    """Strided convolutions down to a dense code, transposed convolutions back.

    The encoder reshapes each row to ``(channels, *spatial)``; each entry
    of ``channels`` is a stage of ``convs_per_stage`` convolutions (each
    ``conv -> [batch norm] -> activation``, "same" padding), the first with
    stride ``stride`` and the others with stride 1. It then flattens and
    maps the features through the dense ``hidden_layer_sizes`` to the
    linear code. The decoder mirrors it: dense layers back to the last
    feature map, then per stage the stride-1 convolutions and a transposed
    convolution whose output padding restores the stage's spatial size
    exactly (so any image size works, odd or even); the last one maps to
    the input's channels, flattened back to rows.

    Parameters
    ----------
    shape : tuple of int
        ``(channels, *spatial)`` of one row, spatial of length 1 or 2.
    n_code : int
        Width of the encoder's output.
    n_components : int
        Width of the decoder's input.
    channels : tuple of int, default=(32, 64)
        Output channels of each stride-``stride`` stage (see :class:`ConvNetwork`).
    convs_per_stage : int, default=1
        Convolutions per stage; the first of each stage strides.
    kernel_size : int, default=3
        Side of every kernel.
    stride : int, default=2
        Downsampling factor of each stage.
    activation : str, default="relu"
        Activation after each convolution and hidden dense layer.
    batch_norm : bool, default=False
        Batch norm before each activation.
    hidden_layer_sizes : tuple of int, default=()
        Dense layers between the flattened feature maps and the code.
    generator : torch.Generator or None
        Draws the initial weights.
    """

    def __init__(
        self,
        shape,
        n_code,
        n_components,
        channels=(32, 64),
        convs_per_stage=1,
        kernel_size=3,
        stride=2,
        activation="relu",
        batch_norm=False,
        hidden_layer_sizes=(),
        generator=None,
    ):
        super().__init__()
        in_channels, *spatial = shape
        dims = len(spatial)
        padding = kernel_size // 2
        sizes = [tuple(spatial)]
        for _ in channels:
            sizes.append(tuple((s + 2 * padding - kernel_size) // stride + 1 for s in sizes[-1]))
        flat = channels[-1] * math.prod(sizes[-1])
        common = dict(activation=activation, batch_norm=batch_norm, generator=generator)

        finish = dict(dims=dims, activation=activation, batch_norm=batch_norm)

        def same(layers, name, width):
            """A stride-1 convolution that keeps the channels and the size."""
            layers[f"conv{name}"] = conv(
                _CONV[dims], width, width, kernel_size, 1, padding, generator
            )
            self._finish(layers, name, width, **finish)

        encoder = OrderedDict(unflatten=nn.Unflatten(1, tuple(shape)))
        previous = in_channels
        for i, out in enumerate(channels):
            encoder[f"conv{i}"] = conv(
                _CONV[dims], previous, out, kernel_size, stride, padding, generator
            )
            self._finish(encoder, i, out, **finish)
            for j in range(1, convs_per_stage):
                same(encoder, f"{i}_{j}", out)
            previous = out
        encoder["flatten"] = nn.Flatten()
        encoder["dense"] = make_mlp((flat, *hidden_layer_sizes, n_code), **common)
        self.encoder = nn.Sequential(encoder)

        decoder = OrderedDict(
            dense=make_mlp(
                (n_components, *hidden_layer_sizes[::-1], flat), hidden_output=True, **common
            ),
            unflatten=nn.Unflatten(1, (channels[-1], *sizes[-1])),
        )
        outs = [*channels[-2::-1], in_channels]
        for i, out in enumerate(outs):
            for j in range(1, convs_per_stage):
                same(decoder, f"{i}_{j}", previous)
            source, target = sizes[-1 - i], sizes[-2 - i]
            # A strided convolution maps several sizes to one; the output
            # padding picks the size this layer's input had.
            output_padding = tuple(
                t - ((s - 1) * stride - 2 * padding + kernel_size)
                for s, t in zip(source, target, strict=True)
            )
            decoder[f"tconv{i}"] = conv(
                _TRANSPOSED[dims],
                previous,
                out,
                kernel_size,
                stride,
                padding,
                generator,
                output_padding=output_padding,
            )
            if i < len(outs) - 1:
                self._finish(decoder, i, out, **finish)
            previous = out
        decoder["flatten"] = nn.Flatten()
        self.decoder = nn.Sequential(decoder)

    @staticmethod
    def _finish(layers, i, width, *, dims, activation, batch_norm):
        if batch_norm:
            layers[f"bn{i}"] = _NORM[dims](width, dtype=torch.float32)
        layers[f"act{i}"] = ACTIVATIONS[activation]()


class ConvNetwork(Network):
    """A convolutional autoencoder for images (or 1-D signals) stored as rows.

    The estimators keep their 2-D ``(n_samples, n_features)`` interface:
    each row is reshaped inside the module to ``image_shape``, so
    pipelines, streaming, dask inference, ``score_samples``, the outlier
    detector and the variational autoencoder work as with the MLP. The
    encoder is a stack of strided convolutions followed by a dense code
    layer; the decoder mirrors it with transposed convolutions
    (:class:`ConvAutoencoder`).

    Parameters
    ----------
    image_shape : tuple of int or None, default=None
        ``(height, width)`` for one-channel images, ``(channels, height,
        width)`` otherwise, in the row-major order of
        ``X.reshape(n_samples, *image_shape)`` (e.g. ``(28, 28)`` for MNIST,
        ``(3, 32, 32)`` for channel-first colour images). None treats each
        row as a one-channel 1-D signal of ``n_features`` samples. The
        product must equal the number of features, else ``fit`` raises a
        ValueError naming both.
    channels : tuple of int, default=(24, 48)
        Channels of each stage, input side first; each stage divides the
        spatial size by about ``stride``.
    convs_per_stage : int, default=2
        Convolutions per stage: one strided, the others stride 1 (more
        depth at the same resolution). The decoder mirrors them.
    kernel_size : int, default=3
        Side of every (square) kernel.
    stride : int, default=2
        Stride of each stage's first convolution.
    activation : {"relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", \
"identity"}, default="relu"
        Activation after every hidden layer, convolutional or dense.
    batch_norm : bool, default=True
        Batch normalisation before every hidden activation.
    hidden_layer_sizes : int or tuple of int, default=()
        Dense layers between the flattened feature maps and the code (and,
        reversed, in the decoder).

    See Also
    --------
    MLPNetwork : The multilayer perceptron.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_autoencoder import AutoencoderTransformer
    >>> from sk_autoencoder.networks import ConvNetwork
    >>> X = load_digits().data / 16  # 8 x 8 images as rows of 64
    >>> ae = AutoencoderTransformer(8, network=ConvNetwork((8, 8), channels=(8, 16)),
    ...                             max_iter=2, random_state=0)
    >>> ae.fit_transform(X).shape
    (1797, 8)
    >>> ae.inverse_transform(ae.transform(X[:3])).shape
    (3, 64)
    """

    _parameter_constraints: dict = {
        "image_shape": ["array-like", None],
        "channels": ["array-like", Interval(Integral, 1, None, closed="left")],
        "convs_per_stage": [Interval(Integral, 1, None, closed="left")],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "batch_norm": ["boolean"],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    }

    _draws_only_from_generator = True

    def __init__(
        self,
        image_shape=None,
        channels=(24, 48),
        convs_per_stage=2,
        kernel_size=3,
        stride=2,
        activation="relu",
        batch_norm=True,
        hidden_layer_sizes=(),
    ):
        self.image_shape = image_shape
        self.channels = channels
        self.convs_per_stage = convs_per_stage
        self.kernel_size = kernel_size
        self.stride = stride
        self.activation = activation
        self.batch_norm = batch_norm
        self.hidden_layer_sizes = hidden_layer_sizes

    def row_shape(self, n_features):
        """Return the ``(channels, *spatial)`` shape of one row of ``n_features``.

        Parameters
        ----------
        n_features : int
            Width of the rows.

        Returns
        -------
        shape : tuple of int
            ``image_shape`` with a leading channel axis, or ``(1, n_features)``
            for a 1-D signal.

        Raises
        ------
        ValueError
            If ``image_shape`` does not hold ``n_features`` values.
        """
        if self.image_shape is None:
            return (1, int(n_features))
        shape = np.asarray(self.image_shape).ravel()
        if (
            shape.size not in (2, 3)
            or not np.issubdtype(shape.dtype, np.integer)
            or shape.min() < 1
        ):
            raise ValueError(
                "image_shape must be (height, width) or (channels, height, width) of "
                f"positive integers, or None; got {self.image_shape!r}."
            )
        shape = tuple(int(s) for s in shape)
        if math.prod(shape) != n_features:
            raise ValueError(
                f"image_shape={self.image_shape!r} holds {math.prod(shape)} values per "
                f"image, but X has {n_features} features."
            )
        return shape if len(shape) == 3 else (1, *shape)

    def recipe(self, n_samples, n_features, n_components, *, task="transformer"):
        """Return the convolutional network's training settings (see :meth:`Network.recipe`).

        For the transformer: 24 epochs of a cosine schedule from 8e-3 in
        batches of 64 from a random start, with a sigmoid output and
        cross-entropy for data in [0, 1] (on MNIST-5k at k=32, about 0.28
        times PCA's held-out error). A code wider than an eighth of the
        input (digits' 8 x 8 images at k >= 16) is where a random start no
        longer reaches PCA: there the recipe starts at PCA and keeps it
        unless a validation epoch beats it. The variational transformer
        and the outlier detector use their generic recipes.

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
            Setting name to value, for the settings left at ``"auto"``.
        """
        if task != "transformer":
            return default_recipe(task)
        if n_components * 8 > n_features:
            return dict(CONV_SMALL_CODE)
        return dict(CONV)

    def _module(self, n_features, n_code, n_components, generator):
        channels = hidden_sizes(self.channels)
        if not channels:
            raise ValueError("channels must hold at least one convolution's width, got ().")
        return ConvAutoencoder(
            self.row_shape(n_features),
            n_code,
            n_components,
            channels=channels,
            convs_per_stage=self.convs_per_stage,
            kernel_size=self.kernel_size,
            stride=self.stride,
            activation=self.activation,
            batch_norm=self.batch_norm,
            hidden_layer_sizes=hidden_sizes(self.hidden_layer_sizes),
            generator=generator,
        )

    def build(self, n_features, n_components, *, generator=None):
        """Build a :class:`ConvAutoencoder` (identity output).

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
        module : ConvAutoencoder
            Untrained, its weights drawn from ``generator``.
        """
        return self._module(n_features, n_components, n_components, generator)

    def build_variational(self, n_features, n_components, *, generator=None):
        """Build a variational :class:`ConvAutoencoder`.

        One module whose code layer has ``2 * n_components`` outputs
        (means, then log-variances), wrapped as a Gaussian encoder.

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
        module : GaussianEncoderAutoencoder
            Untrained, its weights drawn from ``generator``.
        """
        module = self._module(n_features, 2 * n_components, n_components, generator)
        return GaussianEncoderAutoencoder(module.encoder, module.decoder, n_components)
