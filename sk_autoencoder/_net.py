"""The skorch side: a thin ``NeuralNet`` subclass for reconstruction.

It knows nothing of scikit-learn's parameter names; ``_transformer.py`` is the
one place that translates them. What it adds to skorch:

* in-memory data are turned into one float32 tensor per fit, on the target
  device, and minibatches are slices of a per-epoch permutation drawn from a
  generator seeded by ``seed`` (no per-row ``__getitem__`` or collate);
* ``encode`` / ``decode`` / ``reconstruct``: batched, no-grad inference that
  computes in float64 when the caller's data are float64;
* one ``torch.Generator`` per net, seeded by ``seed``, for every random draw
  of training (dropout masks, corruption noise, the contractive penalty's
  probes, the VAE's reparameterisation): a fit never touches torch's global
  generator, so seeded fits reproduce in any thread;
* ``DivergenceCheck``: stop with a clear error as soon as the loss or a
  weight is not finite, instead of training on NaNs.
"""

import copy
import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch.utils.data import Dataset, Subset

from ._data import BatchIterator, StreamBatchIterator, StreamData, TensorData, as_tensor
from ._modules import Dropout

# Inference chunks hold about this many activations of the widest layer.
_INFERENCE_ELEMENTS = 1 << 23


class DivergenceCheck(Callback):
    """Raise ``TrainingDiverged`` once the epoch's loss or a weight is not finite.

    The epoch's loss averages the batches' losses, each computed before its
    update, so the weights are checked too: the last update of an epoch can
    overflow them while every loss was finite.
    """

    def on_epoch_end(self, net, **kwargs):
        epoch = net.history[-1, "epoch"]
        loss = net.history[-1, "train_loss"]
        if not np.isfinite(loss):
            raise TrainingDiverged(f"the training loss became {loss} at epoch {epoch}")
        if not module_is_finite(net.module_):
            raise TrainingDiverged(f"the weights became non-finite at epoch {epoch}")


def module_is_finite(module):
    """Whether every parameter and floating-point buffer of ``module`` is finite."""
    tensors = [*module.parameters(), *module.buffers()]
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


class TrainingDiverged(FloatingPointError):
    """The training loss or the weights became NaN or infinite."""


def randn_like(X, generator):
    """Standard normal draws shaped like ``X``, from ``generator``."""
    return torch.randn(X.shape, generator=generator, dtype=X.dtype, device=X.device)


def jacobian_sq_norm(codes, X, generator=None):
    """Hutchinson estimate of the mean squared Frobenius norm of d codes / d X.

    For ``v`` with independent standard normal entries,
    ``E ||J^T v||^2 = trace(J J^T) = ||J||_F^2``; one draw per sample keeps the
    cost at one extra backward pass. ``X`` must require grad.
    """
    v = randn_like(codes, generator)
    (grad,) = torch.autograd.grad(codes, X, grad_outputs=v, create_graph=True)
    return grad.pow(2).sum(dim=1).mean()


