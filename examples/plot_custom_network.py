"""
Your own network: a spec, searched like any parameter
=====================================================

A network spec subclasses ``Network``: explicit hyper-parameters in
``__init__``, and ``build(n_features, n_components)`` returning a fresh
``nn.Module`` with ``encoder`` and ``decoder``. Here a tied-weight MLP
(the decoder reuses the encoder's matrices, transposed). Its parameters
are searchable as ``network__<param>``.
"""

# %%
import math

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from torch import nn
from torch.nn import functional as F

from sk_autoencoder import AutoencoderTransformer
from sk_autoencoder.networks import Network


class TiedDecoder(nn.Module):
    def __init__(self, first, code):
        super().__init__()
        self.first, self.code = first, code
        self.bias_hidden = nn.Parameter(torch.zeros(first.out_features))
        self.bias_out = nn.Parameter(torch.zeros(first.in_features))

    def forward(self, Z):
        h = torch.relu(F.linear(Z, self.code.weight.t(), self.bias_hidden))
        return F.linear(h, self.first.weight.t(), self.bias_out)


class TiedMLP(Network):
    def __init__(self, width=128):
        self.width = width

    def build(self, n_features, n_components, *, generator=None):
        first, code = nn.Linear(n_features, self.width), nn.Linear(self.width, n_components)
        for layer in (first, code):  # draw from the fit's generator: seeded fits reproduce
            bound = 1 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
        module = nn.Module()
        module.encoder = nn.Sequential(first, nn.ReLU(), code)
        module.decoder = TiedDecoder(first, code)
        return module


X = load_digits().data / 16.0
search = GridSearchCV(
    AutoencoderTransformer(8, network=TiedMLP(), random_state=0),
    {"network__width": [64, 256]},
    cv=3,
).fit(X)
print(search.cv_results_["params"], search.cv_results_["mean_test_score"])
print(search.best_estimator_.net_.module_.decoder)

# %%
# Saving needs a class that another process can import: defined here, in
# the script run as ``__main__``, it is refused at save time with the
# reason, rather than written to a file nobody could load. Put the class in
# a module, then ``load(path, trusted=[TiedMLP])``.
try:
    search.best_estimator_.save("tied.skae")
except ValueError as error:
    print(error)
