"""Network specs written the way a user writes them, for the tests.

They live in an importable module (not in a test function or ``__main__``),
as the ``Network`` contract asks.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from sk_autoencoder.networks import Network


class TiedDecoder(nn.Module):
    """Decodes with the transposes of the encoder's weight matrices."""

    def __init__(self, layers):
        super().__init__()
        self.layers = layers  # the encoder's Linear layers, input side first
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(layer.in_features)) for layer in layers]
        )

    def forward(self, Z):
        h = Z
        for i in reversed(range(len(self.layers))):
            h = F.linear(h, self.layers[i].weight.t(), self.biases[i])
            if i > 0:
                h = torch.relu(h)
        return h


class TiedMLP(Network):
    """One hidden layer of ``width``; the decoder reuses the encoder's weights."""

    def __init__(self, width=256):
        self.width = width

    def build(self, n_features, n_components, *, generator=None):
        first = nn.Linear(n_features, self.width)
        code = nn.Linear(self.width, n_components)
        for layer in (first, code):
            bound = 1 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
        module = nn.Module()
        module.encoder = nn.Sequential(first, nn.ReLU(), code)
        module.decoder = TiedDecoder(nn.ModuleList([first, code]))
        return module


class PlainMLP(Network):
    """A spec whose ``build`` takes no generator: torch's default initialisation."""

    def __init__(self, width=16, depth=1):
        self.width = width
        self.depth = depth

    def build(self, n_features, n_components):
        sizes = [n_features] + [self.width] * self.depth
        encoder, decoder = [], []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            encoder += [nn.Linear(a, b), nn.ReLU()]
        encoder.append(nn.Linear(sizes[-1], n_components))
        back = sizes[::-1]
        decoder.append(nn.Linear(n_components, back[0]))
        for a, b in zip(back[:-1], back[1:], strict=True):
            decoder += [nn.ReLU(), nn.Linear(a, b)]
        module = nn.Module()
        module.encoder = nn.Sequential(*encoder)
        module.decoder = nn.Sequential(*decoder)
        return module


class WrongWidth(Network):
    """A broken spec: its encoder ignores n_components."""

    def build(self, n_features, n_components, *, generator=None):
        module = nn.Module()
        module.encoder = nn.Linear(n_features, n_components + 1)
        module.decoder = nn.Linear(n_components, n_features)
        return module


class Cached(Network):
    """A broken spec: it hands out the same module object every time."""

    def __init__(self, width=4):
        self.width = width

    def build(self, n_features, n_components, *, generator=None):
        key = (n_features, n_components, self.width)
        if key not in _CACHE:
            module = nn.Module()
            module.encoder = nn.Linear(n_features, n_components)
            module.decoder = nn.Linear(n_components, n_features)
            _CACHE[key] = module
        return _CACHE[key]


_CACHE = {}
