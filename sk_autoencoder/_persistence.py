"""Save and load fitted estimators without pickle: safetensors plus JSON.

A saved model is either one ``.safetensors``-format file whose header
metadata holds the JSON, or a folder with ``weights.safetensors`` and
``metadata.json``. The tensors are the module's state, Adam's state and the
net's random-stream state; the JSON holds the parameters, the fitted
attributes, the optimizer's hyper-parameters, the training history, the
versions that wrote it and a format version. A SHA-256 over the JSON and
every tensor's bytes detects truncation and tampering.

Loading reads tensors with ``safetensors`` (no ``torch.load``, no pickle),
checks everything against the metadata, and only then builds the estimator:
an error leaves nothing half-loaded behind.

A network spec is saved as its class's import path and its parameters.
``load`` never imports what a file names: the built-in specs are known, and
a user's spec class loads only when the caller passes it in ``trusted``.
"""

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._data import import_optional
from ._recipe import MLP_PARAMETERS  # the estimators' MLP parameters of formats 1 and 2
from ._validation import warn_at_caller
from .networks import ConvNetwork, MLPNetwork
from .networks._base import Network, check_importable, qualified_name, validate_network
from .networks._recipe import (
    SETTINGS,  # what recipe_ holds; formats 1 and 2 kept them as parameters
)

FORMAT = "sk_autoencoder"
# 2: the network spec and the parameters added with it.
# 3: the architecture in ``network`` alone; the resolved ``network_`` and
#    ``recipe_`` (the MLP's parameters of formats 1 and 2 become an MLPNetwork).
FORMAT_VERSION = 3
BUILTIN_NETWORKS = (MLPNetwork, ConvNetwork)
# The parameters added after format 1, at the values format-1 models had.
FORMAT_1_PARAMETERS = {
    "network": None,
    "init": "random",
    "distributed": None,
    "distributed_timeout": 300.0,
}
METADATA_KEY = "sk_autoencoder"
WEIGHTS_FILE = "weights.safetensors"
METADATA_FILE = "metadata.json"
# Fitted attributes stored in the JSON (those an estimator has).
FITTED = (
    "n_features_in_",
    "feature_names_in_",
    "n_components_",
    "loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "best_loss_",
    "n_iter_",
    "batch_size_",
    "recipe_",
    "output_activation_",
    "loss_",
    "device_",
    "offset_",
    "threshold_",
)


def _jsonable(value):
    """Parameters and attributes as JSON values (tuples become lists)."""
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _network_entry(network):
    """``{"class": import path, "params": ...}`` of a spec, or a ValueError."""
    check_importable(network)
    params = network.get_params(deep=False)
    entry = {"class": qualified_name(type(network)), "params": {}}
    for key, value in params.items():
        value = _jsonable(value)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError(
                f"Cannot save {type(network).__name__}: its parameter {key}={value!r} is "
                "not JSON-able. Network specs take numbers, strings, booleans, None and "
                "tuples of them."
            ) from None
        entry["params"][key] = value
    return entry


