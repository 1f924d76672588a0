"""Docstring sections shared by the estimators (numpydoc)."""

import ast
import inspect
import re

SHARED_PARAMETERS = """\
    n_components : int, default=2
        Size of the code (the output of ``transform``).

    network : Network or None, default=None
        The architecture, as a spec from :mod:`sk_autoencoder.networks`
        (:class:`~sk_autoencoder.networks.MLPNetwork`,
        :class:`~sk_autoencoder.networks.ConvNetwork`, or a subclass of
        :class:`~sk_autoencoder.networks.Network` of your own), and with it
        the recipe that trains it: every training setting left at
        ``"auto"`` below takes the value the spec's
        :meth:`~sk_autoencoder.networks.Network.recipe` gives for the data.
        ``fit`` builds a fresh module from a clone of it (``network_``); its
        parameters are searchable as ``network__<param>`` once a spec is
        given. None trains the estimator's default spec (see
        ``network_``). The MLP's widths, activation, dropout and batch norm
        are parameters of :class:`~sk_autoencoder.networks.MLPNetwork`, not
        of the estimator.

    output_activation : {"auto", "identity", "sigmoid"}, default="auto"
        Activation of the decoder's last layer. ``"sigmoid"`` bounds the
        reconstruction to (0, 1), for data such as pixel intensities.
        ``"auto"`` is the recipe's choice: ``MLPNetwork(preset="quality")``
        and ``ConvNetwork`` (from a random start) pick ``"sigmoid"`` when
        the training data lie in [0, 1] and ``"identity"`` otherwise; the
        other recipes pick ``"identity"``. ``output_activation_`` says
        which.

    loss : {"auto", "mse", "bce"}, default="auto"
        Reconstruction loss: mean squared error, or binary cross-entropy
        (needs ``output_activation="sigmoid"`` and data in [0, 1]).
        ``"auto"`` picks ``"bce"`` when the output is a sigmoid and the
        training data lie in [0, 1], ``"mse"`` otherwise; ``loss_`` says
        which. Out of core, "the training data" for both ``"auto"``
        choices is the first chunk, and a later chunk outside [0, 1] raises
        a ValueError under BCE. ``partial_fit`` and ``warm_start`` keep the
        first fit's choices.

    noise : {"gaussian", "masking"} or None, default=None
        Denoising: corrupt each training batch and learn to reconstruct the
        clean one. ``"gaussian"`` adds noise of standard deviation
        ``noise_level``; ``"masking"`` zeroes each input with probability
        ``noise_level``. Never applied by ``transform``.

    noise_level : float, default=0.1
        Strength of the corruption; see ``noise``.

    sparsity : float, default=0.0
        Weight of an L1 penalty on the codes (mean over samples of the sum
        of absolute code values) added to the training loss.

    contractive : float, default=0.0
        Weight of a penalty on the squared Frobenius norm of the encoder's
        Jacobian with respect to its input, estimated per batch with one
        random projection (Hutchinson's estimator, unbiased).

    alpha : float or "auto", default="auto"
        Strength of the L2 penalty on the weights (every weight matrix and
        convolution kernel; not the biases or batch-norm parameters),
        applied as Adam's ``weight_decay``. ``"auto"``: the recipe's.

    batch_size : int or "auto", default="auto"
        Minibatch size. ``"auto"``: the recipe's (64 for the transformer's
        built-in recipes, 256 for the detector's and the variational
        transformer's), at most ``n_samples``.

    learning_rate_init : float or "auto", default="auto"
        Adam's learning rate at the start of training. ``"auto"``: the
        recipe's.

    learning_rate : {"auto", "constant", "cosine", "onecycle", "adaptive"}, \
default="auto"
        How the learning rate moves during ``fit`` (skorch's
        ``LRScheduler``). ``"cosine"`` anneals it from
        ``learning_rate_init`` to 0 over ``max_iter`` epochs, stepped per
        epoch; ``"onecycle"`` (torch's ``OneCycleLR``, stepped per batch)
        warms it up from ``learning_rate_init / 25`` over the first tenth of
        the fit's batches, then anneals it to about 0 by the end of epoch
        ``max_iter``; ``"adaptive"`` divides it by 5 whenever the monitored
        loss (see ``early_stopping``) has not improved by the relative
        ``tol`` for ``max(n_iter_no_change // 2, 1)`` epochs. A fit that
        runs a cosine or one-cycle schedule to ``max_iter`` has done what
        it planned and raises no ``ConvergenceWarning``; under the others,
        reaching ``max_iter`` before the stopping rule does raises one.
        ``partial_fit`` trains at the constant ``learning_rate_init``, also
        when it continues a model that ``fit`` trained under a schedule.
        The rates are in ``net_.history[:, "event_lr"]`` (per epoch) or
        ``net_.history[:, "batches", :, "event_lr"]`` (per batch).
        ``"auto"``: the recipe's.

    init : {"auto", "random", "pca"}, default="auto"
        Where training starts. ``"random"``: torch's default
        initialisation. ``"pca"``: PCA of the rows given to ``fit``, with
        the network as a residual around PCA's
        linear maps (``codes = P(x - mean) + f(x)``, ``x_hat = mean +
        P^T codes + h(codes)``, the residuals' last layers starting at
        zero), so the untrained model *is* PCA and training learns what PCA
        misses. With ``early_stopping`` the initial weights are scored on
        the validation split first and kept when no epoch beats them: the
        validation error can only end at or below that PCA's. Needs an identity
        output (``"auto"`` resolves to it) and is not available to the
        variational autoencoder. Out of core, the PCA is an
        ``IncrementalPCA`` over the chunks (one extra pass). ``"auto"``: the
        recipe's (``"pca"`` for the transformer's MLP fast preset), or
        ``"random"`` when ``output_activation`` is set to ``"sigmoid"``.

    max_iter : int or "auto", default="auto"
        Maximum number of epochs (passes over the training data).
        ``"auto"``: the recipe's.

    early_stopping : bool or "auto", default="auto"
        If True, hold out ``validation_fraction`` of the training data, stop
        when the validation loss has not improved for ``n_iter_no_change``
        epochs, and restore the best weights. If False, the same rule is
        applied to the training loss. ``"auto"``: the recipe's.

    validation_fraction : float, default=0.1
        Fraction of the training data held out when ``early_stopping``.

    n_iter_no_change : int, default=10
        Epochs without an improvement before stopping.

    tol : float, default=1e-4
        Minimum *relative* decrease of the monitored loss that counts as an
        improvement: an epoch improves if its loss is below
        ``(1 - tol)`` times the last improving loss. Relative, unlike
        ``MLPRegressor``'s absolute ``tol``, so that when training stops
        does not depend on the scale of the data or of the loss.

    chunk_size : int or "auto", default="auto"
        Rows read at a time from out-of-core ``X`` (a NumPy memmap, zarr
        array, h5py dataset or dask array), which is never loaded whole:
        training shuffles the chunk order and the rows within a buffer of
        4 chunks, and inference returns results chunk by chunk. ``"auto"``
        reads about 32 MiB of float32 rows, rounded to a multiple of the
        store's own row chunks. In-memory arrays are not affected.

    n_threads : int or None, default=None
        Number of torch threads used by each call to ``fit``, ``partial_fit`` and the
        inference methods; the caller's setting is restored afterwards.
        None leaves torch's setting as it is: all cores in a plain process,
        ``cpu_count // n_jobs`` in a joblib (loky) worker, one in a dask
        worker started by a nanny. Set it to use a dask worker's cores
        (e.g. ``n_threads=8`` on 8-core workers). torch's setting is
        process-wide, so leave it None when several fits share a process
        (joblib's threading backend).

    device : {"cpu", "cuda", "auto"}, default="cpu"
        Where to train and infer; ``"auto"`` picks CUDA when available.

    distributed : int, "torchrun", "dask" or None, default=None
        Data-parallel training of one model by several processes, through
        ``torch.distributed`` (``DistributedDataParallel``; gloo on the
        CPU, nccl on CUDA, one GPU per rank). An int N starts N local
        ranks with torch's elastic launcher and returns here fitted, as a
        one-process fit would; in-memory X reaches them as one temporary
        memory-mapped file, and memmap, zarr and h5py sources are opened by
        reference, each rank reading only its own chunks. ``"torchrun"``
        joins the process group of a script started by ``torchrun`` (every
        rank ends with the same model; ``save`` writes from rank 0 only).
        ``"dask"`` runs one rank per worker of the active
        ``distributed.Client``, each training on the partitions of a dask
        array that live on it. ``batch_size`` is the global batch, split
        across the ranks, and epoch losses are averaged over them, so
        stopping and schedules agree everywhere. ``fit`` only:
        ``partial_fit`` trains in the calling process and refuses it. None
        trains in this process.

    distributed_timeout : float, default=300.0
        Seconds a rank waits for the others (rendezvous, every collective)
        before the fit fails; also bounds how long a failure on one rank
        takes to stop the others.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the validation split,
        dropout and corruption noise. Pass an int for bitwise-reproducible
        fits on the CPU. The global torch random state is left untouched.

    verbose : int, default=0
        0 is silent, 1 prints skorch's per-epoch table, 2 or more also shows
        a progress bar per epoch.

    warm_start : bool, default=False
        If True and the estimator is already fitted, start from the current
        weights instead of a new initialisation (the optimiser restarts)."""

