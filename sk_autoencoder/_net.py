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
import warnings

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch.utils.data import Dataset, Subset

from ._data import BatchIterator, StreamBatchIterator, StreamData, TensorData, as_tensor
from ._modules import CodesAndReconstruction, Dropout, RoundTrip, SampledReconstruction

# Inference chunks hold about this many activations of the widest layer.
_INFERENCE_ELEMENTS = 1 << 23


class DivergenceCheck(Callback):
    """Raise ``TrainingDiverged`` once an epoch's loss or a weight is not finite.

    The epoch's loss averages the batches' losses, each computed before its
    update, so the weights are checked too: the last update of an epoch can
    overflow them while every loss was finite.
    """

    def on_epoch_end(self, net, **kwargs):
        epoch = net.history[-1, "epoch"]
        loss = net.history[-1, "train_loss"]
        if not np.isfinite(loss):
            raise TrainingDiverged(f"the training loss became {loss} at epoch {epoch}")
        # The validation loss is computed after the epoch's last update: it
        # sees an overflow that every training batch's loss came before.
        loss = net.history[-1].get("valid_loss", 0.0)
        if not np.isfinite(loss):
            raise TrainingDiverged(f"the validation loss became {loss} at epoch {epoch}")
        if not module_is_finite(net.module_):
            raise TrainingDiverged(f"the weights became non-finite at epoch {epoch}")


class DataParallel:
    """Holds a net's ``DistributedDataParallel`` wrapper.

    A plain holder, not an ``nn.Module`` attribute of the net: skorch would
    register a module attribute as a component of its own (device moves,
    train/eval switches, pickling), and this one shares ``module_``'s
    parameters and lives only while the ranks train.
    """

    def __init__(self, module):
        self.module = module


class AverageAcrossRanks(Callback):
    """Replace each epoch's losses by their mean over the data-parallel ranks.

    Each rank's ``train_loss`` / ``valid_loss`` averages its own batches;
    weighted by their rows, the mean over ranks is the one-process epoch
    loss, so the stopping rule, the schedules and ``n_iter_`` agree on every
    rank. Runs before every callback that reads the losses.
    """

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        for prefix in ("train", "valid"):
            key = f"{prefix}_loss"
            if key not in row:
                continue
            rows = sum(b.get(f"{prefix}_batch_size", 0) for b in row["batches"])
            net.history.record(key, net.rank_mean(float(row[key]), rows))


