"""init="pca": a fit that starts at PCA's solution and, validated, cannot end worse."""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
    reconstruction_error,
)
from sk_autoencoder._data import TrainValidSplit
from sk_autoencoder.networks import ConvNetwork


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data / 16).astype(np.float32)


@pytest.fixture(scope="module")
def gaussian():
    """A linear-Gaussian table: 8 latent factors in 40 features plus isotropic noise.

    PCA is the maximum-likelihood linear model here, and no autoencoder of
    8 codes can do better than PCA in expectation.
    """
    rng = np.random.RandomState(0)
    W = rng.normal(size=(8, 40)) * np.linspace(3, 1, 8)[:, None]
    return (rng.normal(size=(600, 8)) @ W + 0.5 * rng.normal(size=(600, 40))).astype(np.float32)


def _split(n_rows, fraction, random_state):
    """The (training, validation) rows a seeded early-stopping fit uses."""
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    train, valid = TrainValidSplit(fraction, seed)(np.arange(n_rows))
    return np.asarray(train.indices), np.asarray(valid.indices)


def _mse(a, b):
    return float(np.mean((np.asarray(a, np.float64) - b) ** 2))


@pytest.mark.parametrize("network", [None, ConvNetwork((8, 8), channels=(4, 8))])
def test_the_fit_starts_at_pca(digits, network):
    """Check that before training the model reconstructs exactly as PCA does."""
    # A rate so small that one epoch cannot move the weights in float32.
    ae = AutoencoderTransformer(
        8, network=network, init="pca", max_iter=1, learning_rate_init=1e-30, random_state=0
    ).fit(digits)
    pca = PCA(8, random_state=0).fit(digits)
    assert_allclose(reconstruction_error(ae, digits), reconstruction_error(pca, digits), rtol=1e-5)
    # the codes are PCA's, up to float32 rounding (and each component's sign)
    codes, expected = ae.transform(digits), pca.transform(digits)
    signs = np.sign(np.sum(codes * expected, axis=0))
    assert_allclose(codes * signs, expected, atol=1e-4)


@pytest.mark.parametrize("data, strictly", [("gaussian", False), ("digits", True)])
@pytest.mark.parametrize("learning_rate_init", [3e-3, 3.0])
def test_validated_fit_never_ends_worse_than_pca(request, data, strictly, learning_rate_init):
    """Check the guarantee on validation rows, where PCA is optimal and where it is not.

    With early stopping the final validation error is at most that of PCA
    fitted on the same rows (all of X, as a user would fit it): the start
    is scored first and kept when no epoch beats it. A rate that only makes
    training worse keeps PCA exactly.
    """
    X = request.getfixturevalue(data)
    ae = AutoencoderTransformer(
        8,
        init="pca",
        early_stopping=True,
        validation_fraction=0.25,
        learning_rate_init=learning_rate_init,
        max_iter=15,
        random_state=0,
    ).fit(X)
    _, valid = _split(len(X), 0.25, 0)
    pca = PCA(8, random_state=0).fit(X)
    ours = _mse(ae.net_.reconstruct(X[valid]), X[valid])
    reference = _mse(pca.inverse_transform(pca.transform(X[valid])), X[valid])
    assert ours <= reference * (1 + 1e-5)
    assert ae.best_loss_ == pytest.approx(ours, rel=1e-4)
    if learning_rate_init == 3.0:
        assert ours == pytest.approx(reference, rel=1e-5)  # PCA's weights were kept
    elif strictly:
        assert ours < 0.9 * reference  # digits: the residual networks learnt something