SHARED_ATTRIBUTES = """\
    net_ : AutoencoderNet
        The trained skorch net. Its ``module_`` has ``encoder`` and
        ``decoder`` submodules that can be reused in plain PyTorch.

    n_components_ : int
        Width of the fitted code; what ``transform`` returns and
        ``inverse_transform`` takes, whatever ``set_params`` changes later.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.

    loss_curve_ : list of float
        Training loss (penalties included) at each epoch, over all fits
        when ``warm_start``.

    validation_scores_ : list of float or None
        Minus the validation loss at each epoch (higher is better), when
        ``early_stopping``; None otherwise.

    best_validation_score_ : float or None
        Best of ``validation_scores_``; None without early stopping.

    best_loss_ : float
        Lowest monitored loss of the last fit: the training loss, or the
        validation loss when ``early_stopping``.

    n_iter_ : int
        Number of epochs run (all fits, with ``warm_start``).

    network_ : Network
        The spec the fit trained: a clone of ``network``, or the
        estimator's default spec when ``network`` is None.

    recipe_ : dict
        Every training setting the fit used (``init``, ``max_iter``,
        ``learning_rate``, ``learning_rate_init``, ``batch_size``,
        ``alpha``, ``early_stopping``, ``output_activation``, ``loss``):
        ``network_``'s recipe for the data where the parameter is
        ``"auto"``, the parameter's value where it is set. ``verbose``
        prints it at the start of a fit.

    batch_size_ : int
        The minibatch size used.

    output_activation_ : str
        The decoder's output activation, ``"auto"`` resolved.

    loss_ : str
        The reconstruction loss trained on, ``"auto"`` resolved.

    device_ : str
        The device the net lives on."""


_DEFAULT_LINE = re.compile(r"^    (\w+) : (.*), default=(.*)$", re.MULTILINE)


def _with_defaults(section, cls):
    """``section`` with every ``default=`` taken from ``cls.__init__``.

    The estimators share their parameters' descriptions but not all their
    defaults; the signature is the one source of truth.
    """
    signature = inspect.signature(cls.__init__).parameters

    def default(match):
        name, kind, written = match.groups()
        value = signature[name].default
        if ast.literal_eval(written) == value:
            return match.group(0)  # keep the text as written (1e-3, not 0.001)
        shown = f'"{value}"' if isinstance(value, str) else repr(value)
        return f"    {name} : {kind}, default={shown}"

    return _DEFAULT_LINE.sub(default, section)


def fill_doc(cls):
    """Put the shared parameter and attribute sections into a docstring."""
    parameters = _with_defaults(SHARED_PARAMETERS, cls)
    cls.__doc__ = cls.__doc__.replace("    {shared_parameters}", parameters)
    cls.__doc__ = cls.__doc__.replace("    {shared_attributes}", SHARED_ATTRIBUTES)
    return cls
