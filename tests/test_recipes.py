"""Recipes: each network spec brings its training settings; "auto" resolves to them."""

import inspect
import re

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
)
from sk_autoencoder._base import BaseAutoencoder
from sk_autoencoder.networks import ConvNetwork, MLPNetwork, Network
from sk_autoencoder.networks._recipe import CONV, CONV_SMALL_CODE, FAST, QUALITY, SETTINGS, STEADY

ESTIMATORS = [AutoencoderTransformer, VariationalAutoencoderTransformer, AutoencoderOutlierDetector]


@pytest.fixture(scope="module")
def X():
    # 301 rows: the last batch of 64 has 45 rows, of 256 has 45, both odd.
    return (load_digits().data[:301] / 16).astype(np.float32)


class Linear(Network):
    """A linear spec with a recipe of its own (a few settings; the rest generic)."""

    def __init__(self, epochs=3):
        self.epochs = epochs

    def build(self, n_features, n_components, *, generator=None):
        from sk_autoencoder._modules import EncoderDecoder, linear

        module = EncoderDecoder()
        module.encoder = linear(n_features, n_components, generator)
        module.decoder = linear(n_components, n_features, generator)
        return module

    def recipe(self, n_samples, n_features, n_components, *, task="transformer"):
        return {"max_iter": self.epochs, "learning_rate_init": 1e-2, "init": "random"}


class Broken(Linear):
    """A spec whose recipe returns ``settings`` as they are."""

    def __init__(self, settings=None):
        self.settings = settings

    def recipe(self, n_samples, n_features, n_components, *, task="transformer"):
        return self.settings


@pytest.mark.parametrize(
    "cls, network, expected",
    [
        (AutoencoderTransformer, None, FAST),
        (AutoencoderTransformer, MLPNetwork(preset="quality"), QUALITY),
        (AutoencoderTransformer, ConvNetwork((8, 8), channels=(4,)), CONV),
        (VariationalAutoencoderTransformer, None, STEADY),
        (AutoencoderOutlierDetector, MLPNetwork(preset="quality"), STEADY),
        (AutoencoderOutlierDetector, ConvNetwork((8, 8), channels=(4,)), STEADY),
    ],
)
def test_auto_settings_take_the_network_recipe(X, cls, network, expected):
    """Check that every "auto" setting is the spec's recipe for the estimator, kept in recipe_."""
    est = cls(4, network=network, max_iter=1, random_state=0).fit(X)
    resolved = {**expected, "max_iter": 1, "batch_size": min(expected["batch_size"], len(X))}
    for name in ("output_activation", "loss"):
        resolved[name] = getattr(est, f"{name}_")
    assert est.recipe_ == resolved
    assert list(est.recipe_) == list(SETTINGS)
    assert est.batch_size_ == resolved["batch_size"]
    assert all(getattr(est, name) == "auto" for name in SETTINGS if name != "max_iter")


def test_auto_output_follows_the_data_and_the_start(X):
    """Check "auto" output and loss: sigmoid + BCE for [0, 1] data, identity under a PCA start."""
    quality = AutoencoderTransformer(4, network=MLPNetwork(preset="quality"), max_iter=1)
    assert (quality.fit(X).output_activation_, quality.loss_) == ("sigmoid", "bce")
    assert (quality.fit(X - 0.5).output_activation_, quality.loss_) == ("identity", "mse")
    fast = AutoencoderTransformer(4, max_iter=1).fit(X)
    assert (fast.output_activation_, fast.loss_) == ("identity", "mse")
    sigmoid = AutoencoderTransformer(4, output_activation="sigmoid", max_iter=1).fit(X)
    assert sigmoid.recipe_["init"] == "random" and sigmoid.loss_ == "bce"


def test_a_setting_the_user_sets_wins(X):
    """Check that explicit settings are used as given and the others still come from the recipe."""
    ae = AutoencoderTransformer(
        4, network=ConvNetwork((8, 8), channels=(4,)), max_iter=2, batch_size=32, init="pca"
    ).fit(X)
    assert ae.recipe_ == {
        **CONV,
        "max_iter": 2,
        "batch_size": 32,
        "init": "pca",
        "output_activation": "identity",  # "auto" under a PCA start
        "loss": "mse",
    }
    assert ae.n_iter_ == 2 and ae.batch_size_ == 32


def test_the_verbose_log_says_what_was_resolved(X, capsys):
    """Check the first line of a verbose fit: the spec, every setting, and which ones were yours."""
    AutoencoderTransformer(4, max_iter=1, batch_size=128, verbose=1).fit(X)
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "AutoencoderTransformer trains MLPNetwork() with init='pca', max_iter=1, "
        "learning_rate='cosine', learning_rate_init=0.0075, batch_size=128, alpha=1e-05, "
        "early_stopping=True, output_activation='identity', loss='mse'; set by you: "
        "max_iter, batch_size."
    )