class KeepStartIfBest(Callback):
    """With a validation split: keep the initial weights unless an epoch beats them.

    Before the first training step, the initial module is scored on the
    validation split (the same loss, batches and weighting as skorch's
    ``valid_loss``) and its weights are kept aside. When training ends,
    after ``EarlyStopping`` has restored the best epoch, the initial weights
    come back if their loss is at or below every epoch's: a fit that starts
    at PCA (``init="pca"``) can then only end at or below PCA's validation
    error. ``loss_`` holds the initial validation loss.
    """

    def on_train_begin(self, net, **kwargs):
        self.loss_, self.weights_ = None, None

    def on_epoch_begin(self, net, dataset_valid=None, **kwargs):
        if self.loss_ is not None or dataset_valid is None:
            return
        total, rows = 0.0, 0
        for batch in net.get_iterator(dataset_valid, training=False):
            step = net.validation_step(batch)
            total += float(step["loss"]) * len(batch[0])
            rows += len(batch[0])
        self.loss_ = net.rank_mean(total / max(rows, 1), rows)
        self.weights_ = copy.deepcopy(net.module_.state_dict())

    def on_train_end(self, net, **kwargs):
        if self.loss_ is None:
            return
        # Non-finite epochs never beat the start: min() over a list holding a
        # NaN depends on where the NaN is, and a comparison with NaN is False.
        valid = [row["valid_loss"] for row in net.history if "valid_loss" in row]
        if self.loss_ <= min(filter(np.isfinite, valid), default=math.inf):
            net.module_.load_state_dict(self.weights_)
        self.weights_ = None  # a copy of the module is not worth pickling


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
    *args
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
    weight_decay : float, default=0.0
        Adam's weight decay on every weight tensor (matrices and
        convolution kernels: the parameters with two or more dimensions),
        not on biases, normalisation parameters or a PCA initialisation's
        components.
    shard : Shard or None, default=None
        This process's rank in data-parallel training (``_distributed``):
        batches are the rank's share of the global ones, the training
        forward pass runs through ``DistributedDataParallel``, and the
        epoch losses are averaged over the ranks. None trains alone.
    **kwargs
        As for :class:`skorch.NeuralNet`.
    """

    def __init__(
        self,
        *args,
        seed=0,
        noise=None,
        noise_level=0.1,
        sparsity=0.0,
        contractive=0.0,
        weight_decay=0.0,
        shard=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.seed = seed
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.contractive = contractive
        self.weight_decay = weight_decay
        self.shard = shard

    # The module computing one training pass (see _modules).
    _forward_class = CodesAndReconstruction

    def initialize(self):
        super().initialize()
        self.generator_ = self._fresh_generator()
        self.ddp_, self._train_iterator = None, None
        if self.shard is not None and self.shard.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            device = torch.device(self.device)
            with warnings.catch_warnings():
                # Newer torch deprecates broadcast_buffers, but its advice is
                # to keep it while rank-local buffers are wanted, as here:
                # the warning is about torch's API, not the user's fit.
                warnings.filterwarnings(
                    "ignore", message="`broadcast_buffers` is deprecated", category=FutureWarning
                )
                ddp = DistributedDataParallel(
                    self._forward_class(self.module_),
                    device_ids=[device] if device.type == "cuda" else None,
                    # Each rank keeps its running statistics over its own
                    # batches; average_buffers merges them once per epoch.
                    broadcast_buffers=False,
                )
            self.ddp_ = DataParallel(ddp)
        return self

    def _fresh_generator(self):
        """The generator of dropout, noise, probes and reparameterisation.

        Its seed is derived from ``seed`` so that its stream does not repeat
        the weights' (seeded by ``seed``) or the shuffles'; each rank of a
        data-parallel fit draws its own stream, for its own rows.
        """
        key = [self.seed, 1]
        if self.shard is not None and self.shard.world > 1:
            key.append(self.shard.rank)
        noise_seed = int(np.random.SeedSequence(key).generate_state(1)[0])
        return torch.Generator(device=self.device).manual_seed(noise_seed)

    def end_data_parallel(self):
        """Drop the DDP wrapper and the shard: a trained net trains alone from now on."""
        self.ddp_ = None
        self.shard = None
        self._train_iterator = None

    def rank_mean(self, value, weight):
        """``value`` averaged over the ranks, weighted by ``weight`` (itself alone)."""
        if self.shard is None or self.shard.world == 1:
            return value
        import torch.distributed as dist

        device = "cuda" if torch.device(self.device).type == "cuda" else "cpu"
        total = torch.tensor([value * weight, float(weight)], dtype=torch.float64, device=device)
        dist.all_reduce(total)
        return float(total[0] / total[1])

    def average_buffers(self):
        """Average the module's floating-point buffers over the ranks.

        Batch norm's running mean (and, nearly, its variance) over a rank's
        batches, averaged over the ranks, is the one over the global batches.
        Run after each training pass, before validation: every rank then
        validates, checkpoints and ends with the same module.
        """
        if self.ddp_ is None:
            return
        import torch.distributed as dist

        with torch.no_grad():
            for buffer in self.module_.buffers():
                if buffer.is_floating_point():
                    dist.all_reduce(buffer)
                    buffer /= self.shard.world

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        if training:
            self.average_buffers()

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
        # A process group's wrapper cannot travel; a trained net has none.
        for key in ("ddp_", "_train_iterator"):
            state.pop(key, None)
        # A CUDA generator cannot be unpickled where CUDA is missing: keep its
        # device and state, and rebuild it in __setstate__.
        generator = state.pop("generator_", None)
        if generator is not None:
            state["_generator_state"] = (str(generator.device), generator.get_state())
        return state

    def __setstate__(self, state):
        saved = state.pop("_generator_state", None)
        state.setdefault("ddp_", None)
        state.setdefault("shard", None)
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

    def get_params_for_optimizer(self, prefix, named_parameters):
        """Return the optimizer's parameter groups, weight decay on weight tensors only.

        Parameters
        ----------
        prefix : str
            The optimizer's name in skorch (``"optimizer"``).
        named_parameters : iterable of (str, Parameter)
            The module's named parameters.

        Returns
        -------
        args : tuple
            The parameter groups, as skorch passes them to the optimizer.
        kwargs : dict
            The optimizer's other keyword arguments.
        """
        named = list(named_parameters)
        if prefix != "optimizer" or not self.weight_decay:
            return super().get_params_for_optimizer(prefix, named)
        # Weight tensors in a group of their own, first and in reverse order,
        # as skorch's param_groups patterns order a matched group, so that
        # optimizer states saved before this override load unchanged. A
        # second group costs a second optimizer pass, hence only with decay.
        decayed = [p for name, p in named if _decays(name, p)][::-1]
        rest = [p for name, p in named if not _decays(name, p)]
        _, kwargs = super().get_params_for_optimizer(prefix, [])
        groups = [{"params": decayed, "weight_decay": self.weight_decay}]
        if rest:
            groups.append({"params": rest})
        return (groups,), kwargs

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
        shard = self.shard if self.shard is not None and self.shard.world > 1 else None
        if isinstance(dataset, StreamData):
            iterator = self._stream_iterator(dataset, batch_size, generator, drop_singleton, shard)
        else:
            indices = None
            if isinstance(dataset, Subset) and isinstance(dataset.dataset, TensorData):
                indices = torch.as_tensor(np.asarray(dataset.indices), dtype=torch.long)
                dataset = dataset.dataset
            if not isinstance(dataset, TensorData):
                return super().get_iterator(dataset, training=training)
            iterator = BatchIterator(
                dataset.X, indices, batch_size, generator, drop_singleton, shard=shard
            )
        if training:
            self._train_iterator = iterator
        return iterator

    def _stream_iterator(self, dataset, batch_size, generator, drop_singleton, shard):
        """Streamed batches; a rank's are its share of each global batch, as many as any rank's."""
        if shard is None or generator is None:
            return StreamBatchIterator(
                dataset, batch_size, generator, drop_singleton, device=self.device
            )
        # The dataset is this rank's chunks already; its batches are its
        # share of the global batch, and every rank stops after as many as
        # the smallest shard holds (DDP needs the same steps everywhere).
        start, stop = shard.span(batch_size)
        local = max(stop - start, 1)
        n_batches = len(dataset) // local
        if drop_singleton and local == 1:
            raise ValueError(
                f"batch_size={batch_size} over {shard.world} ranks gives batches of one "
                "row per rank, which batch norm cannot train on; raise batch_size."
            )
        import torch.distributed as dist

        count = torch.tensor([n_batches], dtype=torch.int64)
        if torch.device(self.device).type == "cuda":
            count = count.cuda()
        dist.all_reduce(count, op=dist.ReduceOp.MIN)
        iterator = StreamBatchIterator(
            dataset,
            local,
            generator,
            drop_singleton,
            device=self.device,
            n_batches=int(count.item()),
        )
        iterator.weight = shard.world * local / batch_size
        return iterator

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
        if self.ddp_ is not None:
            # DDP averages the ranks' gradients; the weight makes the average
            # that of the global batch's mean loss when ranks' shares differ.
            (loss * self._train_iterator.weight).backward()
        else:
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
        return self._forward(x)

    def _forward(self, x, *args):
        # Through DDP when training data-parallel: its hooks follow forward().
        if self.ddp_ is not None and self.module_.training:
            return self.ddp_.module(x, *args)
        return self._forward_class(self.module_)(x, *args)

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
        # build_module records the widest activation per row (a convolution's
        # feature maps can be far wider than any weight matrix).
        width = getattr(module, "activation_width", None)
        if width is None:
            width = max((max(p.shape) for p in module.parameters() if p.ndim == 2), default=1)
        return max(1, _INFERENCE_ELEMENTS // width)

    def encode(self, X):
        """Return the codes of ``X`` as an array of ``X``'s float dtype."""
        return self._apply(self.module_.encoder, X)

    def decode(self, Z):
        """Return the reconstructions decoded from the codes ``Z``."""
        return self._apply(self.module_.decoder, Z)

    def reconstruct(self, X):
        """Return ``decode(encode(X))``, computed without leaving torch."""
        return self._apply(RoundTrip(self.module_), X)

    def reconstructs_finitely(self, X):
        """Whether the round trip of every row of ``X`` is finite (nothing kept).

        Chunk by chunk, in X's precision, as ``reconstruct`` would compute
        it, without allocating the reconstructions.
        """
        return self._apply(RoundTrip(self.module_), X, keep=False)

    def _apply(self, module, X, keep=True):
        """Run ``module`` on ``X`` in chunks, in eval mode, without gradients.

        float64 input runs through a float64 copy of the module: a float64
        caller gets float64 arithmetic, so rows come out the same (to ~1e-15)
        whatever chunk or subset they are computed in. ``keep=False`` only
        checks that every output is finite and returns whether it is.
        """
        self.check_is_fitted()
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        if dtype == torch.float64:
            module = copy.deepcopy(module).double()
        module.eval()
        rows = self._inference_rows(self.module_)
        out = None
        with torch.no_grad():
            for start in range(0, len(X), rows):
                Xb = as_tensor(X[start : start + rows], dtype, self.device)
                if not keep:
                    if not bool(torch.isfinite(module(Xb)).all()):
                        return False
                    continue
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
        return True if not keep else out


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
    *args
        As for :class:`AutoencoderNet`.
    beta : float, default=1.0
        Weight of the KL term.
    **kwargs
        As for :class:`AutoencoderNet`.
    """

    def __init__(self, *args, beta=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.beta = beta

    _forward_class = SampledReconstruction

    def infer(self, x, **fit_params):
        """Return ``(reconstruction, mean, log_var)`` for the batch ``x``."""
        x = self._check_infer_input(x, fit_params)
        return self._forward(x, self.generator_)

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


def _decays(name, parameter):
    """Whether weight decay applies: weight tensors, but not PCA's paths.

    Adam's L2 term would dominate the small gradients of a PCA
    initialisation's mean and components and walk them to zero.
    """
    return parameter.ndim >= 2 and ".pca_" not in f".{name}"


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
