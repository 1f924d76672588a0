"""The network-spec contract, and how the estimators turn a spec into a module.

A spec says *what* to build (its hyper-parameters); ``build`` makes a fresh
``nn.Module`` each time it is called. The estimators call
:func:`build_module`, which seeds the build, checks what came back and adds
the output activation, so that a user's spec only has to map rows to codes
and back.
"""

import inspect
import pickle
import sys
import weakref

import torch
from sklearn.base import BaseEstimator
from torch import nn

from .._modules import ACTIVATIONS, GaussianEncoderAutoencoder, PCAResidualAutoencoder
from ._recipe import default_recipe

# Picklers that carry a class defined in ``__main__`` by value (or re-import
# the main script in the child process), so an object of such a class still
# loads where they deliver it: parallel searches and clusters use them.
_BY_VALUE_PICKLERS = ("cloudpickle", "dill", "copy", "multiprocessing", "torch.multiprocessing")
# Every parameter build_module has handed to a net: a spec that returns a
# module it built before would have one fit train another's weights.
_HANDED_OUT = weakref.WeakValueDictionary()


class Network(BaseEstimator):
    """Base class of network specs: the architecture an estimator trains.

    A spec is a small scikit-learn-style object. Its ``__init__`` takes
    explicit keyword hyper-parameters with JSON-able values (numbers,
    strings, booleans, None, tuples) and stores each one unchanged under its
    own name, so ``get_params``, ``set_params`` and ``clone`` work through
    scikit-learn's own machinery, and an estimator's ``network__<param>``
    can be searched like any other parameter. :meth:`build` returns a new
    ``nn.Module`` every time it is called: a fit never trains a module it
    did not build, and no weights leak between the folds of a search.

    Subclasses implement :meth:`build`; they may override
    :meth:`build_variational` when they can build the variational
    autoencoder's encoder more directly than the default does, and may
    declare ``_parameter_constraints`` as scikit-learn estimators do, which
    ``fit`` and ``load`` then check before anything is built.

    The class must be importable (defined at the top level of a module, not
    in ``__main__`` or inside a function) for the estimator to be pickled
    to a file or saved: a file that names a class nobody can import is
    refused when it is written, not discovered broken when it is read.

    See Also
    --------
    MLPNetwork : The multilayer perceptron (the estimators' default).
    ConvNetwork : A convolutional autoencoder for images and signals.
    check_network : Run a spec through fit, search, pickle, save and ONNX.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sk_autoencoder.networks import Network
    >>> class Linear(Network):
    ...     def __init__(self, bias=True):
    ...         self.bias = bias
    ...
    ...     def build(self, n_features, n_components, *, generator=None):
    ...         module = nn.Module()
    ...         module.encoder = nn.Linear(n_features, n_components, bias=self.bias)
    ...         module.decoder = nn.Linear(n_components, n_features, bias=self.bias)
    ...         return module
    >>> module = Linear().build(10, 2)
    >>> module.encoder(torch.zeros(3, 10)).shape
    torch.Size([3, 2])
    """

    # True for specs whose build draws every random number from ``generator``
    # (the built-in ones); others are built under a forked, seeded global RNG.
    _draws_only_from_generator = False

    def build(self, n_features, n_components, *, generator=None):
        """Build a fresh, untrained autoencoder module.

        Parameters
        ----------
        n_features : int
            Width of the input rows and of the reconstructions.
        n_components : int
            Width of the code.
        generator : torch.Generator or None, default=None
            Draws the initial weights (e.g. through the ``generator``
            argument of ``torch.nn.init`` functions). Whatever a spec draws
            from torch's global generator instead (``nn.Linear(...)``
            initialises itself from it) is drawn under a forked global
            generator seeded from ``generator``, which the caller gets back
            unchanged, so seeded fits reproduce either way.

        Returns
        -------
        module : torch.nn.Module
            With submodules ``encoder``, mapping float32 rows
            ``(n, n_features)`` to codes ``(n, n_components)``, and
            ``decoder``, mapping codes back to rows. Images or signals are
            reshaped inside the module. The last layer of the decoder should
            be linear: the estimator appends its ``output_activation``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement build().")

    def build_variational(self, n_features, n_components, *, generator=None):
        """Build a variational autoencoder module.

        The default builds the spec twice: once with ``2 * n_components``
        codes, whose encoder outputs the posterior means and then the
        log-variances, and once with ``n_components``, whose decoder maps
        codes back (see ``GaussianEncoderAutoencoder`` in ``sk_autoencoder._modules``).

        Parameters
        ----------
        n_features : int
            Width of the rows the module reconstructs.
        n_components : int
            Width of the code (the posterior's dimension).
        generator : torch.Generator or None, default=None
            Draws the initial weights.

        Returns
        -------
        module : torch.nn.Module
            With ``encoder`` (rows to posterior means), ``decoder`` and
            ``encode_stats(X) -> (mean, log_var)``.
        """
        stats = _call_build(self, n_features, 2 * n_components, generator)
        codes = _call_build(self, n_features, n_components, generator)
        return GaussianEncoderAutoencoder(stats.encoder, codes.decoder, n_components)

    def recipe(self, n_samples, n_features, n_components, *, task="transformer"):
        """Return the training settings this network needs, for data of this size.

        The estimators call it at ``fit``: every training setting left at
        ``"auto"`` (``init``, ``max_iter``, ``learning_rate``,
        ``learning_rate_init``, ``batch_size``, ``alpha``,
        ``early_stopping``, ``output_activation``, ``loss``) takes the value
        given here, and the estimator records what it resolved in
        ``recipe_``. A value the user sets always wins. This default returns
        the estimators' generic recipe: for the transformer, a PCA start
        kept unless a validation epoch beats it, and 25 epochs of a cosine
        schedule from 7.5e-3 in batches of 64; for the variational
        transformer and the outlier detector, 200 epochs at a constant 1e-3
        from a random start. Override it to ship a recipe with a spec; a
        returned dict may leave settings out, which then keep these values.

        Parameters
        ----------
        n_samples : int
            Rows the fit trains on (validation rows included).
        n_features : int
            Width of the rows.
        n_components : int
            Width of the code.
        task : {"transformer", "variational", "outlier"}, default="transformer"
            Which estimator asks: :class:`~sk_autoencoder.AutoencoderTransformer`,
            :class:`~sk_autoencoder.VariationalAutoencoderTransformer` or
            :class:`~sk_autoencoder.AutoencoderOutlierDetector`.

        Returns
        -------
        recipe : dict
            Setting name to value, each a value the estimator's parameter of
            that name accepts; ``"auto"`` for ``output_activation`` or
            ``loss`` means the choice from the data's range (a sigmoid and
            cross-entropy for data in [0, 1] unless the start is PCA).
        """
        return default_recipe(task)

    def __reduce_ex__(self, protocol):
        where = _unimportable(type(self))
        if where is not None and not _by_value_pickler():
            raise pickle.PicklingError(
                f"{type(self).__qualname__} is defined in {where}, so a pickle of it "
                "names a class that no other process can import and would not load "
                "there. Define the network class in an importable module."
            )
        return super().__reduce_ex__(protocol)


def qualified_name(cls):
    """``module.QualName`` of a class, as saved files record it."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _unimportable(cls):
    """Where ``cls`` is defined when no other process could import it, else None."""
    if cls.__module__ in ("__main__", "__mp_main__"):
        return "__main__"
    if "<locals>" in cls.__qualname__:
        return "a function's local scope"
    return None


