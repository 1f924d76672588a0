"""Network specs: the architecture an autoencoder estimator trains.

Pass one as ``network=`` to any estimator. A spec is a small
scikit-learn-style object (``get_params`` / ``set_params`` / ``clone``, so
``network__<param>`` works in searches) whose ``build`` returns a fresh
``torch.nn.Module`` with ``encoder`` and ``decoder``; subclass
:class:`Network` to bring your own.
"""

from ._base import Network
from ._check import check_network
from ._conv import ConvAutoencoder, ConvNetwork
from ._mlp import MLPNetwork

__all__ = ["ConvAutoencoder", "ConvNetwork", "MLPNetwork", "Network", "check_network"]