def _tuples(value):
    """JSON lists back to tuples, as specs and estimators take sequences."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _network_from(entry, trusted, path):
    """Rebuild a spec from its saved entry, from the built-in or trusted classes only."""
    if trusted is None:
        trusted = ()
    elif isinstance(trusted, type):
        trusted = (trusted,)
    for cls in trusted:
        if not (isinstance(cls, type) and issubclass(cls, Network)):
            raise TypeError(
                f"trusted must hold Network subclasses (the classes themselves), got {cls!r}."
            )
    known = {qualified_name(cls): cls for cls in (*BUILTIN_NETWORKS, *trusted)}
    name = entry.get("class") if isinstance(entry, dict) else None
    if name not in known:
        raise ValueError(
            f"{path} holds a network of the untrusted type {name!r}. load() never imports "
            "a class a file names; if you trust this file, import the class yourself and "
            f"pass it: load(path, trusted=[{str(name).rsplit('.', 1)[-1]}]). Trusted now: "
            f"{sorted(known)}."
        )
    params = entry.get("params")
    if not isinstance(params, dict):
        raise ValueError(f"{path}: the network entry has no parameters.")
    try:
        network = known[name](**{k: _tuples(v) for k, v in params.items()})
    except TypeError as exc:
        raise ValueError(f"{path}: the saved parameters do not fit {name}: {exc}") from None
    validate_network(network)
    return network


def _versions():
    import sklearn
    import skorch

    from . import __version__

    return {
        "sk_autoencoder": __version__,
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "skorch": skorch.__version__,
        "safetensors": import_optional("safetensors", "export").__version__,
    }


def _module_tensors(module):
    """The module's state as ``(tensors, aliases)``: tied tensors stored once.

    A spec may share a tensor between layers (tied weights); safetensors
    stores each tensor once, and ``aliases`` maps the other names to it.
    """
    tensors, aliases, seen = {}, {}, {}
    for name, tensor in module.state_dict().items():
        key = (
            tensor.untyped_storage().data_ptr(),
            tensor.storage_offset(),
            tuple(tensor.shape),
            tuple(tensor.stride()),
            tensor.dtype,
        )
        if tensor.numel() and key in seen:
            aliases[f"module.{name}"] = seen[key]
        else:
            seen[key] = f"module.{name}"
            tensors[f"module.{name}"] = tensor
    return tensors, aliases


def _tensors_and_metadata(estimator):
    net = estimator.net_
    tensors, aliases = _module_tensors(net.module_)
    optimizer = net.optimizer_.state_dict()
    for index, state in optimizer["state"].items():
        for key, value in state.items():
            tensors[f"optimizer.{index}.{key}"] = value
    tensors["generator"] = net.generator_.get_state()
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    params = estimator.get_params(deep=False)
    if params.get("network") is not None:
        params["network"] = _network_entry(params["network"])
    if not (params["random_state"] is None or isinstance(params["random_state"], int)):
        warn_at_caller(
            "random_state is a RandomState instance, which is saved as None.", UserWarning
        )
        params["random_state"] = None
    fitted = {k: _jsonable(getattr(estimator, k)) for k in FITTED if hasattr(estimator, k)}
    fitted["network_"] = _network_entry(estimator.network_)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "versions": _versions(),
        "params": {k: _jsonable(v) for k, v in params.items()},
        "fitted": fitted,
        "net": {
            "seed": net.seed,
            "incremental": "stopping" not in dict(net.callbacks_),
            "generator_device": str(net.generator_.device),
            "param_groups": _jsonable(optimizer["param_groups"]),
            "history": json.loads(json.dumps(net.history.to_list(), default=float)),
            "aliases": aliases,
        },
        "tensors": {k: [str(v.dtype), list(v.shape)] for k, v in tensors.items()},
    }
    return tensors, metadata


def _checksum(metadata, tensors):
    digest = hashlib.sha256(json.dumps(metadata, sort_keys=True).encode())
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save(estimator, path):
    """Write a fitted estimator to ``path`` (a file, or a folder if it is one)."""
    check_is_fitted(estimator)
    from ._distributed import is_writer

    # Path() drops a trailing separator: look for it first.
    folder = str(path).endswith(("/", "\\"))
    path = Path(path)
    if not is_writer(estimator):
        return path  # another rank of the same torchrun fit (rank 0) writes the file
    safetensors_torch = import_optional("safetensors.torch", "export")
    tensors, metadata = _tensors_and_metadata(estimator)
    metadata["sha256"] = _checksum(metadata, tensors)
    text = json.dumps(metadata, sort_keys=True)
    if folder or path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        safetensors_torch.save_file(tensors, path / WEIGHTS_FILE)
        (path / METADATA_FILE).write_text(text)
    else:
        safetensors_torch.save_file(tensors, path, metadata={METADATA_KEY: text})
    return path


def _read(path):
    """``(metadata, tensors)`` from a saved file or folder, or a ValueError."""
    safetensors = import_optional("safetensors", "export")
    path = Path(path)
    weights = path / WEIGHTS_FILE if path.is_dir() else path
    try:
        with safetensors.safe_open(str(weights), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
        text = (path / METADATA_FILE).read_text() if path.is_dir() else header.get(METADATA_KEY)
    except FileNotFoundError:
        raise
    except Exception as exc:  # safetensors' own errors for truncated or corrupt files
        raise ValueError(
            f"{path} is truncated or is not a saved sk_autoencoder model: {exc}"
        ) from None
    if text is None:
        raise ValueError(f"{path} is a safetensors file without sk_autoencoder metadata.")
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} has corrupt sk_autoencoder metadata: {exc}") from None
    return metadata, tensors


def _check(metadata, tensors, cls, path):
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not a saved sk_autoencoder model.")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {version}, newer than the {FORMAT_VERSION} this "
            "sk_autoencoder reads; upgrade sk_autoencoder to load it."
        )
    if metadata.get("class") != cls.__name__:
        raise ValueError(
            f"{path} holds a {metadata.get('class')}, not a {cls.__name__}; load it with "
            f"{metadata.get('class')}.load."
        )
    expected = metadata.get("sha256")
    unsigned = {k: v for k, v in metadata.items() if k != "sha256"}
    if expected != _checksum(unsigned, tensors):
        raise ValueError(
            f"{path} has been modified since it was saved: its SHA-256 does not match its contents."
        )
    described = {k: [str(v.dtype), list(v.shape)] for k, v in tensors.items()}
    if described != metadata["tensors"]:
        raise ValueError(f"{path}: the tensors do not match the metadata's description.")


def _from_format_2(params, fitted):
    """Parameters and fitted attributes of a format-1 or format-2 file, as format 3 has them.

    Those formats kept the MLP's architecture and every training setting as
    estimator parameters, each with the value the model was trained with:
    the MLP becomes the ``network`` it described, and the settings become
    both the parameters (a refit trains the same way) and ``recipe_``.
    """
    # Parameters that a file of format 1 could not record: their value then
    # was what the model was trained with, not today's default.
    params = {**FORMAT_1_PARAMETERS, **params}
    mlp = {name: params.pop(name) for name in MLP_PARAMETERS if name in params}
    if params["network"] is None:
        mlp["hidden_layer_sizes"] = _tuples(mlp["hidden_layer_sizes"])
        params["network"] = {"class": qualified_name(MLPNetwork), "params": mlp}
    fitted = {
        "output_activation_": params["output_activation"],
        "loss_": params["loss"],
        **fitted,
    }
    recipe = {name: params[name] for name in SETTINGS}
    recipe["batch_size"] = fitted["batch_size_"]
    recipe["output_activation"] = fitted["output_activation_"]
    recipe["loss"] = fitted["loss_"]
    fitted["recipe_"] = recipe
    fitted["network_"] = params["network"]
    return params, fitted


def load(cls, path, device=None, trusted=None):
    """Rebuild a fitted ``cls`` from ``path``; see ``BaseAutoencoder.load``."""
    metadata, tensors = _read(path)
    _check(metadata, tensors, cls, path)
    params = dict(metadata["params"])
    fitted = dict(metadata["fitted"])
    if metadata["format_version"] < 3:
        params, fitted = _from_format_2(params, fitted)
    if params.get("network") is not None:
        params["network"] = _network_from(params["network"], trusted, path)
    if "network_" not in fitted:
        raise ValueError(f"{path}: the metadata has no fitted network_.")
    network_ = _network_from(fitted.pop("network_"), trusted, path)
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise ValueError(f"{path}: the saved parameters do not fit {cls.__name__}: {exc}") from None
    # Parameters are checked before anything is built from them.
    estimator._validate_params()
    for key, value in fitted.items():
        if key == "feature_names_in_":
            value = np.asarray(value, dtype=object)
        elif key == "recipe_":
            value = {k: _tuples(v) for k, v in value.items()}
        elif isinstance(value, str) and key not in ("device_", "output_activation_", "loss_"):
            value = float(value)  # non-finite floats were saved as text
        setattr(estimator, key, value)
    estimator.network_ = network_
    if device is None:
        device = estimator.device_
    if device.startswith("cuda") and not torch.cuda.is_available():
        device = "cpu"  # a GPU-trained model loaded on a CPU-only machine
    estimator.device_ = device
    net_meta = metadata["net"]
    net = estimator._build_net(
        estimator.n_features_in_, net_meta["seed"], incremental=net_meta["incremental"]
    )
    net.initialize()
    aliases = net_meta.get("aliases", {})
    if not all(isinstance(v, str) and v in tensors for v in aliases.values()):
        raise ValueError(f"{path}: the metadata's tied tensors name tensors the file lacks.")
    module_state = {
        k[len("module.") :]: v
        for k, v in [*tensors.items(), *((a, tensors[c]) for a, c in aliases.items())]
        if k.startswith("module.")
    }
    mine = net.module_.state_dict()
    if {k: (v.dtype, v.shape) for k, v in mine.items()} != {
        k: (v.dtype, v.shape) for k, v in module_state.items()
    }:
        raise ValueError(
            f"{path}: the saved weights do not fit the network its parameters describe."
        )
    net.module_.load_state_dict(module_state)
    state = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    groups = [
        {**group, "betas": tuple(group["betas"])} if "betas" in group else group
        for group in net_meta["param_groups"]
    ]
    net.optimizer_.load_state_dict({"state": state, "param_groups": groups})
    if torch.device(net_meta["generator_device"]).type == torch.device(net.device).type:
        net.generator_.set_state(tensors["generator"])
    from skorch.history import History

    net.history = History(net_meta["history"])
    net.module_.eval()
    estimator.net_ = net
    return estimator