def _by_value_pickler():
    """Whether ``__reduce_ex__``'s caller is a pickler that carries classes by value.

    C picklers leave no frame of their own, so the caller is the code that
    called ``pickle.dump`` (refused), or the Python-level ``dump`` of
    cloudpickle, multiprocessing's ForkingPickler or ``copy.deepcopy``.
    """
    module = sys._getframe(2).f_globals.get("__name__", "")
    dotted = f".{module}."
    return any(f".{name}." in dotted for name in _BY_VALUE_PICKLERS)


def check_importable(network):
    """Raise ValueError if ``network``'s class could not be named in a saved file."""
    where = _unimportable(type(network))
    if where is not None:
        raise ValueError(
            f"Cannot save a model whose network, {type(network).__qualname__}, is "
            f"defined in {where}: load() finds network classes by their import path, "
            "and this one has none outside this process. Define the class in an "
            "importable module and pass it to load(..., trusted=[...])."
        )


def _accepts_generator(build):
    try:
        parameters = inspect.signature(build).parameters
    except (TypeError, ValueError):
        return False
    return "generator" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def _call_build(network, n_features, n_components, generator, method="build"):
    build = getattr(network, method)
    kwargs = {"generator": generator} if _accepts_generator(build) else {}
    if kwargs and network._draws_only_from_generator:
        return build(n_features, n_components, **kwargs)
    # torch's layers initialise themselves from the global generator as they
    # are built (nn.Linear(...) does, before any init of the spec's own):
    # fork it, seed it from the fit's seed, and give the caller's state back.
    seed = int(torch.randint(2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(n_features, n_components, **kwargs)


def validate_network(network):
    """Check the spec's type and declared parameter constraints."""
    if not isinstance(network, Network):
        raise TypeError(
            "network must be an instance of a sk_autoencoder.networks.Network "
            f"subclass (e.g. MLPNetwork, ConvNetwork) or None, got {network!r}."
        )
    if hasattr(network, "_parameter_constraints"):
        network._validate_params()


def build_module(
    network,
    n_features,
    n_components,
    output_activation="identity",
    variational=False,
    seed=0,
    pca_residual=False,
    pca=None,
):
    """The module an estimator trains: ``network`` built, seeded and checked.

    skorch calls this (through :class:`ModuleBuilder`) each time the net is
    initialised, so every fit trains a module built for it. The build draws its initial weights from
    a generator seeded by ``seed``; the output activation is appended to
    the decoder; one forward pass on two zero rows (in eval mode, so batch
    norm statistics do not move) checks the shapes, so that a spec that
    builds the wrong widths fails with a message instead of inside torch.

    ``pca_residual`` wraps the spec's module as the residual of linear PCA
    paths (:class:`~sk_autoencoder._modules.PCAResidualAutoencoder`),
    initialised from ``pca = (mean, components)`` when given (a fresh fit)
    and left for a state dict to fill otherwise (a loaded model).
    """
    generator = torch.Generator().manual_seed(seed)
    method = "build_variational" if variational else "build"
    module = _call_build(network, n_features, n_components, generator, method)
    name = type(network).__name__
    required = ("encoder", "decoder", "encode_stats") if variational else ("encoder", "decoder")
    missing = [a for a in required if not hasattr(module, a)]
    if not isinstance(module, nn.Module) or missing:
        raise TypeError(
            f"{name}.{method}() must return an nn.Module with "
            f"{', '.join(required)}; got {type(module).__name__}"
            + (f" without {', '.join(missing)}." if missing else ".")
        )
    if any(_HANDED_OUT.get(id(p)) is p for p in module.parameters()):
        raise ValueError(
            f"{name}.{method}() returned a module (or parameters) it had returned before; "
            "build must create a new module on every call, so that no fit trains "
            "another fit's weights."
        )
    module = module.to(torch.float32)
    _HANDED_OUT.update((id(p), p) for p in module.parameters())
    if output_activation != "identity":
        activation = ACTIVATIONS[output_activation]()
        if isinstance(module.decoder, nn.Sequential):
            module.decoder.append(activation)
        else:
            module.decoder = nn.Sequential(module.decoder, activation)
    # The spec's own module is checked, before PCA's paths could hide its widths.
    width = _check_shapes(module, name, n_features, n_components, variational)
    if pca_residual:
        mean, components = (None, None) if pca is None else pca
        module = PCAResidualAutoencoder(module, n_features, n_components, mean, components)
    module.activation_width = width
    return module


class ModuleBuilder:
    """skorch's ``module``: a callable that runs :func:`build_module` when called.

    skorch calls a ``module`` that is not an ``nn.Module`` instance with the
    net's ``module__`` settings, each time the net is initialised. The spec
    is held here rather than as a ``module__network`` setting, which skorch
    would pickle with the standard pickler even when the net is being
    carried by cloudpickle.
    """

    def __init__(self, network, **settings):
        self.network = network
        self.settings = settings

    def __call__(self, **overrides):
        return build_module(self.network, **{**self.settings, **overrides})

    def __repr__(self):
        return f"ModuleBuilder({self.network!r})"


def _check_shapes(module, name, n_features, n_components, variational):
    """Run two zero rows through ``module``; return its widest activation per row."""
    widths = [n_features]

    def record(_, __, output):
        if isinstance(output, torch.Tensor) and output.ndim >= 1 and len(output) == 2:
            widths.append(output[0].numel())

    hooks = [m.register_forward_hook(record) for m in module.modules()]
    training = module.training
    module.eval()
    try:
        with torch.no_grad():
            X = torch.zeros(2, n_features, dtype=torch.float32)
            codes = _expect(module.encoder(X), (2, n_components), name, "encoder", X.shape)
            if variational:
                for stat in module.encode_stats(X):
                    _expect(stat, (2, n_components), name, "encode_stats", X.shape)
            _expect(module.decoder(codes), (2, n_features), name, "decoder", codes.shape)
    finally:
        for hook in hooks:
            hook.remove()
        module.train(training)
    return max(widths)


def _expect(output, shape, name, part, input_shape):
    got = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
    if got != shape:
        raise ValueError(
            f"The module that {name} built maps input of shape {tuple(input_shape)} through "
            f"its {part} to {got}; expected {shape}."
        )
    return output
