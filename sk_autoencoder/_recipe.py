"""Resolving an estimator's network and its ``"auto"`` training settings.

The one place where a fit decides what it trains: the network spec
(``network``, or the estimator's documented default) and, for every
training setting left at ``"auto"``, the value the spec's recipe gives for
this data (:meth:`Network.recipe <sk_autoencoder.networks.Network.recipe>`).
A value the user sets always wins. The estimator keeps both as fitted
attributes, ``network_`` and ``recipe_``.
"""

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from .networks._base import validate_network
from .networks._mlp import MLPNetwork
from .networks._recipe import SETTINGS, default_recipe

# The MLP's parameters, which the estimators took before the architecture
# lived in ``network`` alone.
MLP_PARAMETERS = ("hidden_layer_sizes", "activation", "dropout", "batch_norm")


def removed_parameters_message(cls, given):
    """The TypeError's text for MLP parameters passed to an estimator.

    It names the call to write instead: ``network=MLPNetwork(...)`` with the
    given values, and the estimator's default network's for the others
    where they differ from ``MLPNetwork``'s own.
    """
    default = cls._default_network().get_params()
    settings = {**default, **given}
    plain = MLPNetwork().get_params()
    shown = ", ".join(
        f"{name}={settings[name]!r}"
        for name in (*MLP_PARAMETERS, "preset")
        if name in given or not _same(settings[name], plain[name])
    )
    passed = ", ".join(f"{name}={value!r}" for name, value in given.items())
    return (
        f"{cls.__name__}({passed}): the architecture is set by `network` alone since "
        f"0.2. Write {cls.__name__}(network=MLPNetwork({shown})) instead "
        "(from sk_autoencoder.networks import MLPNetwork)."
    )


def resolve(estimator, X_head, n_samples, reset):
    """Set ``network_`` and ``recipe_`` on ``estimator`` for a fit on this data.

    ``X_head`` is the training data (its first chunk, out of core), whose
    range decides ``"auto"`` output and loss; ``reset`` is False when the
    fit continues a model (``warm_start``, later ``partial_fit`` calls),
    which keeps its first output activation and loss.
    """
    network = _network(estimator)
    n_features, n_components = estimator.n_features_in_, estimator.n_components
    recipe = network.recipe(n_samples, n_features, n_components, task=estimator._task)
    recipe = _checked(recipe, network, estimator)
    resolved = {}
    for name in SETTINGS:
        value = getattr(estimator, name)
        resolved[name] = recipe[name] if _is_auto(value) else value
    if _is_auto(estimator.init) and estimator.output_activation not in ("auto", "identity"):
        # A PCA start is a linear reconstruction: an output the user asks
        # for by name that cannot express it makes the recipe start at random.
        resolved["init"] = "random"
    if reset:
        output, loss = _output_and_loss(resolved, X_head)
    else:
        output, loss = estimator.output_activation_, estimator.loss_
    resolved["output_activation"], resolved["loss"] = output, loss
    estimator.network_ = network
    estimator.recipe_ = resolved
    estimator.output_activation_, estimator.loss_ = output, loss
    if estimator.verbose:
        print(describe(estimator), flush=True)


def describe(estimator):
    """One line for the verbose log: the network and what its recipe resolved."""
    yours = [name for name in SETTINGS if not _is_auto(getattr(estimator, name))]
    settings = ", ".join(f"{name}={estimator.recipe_[name]!r}" for name in SETTINGS)
    set_by = f"; set by you: {', '.join(yours)}" if yours else ""
    return f"{type(estimator).__name__} trains {estimator.network_!r} with {settings}{set_by}."


def _network(estimator):
    if estimator.network is None:
        return estimator._default_network()
    validate_network(estimator.network)
    return clone(estimator.network)


def _checked(recipe, network, estimator):
    """The recipe filled in from the generic one; a ValueError for what an estimator refuses."""
    name = f"{type(network).__name__}.recipe()"
    if not isinstance(recipe, dict):
        raise TypeError(f"{name} must return a dict, got {type(recipe).__name__}.")
    unknown = sorted(set(recipe) - set(SETTINGS))
    if unknown:
        raise ValueError(
            f"{name} returned settings that are not training settings: {', '.join(unknown)}; "
            f"expected some of {', '.join(SETTINGS)}."
        )
    recipe = {**default_recipe(estimator._task), **recipe}
    constraints = {key: estimator._parameter_constraints[key] for key in SETTINGS}
    try:
        validate_parameter_constraints(constraints, recipe, caller_name=name)
    except InvalidParameterError as exc:
        raise ValueError(str(exc).replace("parameter of", "setting of")) from None
    if any(_is_auto(recipe[key]) for key in SETTINGS if key not in ("output_activation", "loss")):
        raise ValueError(f"{name} returned 'auto' for a setting it must decide: {recipe!r}.")
    return recipe


def _output_and_loss(resolved, X):
    """The output activation and the loss, ``"auto"`` decided by X's range.

    Data in [0, 1] (pixel intensities, min-max scaled features) get a
    sigmoid output and binary cross-entropy, unless training starts at PCA,
    whose reconstruction is linear; anything else an identity output and
    mean squared error. An explicit output is kept, and ``loss="auto"``
    pairs ``"sigmoid"`` with cross-entropy only for data in [0, 1].
    """
    output, loss = resolved["output_activation"], resolved["loss"]
    in_unit = False
    if "auto" in (output, loss):
        with np.errstate(invalid="ignore"):
            in_unit = bool(X.min() >= 0 and X.max() <= 1)
    if output == "auto":
        output = "sigmoid" if in_unit and resolved["init"] != "pca" else "identity"
    if loss == "auto":
        loss = "bce" if output == "sigmoid" and in_unit else "mse"
    return output, loss


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


def _same(value, default):
    """Whether a parameter is at its default (sequences compared by value)."""
    if isinstance(value, (list, tuple, np.ndarray)) or isinstance(default, (list, tuple)):
        try:
            return np.array_equal(np.asarray(value), np.asarray(default))
        except (TypeError, ValueError):
            return False
    return value == default