def test_pca_init_refuses_a_sigmoid_output_and_the_vae(digits):
    """Check the ValueErrors for settings that have no PCA starting point."""
    msg = (
        "init='pca' starts from PCA's linear reconstruction, which a sigmoid output cannot express"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer(4, init="pca", output_activation="sigmoid").fit(digits)
    with pytest.raises(ValueError, match="init='pca' is for deterministic autoencoders"):
        VariationalAutoencoderTransformer(4, init="pca").fit(digits)
    # "auto" output resolves to the identity under init="pca", even on [0, 1] data
    ae = AutoencoderTransformer(
        4, init="pca", output_activation="auto", loss="auto", max_iter=1
    ).fit(digits)
    assert (ae.output_activation_, ae.loss_) == ("identity", "mse")


def test_pca_paths_are_not_weight_decayed(digits):
    """Check that alpha leaves PCA's mean and components alone."""
    ae = AutoencoderTransformer(4, init="pca", alpha=1e-3, max_iter=1).fit(digits)
    decayed = {id(p) for p in ae.net_.optimizer_.param_groups[0]["params"]}
    names = {n for n, p in ae.net_.module_.named_parameters() if id(p) in decayed}
    assert names == {
        "encoder.residual.linear0.weight",
        "encoder.residual.linear1.weight",
        "decoder.residual.linear0.weight",
        "decoder.residual.linear1.weight",
    }


def test_streamed_pca_init_matches_in_memory(digits, tmp_path):
    """Check that IncrementalPCA over chunks starts where in-memory PCA starts."""
    path = tmp_path / "X.npy"
    np.save(path, digits)
    memmap = np.load(path, mmap_mode="r")
    settings = dict(init="pca", max_iter=1, learning_rate_init=1e-30, random_state=0)
    streamed = AutoencoderTransformer(8, chunk_size=400, **settings).fit(memmap)
    in_memory = AutoencoderTransformer(8, **settings).fit(digits)
    assert_allclose(
        reconstruction_error(streamed, digits), reconstruction_error(in_memory, digits), rtol=1e-3
    )


def test_pca_init_models_save_load_and_continue(digits, tmp_path):
    """Check save/load and partial_fit of a PCA-initialised detector."""
    det = AutoencoderOutlierDetector(4, init="pca", max_iter=3, random_state=0).fit(digits)
    det.save(tmp_path / "d.skae")
    loaded = AutoencoderOutlierDetector.load(tmp_path / "d.skae")
    assert_array_equal(loaded.score_samples(digits), det.score_samples(digits))
    det.partial_fit(digits)
    loaded.partial_fit(digits)
    assert_array_equal(loaded.score_samples(digits), det.score_samples(digits))
    first = AutoencoderTransformer(
        4, init="pca", learning_rate_init=1e-30, random_state=0
    ).partial_fit(digits[:500])
    pca = PCA(4).fit(digits[:500])
    assert_allclose(
        reconstruction_error(first, digits[:500]),
        reconstruction_error(pca, digits[:500]),
        rtol=1e-5,
    )


def test_residuals_start_silent_by_zeroed_output_layers_or_gates(digits):
    """Check how each residual starts at zero: its last layer zeroed, or a gate for tied weights.

    A tied decoder reuses the encoder's matrices, so zeroing its "last
    layer" would zero the encoder as well: it gets a scalar gate at 0.
    """
    from user_networks import TiedMLP

    settings = dict(init="pca", max_iter=1, learning_rate_init=1e-30, random_state=0)
    mlp = AutoencoderTransformer(8, **settings).fit(digits).net_.module_
    assert mlp.encoder.gate is None and mlp.decoder.gate is None
    # zero, plus one 1e-30 step
    assert float(mlp.decoder.residual.linear1.weight.detach().abs().max()) < 1e-25
    tied = AutoencoderTransformer(8, network=TiedMLP(32), **settings).fit(digits)
    module = tied.net_.module_
    assert module.encoder.gate is not None and module.decoder.gate is not None
    # the tied matrix is intact
    assert float(module.encoder.residual[0].weight.detach().abs().max()) > 0
    pca = PCA(8, random_state=0).fit(digits)
    assert_allclose(
        reconstruction_error(tied, digits), reconstruction_error(pca, digits), rtol=1e-5
    )
