"""Autoencoders as scikit-learn transformers, trained with skorch."""

from ._modules import MLPAutoencoder, VariationalMLPAutoencoder
from ._net import AutoencoderNet, VariationalNet
from ._outlier import AutoencoderOutlierDetector
from ._scoring import reconstruction_error, reconstruction_scorer
from ._skl2onnx import register_onnx_converters
from ._transformer import AutoencoderTransformer
from ._variational import VariationalAutoencoderTransformer

__all__ = [
    "AutoencoderNet",
    "AutoencoderOutlierDetector",
    "AutoencoderTransformer",
    "MLPAutoencoder",
    "VariationalAutoencoderTransformer",
    "VariationalMLPAutoencoder",
    "VariationalNet",
    "reconstruction_error",
    "reconstruction_scorer",
    "register_onnx_converters",
]

__version__ = "0.2.0"
