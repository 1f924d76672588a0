"""Layers whose training step does not depend on torch's thread count.

torch's CPU kernels split some sums between threads in a way that depends
on how many threads there are, so that the sums, and every weight after
them, change with the thread count:

- ``nn.BatchNorm1d`` collects a batch's statistics per thread, then adds
  the threads' partial sums;
- oneDNN's convolution backward adds the weight gradient's per-thread
  partial sums over the batch, and its transposed convolution (a
  convolution's input gradient) splits its sums for small or odd batches;
- the matrix product of a batch of fewer than about 32 rows (the last
  batch of an epoch) takes other kernels on other thread counts.

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

# A matrix product of fewer rows is computed on this many (zero rows added):
# on 1 to 16 threads, products of 5-11, 17-19 and 25-27 rows came out
# differently with the thread count, and none of 28 rows or more.
SMALL_BATCH = 32


def _training_step(module, X):
    return module.training and torch.is_grad_enabled() and not torch.jit.is_scripting()


def rows_matmul(A, B):
    """``A @ B`` for a 2-D ``A``, on at least :data:`SMALL_BATCH` rows (zeros added, then cut)."""
    n = A.shape[0]
    if A.ndim != 2 or n >= SMALL_BATCH:
        return A @ B
    return (F.pad(A, (0, 0, 0, SMALL_BATCH - n)) @ B)[:n]


class Linear(nn.Linear):
    """``nn.Linear`` whose training step does not depend on the thread count.

    In a training step, a batch of fewer than :data:`SMALL_BATCH` rows is
    multiplied as :data:`SMALL_BATCH` rows, the extra ones zeros: a product
    of so few rows takes kernels that change with the thread count. The
    zeros add nothing to the weights' gradient.
    """

    def forward(self, X):
        # The training-step test first: an export traces eval mode, where the
        # batch's size must stay symbolic.
        if not _training_step(self, X) or X.ndim != 2 or len(X) >= SMALL_BATCH:
            return super().forward(X)
        padded = F.pad(X, (0, 0, 0, SMALL_BATCH - len(X)))
        return F.linear(padded, self.weight, self.bias)[: len(X)]


class BatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` with batch statistics from a per-feature reduction.

    In training, the mean and (biased) variance of each feature (or
    channel, for ``(n, channels, length)`` input) are means over the
    batch, which torch reduces one feature at a time in one thread, instead
    of torch's batch-norm kernel, which adds partial sums of several
    threads (``torch.var_mean`` would do as well, at three times the
    cost). The running statistics move as in ``nn.BatchNorm1d`` (momentum,
    unbiased variance). Evaluation runs torch's kernel on the running
    statistics.
    """

    def forward(self, X):
        if not _training_step(self, X) or not self.track_running_stats:
            return super().forward(X)
        # (n, features), or (n, channels, length) reduced over the batch and the positions.
        dims = (0,) if X.ndim == 2 else (0, 2)
        shape = (1, -1) if X.ndim == 2 else (1, -1, 1)
        mean = X.mean(dims, keepdim=True)
        centred = X - mean
        var = centred.square().mean(dims, keepdim=True)
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            momentum = (
                1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            )
            n = X.numel() // X.shape[1]
            self.running_mean.lerp_(mean.reshape(-1), momentum)
            self.running_var.lerp_(var.reshape(-1) * (n / max(n - 1, 1)), momentum)
        scale = torch.rsqrt(var + self.eps)
        if not self.affine:
            return centred * scale
        return torch.addcmul(self.bias.reshape(shape), centred, scale * self.weight.reshape(shape))


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


def _transposed_convolution(X, weight, stride, padding, output_padding, one_d):
    """``conv_transpose2d(X, weight)`` (no bias) in an order that does not depend on the threads.

    oneDNN's transposed convolution (and so a convolution's input gradient)
    splits its sums between threads differently on different thread counts
    for batches of fewer than :data:`SMALL_BATCH` rows (9 rows on 8
    threads, 3 on 2), and for rows of height 1 (the 1-D signals) whatever
    the batch; on 1 to 16 threads, images of at least that many rows gave
    the same sums. Those are left to it. A 1-D signal of at least that many
    rows is one product per row (``torch.bmm``, one row per thread)
    scattered back by ``fold``. Any smaller batch, which only an epoch's
    last one is, is the forward convolution, with the kernel flipped, of
    the input spread out by the stride: more work, the same sums on every
    thread count.
    """
    n, channels = X.shape[:2]
    kernel = weight.shape[2:]
    if n >= SMALL_BATCH and not one_d:
        return F.conv_transpose2d(X, weight, None, stride, padding, output_padding)
    if n >= SMALL_BATCH:
        size = [
            (s - 1) * st - 2 * p + k + op
            for s, st, p, k, op in zip(
                X.shape[2:], stride, padding, kernel, output_padding, strict=True
            )
        ]
        columns = torch.bmm(weight.reshape(channels, -1).t().expand(n, -1, -1), X.flatten(2))
        return F.fold(columns, size, kernel, padding=padding, stride=stride)
    shape = [
        (s - 1) * st + 1 + op for s, st, op in zip(X.shape[2:], stride, output_padding, strict=True)
    ]
    spread = X.new_zeros(n, channels, *shape)
    spread[
        :, :, : shape[0] - output_padding[0] : stride[0], : shape[1] - output_padding[1] : stride[1]
    ] = X
    pad = [k - 1 - p for k, p in zip(kernel, padding, strict=True)]
    return F.conv2d(spread, weight.flip(2, 3).transpose(0, 1), None, 1, pad)


class _Convolution(torch.autograd.Function):
    """A 2-D (transposed) convolution whose sums do not depend on the thread count.

    A convolution's forward pass, and so the input gradient of a transposed
    one, is torch's own kernel, which already is. A transposed
    convolution's forward pass, and so a convolution's input gradient, is
    :func:`_transposed_convolution`; the weight's gradient is
    :func:`_weight_gradient`, the bias's a sum over the batch and the
    positions.
    """

    @staticmethod
    def forward(ctx, X, weight, bias, stride, padding, transposed, output_padding, one_d):
        ctx.save_for_backward(X, weight)
        ctx.settings = (stride, padding, transposed, output_padding, bias is not None, one_d)
        if not transposed:
            return F.conv2d(X, weight, bias, stride, padding)
        out = _transposed_convolution(X, weight, stride, padding, output_padding, one_d)
        return out if bias is None else out + bias.reshape(1, -1, 1, 1)

    @staticmethod
    def backward(ctx, grad):
        X, weight = ctx.saved_tensors
        stride, padding, transposed, output_padding, has_bias, one_d = ctx.settings
        grad_X = None
        if ctx.needs_input_grad[0]:
            if transposed:
                grad_X = F.conv2d(grad, weight, None, stride, padding)
            else:
                extra = _output_padding(X, grad, weight, stride, padding)
                grad_X = _transposed_convolution(grad, weight, stride, padding, extra, one_d)
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
        and all(p < k for p, k in zip(layer.padding, layer.kernel_size, strict=True))
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
