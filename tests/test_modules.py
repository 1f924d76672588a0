"""The torch modules, on their own (no scikit-learn, no skorch)."""

import pytest
import torch
from torch import nn

from sk_autoencoder import MLPAutoencoder
from sk_autoencoder._fixed_order import Linear
from sk_autoencoder._modules import make_mlp


def test_decoder_mirrors_encoder():
    """Check the layer widths of the encoder and the mirrored decoder."""
    ae = MLPAutoencoder(20, 3, hidden_layer_sizes=(16, 8))
    enc = [(m.in_features, m.out_features) for m in ae.encoder if isinstance(m, nn.Linear)]
    dec = [(m.in_features, m.out_features) for m in ae.decoder if isinstance(m, nn.Linear)]
    assert enc == [(20, 16), (16, 8), (8, 3)]
    assert dec == [(3, 8), (8, 16), (16, 20)]
    X = torch.randn(5, 20)
    assert ae.encoder(X).shape == (5, 3)
    assert ae(X).shape == (5, 20)


def test_layer_names_and_optional_layers():
    """Check the named layers, batch norm and dropout placement."""
    mlp = make_mlp((4, 6, 2), activation="tanh", dropout=0.5, batch_norm=True)
    assert list(dict(mlp.named_children())) == ["linear0", "bn0", "act0", "drop0", "linear1"]
    assert isinstance(mlp.act0, nn.Tanh)
    assert mlp.drop0.p == 0.5
    plain = make_mlp((4, 6, 2))
    assert list(dict(plain.named_children())) == ["linear0", "act0", "linear1"]


def test_sigmoid_output_is_bounded():
    """Check that output_activation='sigmoid' bounds reconstructions to (0, 1)."""
    torch.manual_seed(0)
    ae = MLPAutoencoder(10, 2, hidden_layer_sizes=(8,), output_activation="sigmoid")
    out = ae(100 * torch.randn(50, 10))
    assert out.min().item() >= 0.0 and out.max().item() <= 1.0


@pytest.mark.parametrize(
    "activation", ["relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", "identity"]
)
def test_every_activation_builds(activation):
    """Check that each named activation builds a working network."""
    ae = MLPAutoencoder(6, 2, hidden_layer_sizes=(4,), activation=activation)
    assert ae(torch.zeros(3, 6)).shape == (3, 6)


def test_no_hidden_layer_is_linear():
    """Check that hidden_layer_sizes=() gives a single linear map each way."""
    ae = MLPAutoencoder(6, 2, hidden_layer_sizes=())
    assert [type(m) for m in ae.encoder] == [Linear]  # nn.Linear, in a fixed order
    assert issubclass(Linear, nn.Linear)
    assert [type(m) for m in ae.decoder] == [Linear]