@pytest.mark.parametrize(
    "n_features, n_components, expected",
    [
        (784, 32, CONV),
        (784, 64, CONV),
        (64, 8, CONV),
        (64, 16, CONV_SMALL_CODE),
        (64, 32, CONV_SMALL_CODE),
    ],
)
def test_the_conv_recipe_starts_at_pca_for_wide_codes(n_features, n_components, expected):
    """Check that a code wider than an eighth of the input starts at PCA (digits at k >= 16)."""
    recipe = ConvNetwork().recipe(4000, n_features, n_components, task="transformer")
    assert recipe == expected
    assert ConvNetwork().recipe(4000, 64, 32, task="outlier") == STEADY


def test_a_spec_recipe_is_used_and_completed(X):
    """Check that a user spec's partial recipe is used, the rest from the generic recipe."""
    ae = AutoencoderTransformer(3, network=Linear(epochs=4), random_state=0).fit(X)
    assert ae.n_iter_ == 4
    assert ae.recipe_ == {
        **FAST,
        "max_iter": 4,
        "learning_rate_init": 1e-2,
        "init": "random",
        "output_activation": "identity",
        "loss": "mse",
    }


@pytest.mark.parametrize(
    "settings, error, message",
    [
        ({"max_iter": 0}, ValueError, "The 'max_iter' setting of Broken.recipe() must be"),
        (
            {"epochs": 3},
            ValueError,
            "Broken.recipe() returned settings that are not training "
            "settings: epochs; expected some of init, max_iter",
        ),
        ({"init": "auto"}, ValueError, "Broken.recipe() returned 'auto' for a setting it must"),
        ([("max_iter", 3)], TypeError, "Broken.recipe() must return a dict, got list."),
    ],
)
def test_a_recipe_with_bad_settings_is_a_clear_error(X, settings, error, message):
    """Check that a spec's recipe is validated like the estimator's own parameters."""
    with pytest.raises(error, match=re.escape(message)):
        AutoencoderTransformer(3, network=Broken(settings)).fit(X)


def test_presets_set_the_width_and_an_explicit_width_wins():
    """Check the preset's widths for hidden_layer_sizes="auto", and that a given width wins."""
    assert MLPNetwork().hidden_sizes() == (256,)
    assert MLPNetwork(preset="quality").hidden_sizes() == (1024,)
    assert MLPNetwork((64, 32), preset="quality").hidden_sizes() == (64, 32)
    with pytest.raises(ValueError, match="The 'preset' parameter of MLPNetwork must be"):
        AutoencoderTransformer(network=MLPNetwork(preset="best")).fit(np.ones((4, 3)))


def test_each_class_states_its_defaults_once():
    """Check that the base class has no defaults and each estimator at most 27 parameters."""
    base = inspect.signature(BaseAutoencoder.__init__).parameters.values()
    assert all(p.default is inspect.Parameter.empty for p in base if p.name != "self")
    counts = [len(cls().get_params()) for cls in ESTIMATORS]
    assert counts == [26, 27, 27]


@pytest.mark.parametrize(
    "network",
    [
        None,
        MLPNetwork(preset="quality"),
        MLPNetwork((32,), dropout=0.2),
        ConvNetwork((8, 8)),
        ConvNetwork((8, 8), convs_per_stage=1),
        ConvNetwork(None, channels=(4, 8)),
    ],
    ids=["mlp-fast", "mlp-quality", "mlp-dropout", "conv", "conv-1-per-stage", "conv-1d"],
)
@pytest.mark.parametrize("k", [4, 16])
@pytest.mark.parametrize("n_samples", [133, 301])
def test_fits_are_bitwise_identical_across_thread_counts(X, network, k, n_samples):
    """Check that a built-in spec under its recipe trains the same bits on 1, 2 and 3 threads.

    Batch norm's statistics and the convolutions' weight gradients are
    reduced in an order that does not depend on the thread count, so a
    search on one-thread dask workers equals the same search run serially.
    k=16 puts the conv network on its PCA-start recipe; without a
    validation split the last batch of an epoch has 5 rows (under the 32
    below which products are padded) or 45.
    """
    est = AutoencoderTransformer(k, network=network, max_iter=2, random_state=0)
    fits = [clone(est).set_params(n_threads=t).fit(X[:n_samples]) for t in (1, 2, 3)]
    for fit in fits[1:]:
        assert_array_equal(fit.transform(X), fits[0].transform(X))
        assert fit.loss_curve_ == fits[0].loss_curve_