class AutoencoderNet(NeuralNet):
    """A skorch ``NeuralNet`` that learns to reconstruct its input.

    ``fit(X)`` / ``partial_fit(X)`` take an array or tensor of shape
    ``(n_samples, n_features)``; the target is ``X`` itself, and ``y`` must
    be None. The module must have ``encoder`` and ``decoder`` submodules.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNet`.
    seed : int, default=0
        Seeds the per-epoch shuffling and ``generator_``. Epoch ``e`` of the
        history draws its permutation from ``seed + e``, so continued
        training (warm start) does not repeat earlier orders.
    noise : {"gaussian", "masking"} or None, default=None
        Corruption of training batches (denoising); the target stays clean.
    noise_level : float, default=0.1
        Standard deviation (gaussian) or zeroing probability (masking).
    sparsity : float, default=0.0
        Weight of the L1 penalty on the codes.
    contractive : float, default=0.0
        Weight of the squared Frobenius norm of the encoder's Jacobian.
    """

    def __init__(
        self,
        *args,
        seed=0,
        noise=None,
        noise_level=0.1,
        sparsity=0.0,
        contractive=0.0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.seed = seed
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.contractive = contractive

    def initialize(self):
        super().initialize()
        self.generator_ = self._fresh_generator()
        return self

    def _fresh_generator(self):
        """The generator of dropout, noise, probes and reparameterisation.

        Its seed is derived from ``seed`` so that its stream does not repeat
        the weights' (seeded by ``seed``) or the shuffles'.
        """
        noise_seed = int(np.random.SeedSequence([self.seed, 1]).generate_state(1)[0])
        return torch.Generator(device=self.device).manual_seed(noise_seed)

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self._set_dropout_generator(self.generator_)

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        # The trained module is left as plain torch: its dropout draws from
        # the global generator again if someone fine-tunes it by hand.
        self._set_dropout_generator(None)

    def _set_dropout_generator(self, generator):
        for module in self.module_.modules():
            if isinstance(module, Dropout):
                module.generator = generator

    def __getstate__(self):
        state = super().__getstate__()
        # A CUDA generator cannot be unpickled where CUDA is missing: keep its
        # device and state, and rebuild it in __setstate__.
        generator = state.pop("generator_", None)
        if generator is not None:
            state["_generator_state"] = (str(generator.device), generator.get_state())
        return state

    def __setstate__(self, state):
        saved = state.pop("_generator_state", None)
        super().__setstate__(state)
        if saved is not None:
            device, rng_state = saved
            if torch.device(device).type == torch.device(self.device).type:
                self.generator_ = torch.Generator(device=self.device)
                self.generator_.set_state(rng_state)
            else:
                # Moved between device types (a GPU-trained net loaded on a
                # CPU): the stream cannot carry over, so reseed it.
                self.generator_ = self._fresh_generator()

    def get_dataset(self, X, y=None):
        if y is not None:
            raise ValueError("AutoencoderNet reconstructs X; y must be None.")
        if isinstance(X, Dataset):
            return X
        return TensorData(as_tensor(X, device=self.device))

    def get_iterator(self, dataset, training=False):
        generator = None
        if training:
            generator = torch.Generator().manual_seed(self.seed + len(self.history))
        batch_size = self.batch_size if training else self._inference_rows(self.module_)
        drop_singleton = training and self._has_batch_norm()
        if isinstance(dataset, StreamData):
            return StreamBatchIterator(
                dataset, batch_size, generator, drop_singleton, device=self.device
            )
        indices = None
        if isinstance(dataset, Subset) and isinstance(dataset.dataset, TensorData):
            indices = torch.as_tensor(np.asarray(dataset.indices), dtype=torch.long)
            dataset = dataset.dataset
        if not isinstance(dataset, TensorData):
            return super().get_iterator(dataset, training=training)
        return BatchIterator(dataset.X, indices, batch_size, generator, drop_singleton)

    def notify(self, method_name, **cb_kwargs):
        # Same calls as skorch's notify, minus the callbacks that inherit the
        # no-op hook from Callback: most hooks fire three times per batch.
        getattr(self, method_name)(self, **cb_kwargs)
        noop = getattr(Callback, method_name, None)
        for _, cb in self.callbacks_:
            hook = getattr(type(cb), method_name, None)
            if hook is None or hook is not noop:
                getattr(cb, method_name)(self, **cb_kwargs)

    def train_step_single(self, batch, **fit_params):
        # skorch re-applies train mode to every submodule on every batch; do
        # it only when a validation pass has switched to eval mode.
        if not self.module_.training:
            self._set_training(True)
        Xi, yi = unpack_data(batch)
        X_in = self.corrupt(Xi)
        if self.contractive:
            X_in = X_in.detach().requires_grad_(True)
        y_pred = self.infer(X_in, **fit_params)
        loss = self.get_loss(y_pred, yi, X=X_in, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def corrupt(self, X):
        """Return the training input: X itself, or X with noise (denoising)."""
        if self.noise == "gaussian":
            return X + self.noise_level * randn_like(X, self.generator_)
        if self.noise == "masking":
            uniform = torch.rand(X.shape, generator=self.generator_, dtype=X.dtype, device=X.device)
            return X * (uniform >= self.noise_level)
        return X

    def infer(self, x, **fit_params):
        """Return ``(reconstruction, codes)`` for the batch ``x``."""
        x = self._check_infer_input(x, fit_params)
        codes = self.module_.encoder(x)
        return self.module_.decoder(codes), codes

    def _check_infer_input(self, x, fit_params):
        if fit_params:
            raise TypeError(
                f"{type(self).__name__} takes no fit parameters, got {sorted(fit_params)}."
            )
        return x if isinstance(x, torch.Tensor) else to_tensor(x, device=self.device)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Reconstruction loss, plus the sparsity and contractive penalties
        when training (the validation loss is the reconstruction alone)."""
        reconstruction, codes = y_pred[:2]
        loss = self.reconstruction_loss(reconstruction, y_true)
        if training and self.sparsity:
            loss = loss + self.sparsity * codes.abs().sum(dim=1).mean()
        if training and self.contractive:
            loss = loss + self.contractive * jacobian_sq_norm(codes, X, self.generator_)
        return loss

    def reconstruction_loss(self, reconstruction, X):
        """The criterion between reconstruction and target, per feature."""
        return self.criterion_(reconstruction, X)

    def _has_batch_norm(self):
        return any(
            isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in self.module_.modules()
        )

    @staticmethod
    def _inference_rows(module):
        widths = [max(p.shape) for p in module.parameters() if p.ndim == 2]
        return max(1, _INFERENCE_ELEMENTS // max(widths, default=1))

    def encode(self, X):
        """Return the codes of ``X`` as an array of ``X``'s float dtype."""
        return self._apply(self.module_.encoder, X)

    def decode(self, Z):
        """Return the reconstructions decoded from the codes ``Z``."""
        return self._apply(self.module_.decoder, Z)

    def reconstruct(self, X):
        """Return ``decode(encode(X))``, computed without leaving torch."""
        return self._apply(self.module_, X)

    def _apply(self, module, X):
        """Run ``module`` on ``X`` in chunks, in eval mode, without gradients.

        float64 input runs through a float64 copy of the module: a float64
        caller gets float64 arithmetic, so rows come out the same (to ~1e-15)
        whatever chunk or subset they are computed in.
        """
        self.check_is_fitted()
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        if dtype == torch.float64:
            module = copy.deepcopy(module).double()
        module.eval()
        rows = self._inference_rows(module)
        out = None
        with torch.no_grad():
            for start in range(0, len(X), rows):
                Xb = as_tensor(X[start : start + rows], dtype, self.device)
                Yb = module(Xb).cpu().numpy()
                if not np.isfinite(Yb).all():
                    raise ValueError(
                        f"The network's output is not finite for finite input (rows "
                        f"{start} to {start + len(Yb) - 1}): the {Yb.dtype} activations "
                        "overflow, so the input is far outside the range the model was "
                        "trained on, or the weights are extreme. Pass float64 data, or "
                        "data scaled like the training data."
                    )
                if out is None:
                    out = np.empty((len(X), Yb.shape[1]), dtype=Yb.dtype)
                out[start : start + len(Yb)] = Yb
        return out


class VariationalNet(AutoencoderNet):
    """``AutoencoderNet`` for a Gaussian-encoder module (variational AE).

    The module needs ``encode_stats(x) -> (mean, log_var)`` and a
    ``decoder``. Training decodes ``mean + exp(log_var / 2) * eps`` and
    minimises the negative ELBO per feature: the reconstruction negative
    log-likelihood plus ``beta * KL(q(z|x) || N(0, I)) / n_features``.

    With an MSE criterion the decoder is a Gaussian whose shared variance is
    set to its optimum, the batch's mean squared error (the "calibrated
    decoder" of Rybkin et al., 2021), so the likelihood term is
    ``(log(2 pi mse) + 1) / 2``: its balance with the KL term no longer
    depends on the data's scale, which prevents the posterior collapse that
    a unit-variance decoder suffers on data of small variance. With BCE the
    Bernoulli likelihood is used as it is.

    Parameters
    ----------
    beta : float, default=1.0
        Weight of the KL term.
    """

    def __init__(self, *args, beta=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.beta = beta

    def infer(self, x, **fit_params):
        """Return ``(reconstruction, mean, log_var)`` for the batch ``x``."""
        x = self._check_infer_input(x, fit_params)
        mean, log_var = self.module_.encode_stats(x)
        # Keeps exp() finite when an update overshoots.
        log_var = log_var.clamp(-30.0, 20.0)
        codes = mean
        if self.module_.training:
            codes = mean + torch.exp(0.5 * log_var) * randn_like(mean, self.generator_)
        return self.module_.decoder(codes), mean, log_var

    def reconstruction_loss(self, reconstruction, X):
        loss = self.criterion_(reconstruction, X)
        if isinstance(self.criterion_, torch.nn.MSELoss):
            loss = 0.5 * (torch.log(2 * math.pi * loss.clamp_min(1e-12)) + 1.0)
        return loss

    def get_loss(self, y_pred, y_true, X=None, training=False):
        _, mean, log_var = y_pred
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(dim=1).mean()
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        return loss + self.beta * kl / y_true.shape[1]


def is_incremental(net):
    """Whether ``net`` was built by ``partial_fit`` (no stopping callback)."""
    return "stopping" not in dict(net.callbacks_)


def net_state(net):
    """A copy of what training changes in ``net``: weights, optimizer, random stream.

    The history is only appended to, so its length is enough to roll it back.
    """
    return (
        copy.deepcopy(net.module_.state_dict()),
        copy.deepcopy(net.optimizer_.state_dict()),
        net.generator_.get_state(),
        len(net.history),
    )


def restore_net_state(net, state):
    module, optimizer, generator, n_epochs = state
    net.module_.load_state_dict(module)
    net.optimizer_.load_state_dict(optimizer)
    net.generator_.set_state(generator)
    del net.history[n_epochs:]


def continue_net(net, previous):
    """Give the fresh ``net`` the trained state and history of ``previous``."""
    restore_net_state(net, net_state(previous))
    net.history = copy.deepcopy(previous.history)
