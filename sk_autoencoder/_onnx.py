"""ONNX export of a fitted estimator's network, through ``torch.onnx``.

The graph comes from torch's ``torch.export``-based exporter
(``dynamo=True``, passed explicitly: the TorchScript exporter is deprecated
since torch 2.9) with a dynamic batch axis, in float32, in eval mode (batch
norm with its running statistics, no dropout). Parts:

* ``"encoder"``: ``X -> codes`` (``transform``; for the variational
  autoencoder, the posterior mean);
* ``"decoder"``: ``codes -> reconstruction`` (``inverse_transform``);
* ``"autoencoder"``: ``X -> reconstruction``, the round trip;
* ``"error"``: ``X -> error``, each sample's mean squared reconstruction
  error (minus ``score_samples``), which a server thresholds against the
  detector's ``threshold_``.
"""

import copy
import logging
import warnings

import torch
from sklearn.utils.validation import check_is_fitted

from ._data import import_optional
from ._modules import RoundTrip

PARTS = ("encoder", "decoder", "autoencoder", "error")
OPSET = 18


class ReconstructionError(torch.nn.Module):
    """Per-sample mean squared error of an autoencoder module's round trip."""

    def __init__(self, autoencoder):
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, X):
        return (self.autoencoder(X) - X).pow(2).mean(dim=1)


def part_module(estimator, part):
    """A float32 CPU eval-mode copy of the module computing ``part``."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(map(repr, PARTS))}; got {part!r}.")
    module = copy.deepcopy(estimator.net_.module_).to("cpu", torch.float32).eval()
    width = estimator.n_components_ if part == "decoder" else estimator.n_features_in_
    name = {"encoder": "codes", "decoder": "reconstruction", "autoencoder": "reconstruction"}
    selected = {
        "encoder": module.encoder,
        "decoder": module.decoder,
        "autoencoder": RoundTrip(module),
        "error": ReconstructionError(RoundTrip(module)),
    }[part]
    return selected.eval(), width, name.get(part, "error")


def to_onnx(estimator, part, path=None, opset=OPSET):
    """Export ``part`` of a fitted estimator's network as an ``onnx.ModelProto``."""
    check_is_fitted(estimator)
    onnx = import_optional("onnx", "export")
    import_optional("onnxscript", "export")  # torch.onnx's exporter is built on it
    module, width, output = part_module(estimator, part)
    sample = torch.zeros(2, width)  # 2 rows: torch.export specialises sizes 0 and 1
    batch = torch.export.Dim("batch")
    # The exporter logs optional-dependency notes (torchvision) at WARNING,
    # and its internals use a pytree API that torch itself has deprecated.
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*LeafSpec", category=FutureWarning)
            program = torch.onnx.export(
                module,
                (sample,),
                dynamo=True,
                input_names=["X"],
                output_names=[output],
                dynamic_shapes=({0: batch},),
                opset_version=opset,
                optimize=True,
                verbose=False,
            )
    finally:
        logger.setLevel(level)
    model = program.model_proto
    model.doc_string = f"sk_autoencoder {type(estimator).__name__} {part}"
    for key, value in {"class": type(estimator).__name__, "part": part}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"sk_autoencoder.{key}", value
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, str(path))
    return model
