"""Autoencoders as scikit-learn transformers, trained with skorch."""

from ._modules import MLPAutoencoder
from ._net import AutoencoderNet
from ._scoring import reconstruction_error, reconstruction_scorer
from ._transformer import AutoencoderTransformer

__all__ = [
    "AutoencoderNet",
    "AutoencoderTransformer",
    "MLPAutoencoder",
    "reconstruction_error",
    "reconstruction_scorer",
]

__version__ = "0.1.0"
