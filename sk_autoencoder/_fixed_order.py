"""Layers whose training step does not depend on torch's thread count.

torch's CPU kernels for two layers split a reduction over the batch
between threads, so that the sums, and every weight after them, depend on
how many threads there are:

- ``nn.BatchNorm1d`` collects a batch's statistics per thread, then adds
  the threads' partial sums;
- oneDNN's convolution backward adds the weight gradient's per-thread
  partial sums over the batch.

The difference is one rounding per step (about 1e-7 relatively), but
training amplifies it: the same seed gave codes 4e-2 apart at 1 and 2
threads after three epochs of an MLP with batch norm. The layers here
compute those reductions in an order that does not depend on the thread
count, so that a fit on a one-thread dask worker equals the same fit in a
process with every core, bit for bit. They are drop-in subclasses of the
torch layers (same parameters, buffers and state-dict keys); outside a
training step that records gradients they run torch's own kernels, so
inference, the ONNX export and saved files are unchanged.
"""

import torch
import torch.nn.functional as F
from torch import nn


def _training_step(module, X):
    return module.training and torch.is_grad_enabled() and not torch.jit.is_scripting()


class BatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` with batch statistics from a per-feature reduction.

    In training, the mean and (biased) variance of each feature (or
    channel, for ``(n, channels, length)`` input) come from
    ``torch.var_mean``, which reduces each feature in one thread, instead
    of torch's batch-norm kernel, which adds partial sums of several
    threads. The
    running statistics move as in ``nn.BatchNorm1d`` (momentum, unbiased
    variance). Evaluation runs torch's kernel on the running statistics.
    """

    def forward(self, X):
        if not _training_step(self, X) or not self.track_running_stats:
            return super().forward(X)
        # (n, features), or (n, channels, length) reduced over the batch and the positions.
        dims = (0,) if X.ndim == 2 else (0, 2)
        shape = (1, -1) if X.ndim == 2 else (1, -1, 1)
        var, mean = torch.var_mean(X, dim=dims, correction=0)
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            momentum = (
                1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            )
            n = X.numel() // X.shape[1]
            self.running_mean.lerp_(mean, momentum)
            self.running_var.lerp_(var * (n / max(n - 1, 1)), momentum)
        X_hat = (X - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + self.eps)
        if self.affine:
            X_hat = X_hat * self.weight.reshape(shape) + self.bias.reshape(shape)
        return X_hat


def _weight_gradient(X, grad, kernel, stride, padding):
    """The weight gradient of ``conv2d(X, weight, stride, padding)``, as a convolution.

    ``grad_weight[o, c] = sum_n correlate(X[n, c], grad[n, o])`` at stride
    ``stride``: a convolution of X with the batch as its channels, grad as
    its kernels and ``stride`` as their dilation. torch's forward
    convolution, unlike its weight-gradient kernel, does not split that sum
    over the batch between threads.
    """
    out = F.conv2d(X.transpose(0, 1), grad.transpose(0, 1), None, 1, padding, stride)
    return out[:, :, : kernel[0], : kernel[1]].transpose(0, 1)


def _transposed_convolution(X, weight, stride, padding, output_padding):
    """``conv_transpose2d(X, weight)`` (no bias) as one product, then ``fold``.

    torch's transposed convolution (and so the input gradient of a
    convolution) changes with the thread count for some shapes: rows of
    height 1, the 1-D signals, in batches of odd size. A product over the
    input channels and ``fold``'s sums over the kernel's positions do not.
    """
    n, channels = X.shape[:2]
    kernel = weight.shape[2:]
    size = [
        (s - 1) * st - 2 * p + k + op
        for s, st, p, k, op in zip(
            X.shape[2:], stride, padding, kernel, output_padding, strict=True
        )
    ]
    columns = X.reshape(n, channels, -1).transpose(1, 2) @ weight.reshape(channels, -1)
    return F.fold(columns.transpose(1, 2), size, kernel, padding=padding, stride=stride)


class _Convolution(torch.autograd.Function):
    """A 2-D (transposed) convolution whose sums do not depend on the thread count.

    Where torch's kernels already are (a convolution's forward pass, the
    input gradient of a transposed one, and, for images, a transposed
    convolution and a convolution's input gradient) they are used as they
    are. A 1-D signal (a height of 1) takes :func:`_transposed_convolution`
    instead. The weight's gradient is :func:`_weight_gradient`, the bias's
    a sum over the batch and the positions.
    """

    @staticmethod
    def forward(ctx, X, weight, bias, stride, padding, transposed, output_padding, one_d):
        ctx.save_for_backward(X, weight)
        ctx.settings = (stride, padding, transposed, output_padding, bias is not None, one_d)
        if not transposed:
            return F.conv2d(X, weight, bias, stride, padding)
        if not one_d:
            return F.conv_transpose2d(X, weight, bias, stride, padding, output_padding)
        out = _transposed_convolution(X, weight, stride, padding, output_padding)
        return out if bias is None else out + bias.reshape(1, -1, 1, 1)

    @staticmethod
    def backward(ctx, grad):
        X, weight = ctx.saved_tensors
        stride, padding, transposed, output_padding, has_bias, one_d = ctx.settings
        grad_X = None
        if ctx.needs_input_grad[0]:
            if transposed:
                grad_X = F.conv2d(grad, weight, None, stride, padding)
            elif one_d:
                extra = _output_padding(X, grad, weight, stride, padding)
                grad_X = _transposed_convolution(grad, weight, stride, padding, extra)
            else:
                grad_X = F.conv_transpose2d(
                    grad,
                    weight,
                    None,
                    stride,
                    padding,
                    _output_padding(X, grad, weight, stride, padding),
                )
        kernel = weight.shape[2:]
        if transposed:
            # The adjoint of conv2d(., weight): the roles of input and output swap.
            grad_weight = _weight_gradient(grad, X, kernel, stride, padding)
        else:
            grad_weight = _weight_gradient(X, grad, kernel, stride, padding)
        grad_bias = grad.sum((0, 2, 3)) if has_bias else None
        return grad_X, grad_weight, grad_bias, None, None, None, None, None


def _output_padding(X, grad, weight, stride, padding):
    """The output padding that maps ``grad``'s size back to ``X``'s through the adjoint."""
    return [
        x - ((g - 1) * st - 2 * p + k)
        for x, g, st, p, k in zip(
            X.shape[2:], grad.shape[2:], stride, padding, weight.shape[2:], strict=True
        )
    ]


def _plain(layer):
    """Whether ``layer``'s settings are the ones :class:`_Convolution` implements."""
    return (
        layer.groups == 1
        and all(d == 1 for d in layer.dilation)
        and layer.padding_mode == "zeros"
        and not isinstance(layer.padding, str)
    )


def _convolve(layer, X, transposed):
    """``layer(X)`` through :class:`_Convolution`; 1-D layers as 2-D ones of height 1."""
    output_padding = tuple(layer.output_padding) if transposed else (0,) * len(layer.stride)
    weight, stride, padding = layer.weight, tuple(layer.stride), tuple(layer.padding)
    one_d = X.ndim == 3
    if one_d:
        X, weight = X.unsqueeze(2), weight.unsqueeze(2)
        stride, padding, output_padding = (1, *stride), (0, *padding), (0, *output_padding)
    out = _Convolution.apply(
        X, weight, layer.bias, stride, padding, transposed, output_padding, one_d
    )
    return out.squeeze(2) if one_d else out


class _FixedOrderConvolution:
    """Mixin: a training step through :class:`_Convolution`, anything else through torch."""

    _transposed = False

    def forward(self, X, output_size=None):
        if output_size is not None or not _training_step(self, X) or not _plain(self):
            return super().forward(X) if output_size is None else super().forward(X, output_size)
        return _convolve(self, X, self._transposed)


class Conv1d(_FixedOrderConvolution, nn.Conv1d):
    """``nn.Conv1d`` whose weight gradient does not depend on the thread count."""


class Conv2d(_FixedOrderConvolution, nn.Conv2d):
    """``nn.Conv2d`` whose weight gradient does not depend on the thread count."""


class ConvTranspose1d(_FixedOrderConvolution, nn.ConvTranspose1d):
    """``nn.ConvTranspose1d`` whose weight gradient does not depend on the thread count."""

    _transposed = True


class ConvTranspose2d(_FixedOrderConvolution, nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` whose weight gradient does not depend on the thread count."""

    _transposed = True
