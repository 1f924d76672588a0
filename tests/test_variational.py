"""VariationalAutoencoderTransformer."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError

from sk_autoencoder import VariationalAutoencoderTransformer


@pytest.fixture(scope="module")
def X():
    return (load_digits().data / 16.0).astype(np.float32)


@pytest.fixture(scope="module")
def vae(X):
    return VariationalAutoencoderTransformer(4, max_iter=40, random_state=0).fit(X)


def test_transform_is_the_posterior_mean(vae, X):
    """Check that transform is deterministic and equals the mean head."""
    Z = vae.transform(X[:100])
    assert_array_equal(Z, vae.transform(X[:100]))
    with torch.no_grad():
        mean, log_var = vae.net_.module_.encode_stats(torch.from_numpy(X[:100]))
    assert_allclose(Z, mean.numpy(), rtol=1e-6, atol=1e-6)
    assert Z.shape == (100, 4) and log_var.shape == (100, 4)


def test_kl_term_is_positive_and_in_the_loss(vae, X):
    """Check the KL divergence of the fitted posterior and that training minimises it."""
    with torch.no_grad():
        mean, log_var = vae.net_.module_.encode_stats(torch.from_numpy(X))
    kl = 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).sum(dim=1).mean().item()
    assert kl > 1.0
    # The training loss is the calibrated Gaussian NLL of a sampled code plus
    # KL / n_features: above the NLL of the deterministic round trip.
    nll = 0.5 * (np.log(2 * np.pi * -vae.score(X)) + 1)
    assert vae.loss_curve_[-1] > nll + 0.5 * kl / X.shape[1]


def test_beta_zero_drops_the_kl_term(X):
    """Check that beta=0 lets the posterior drift far from the prior."""
    kls = {}
    for beta in (0.0, 1.0):
        vae = VariationalAutoencoderTransformer(4, beta=beta, max_iter=20, random_state=0).fit(X)
        with torch.no_grad():
            mean, log_var = vae.net_.module_.encode_stats(torch.from_numpy(X))
        kls[beta] = 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).sum(dim=1).mean().item()
    assert kls[0.0] > 3 * kls[1.0]


def test_sample_shape_scale_and_seed(vae, X):
    """Check that prior samples are finite, shaped and scaled like the data."""
    samples = vae.sample(500, random_state=0)
    assert samples.shape == (500, 64)
    assert np.isfinite(samples).all()
    assert_array_equal(samples, vae.sample(500, random_state=0))
    assert abs(samples.mean() - X.mean()) < 0.1
    assert 0.5 * X.std() < samples.std() < 1.5 * X.std()


def test_sample_validates_its_arguments(vae):
    """Check sample's parameter validation message."""
    with pytest.raises(InvalidParameterError, match="The 'n_samples' parameter"):
        vae.sample(0)


def test_vae_reconstructs_better_than_chance(vae, X):
    """Check that the deterministic round trip beats predicting the mean image."""
    baseline = np.mean((X - X.mean(axis=0)) ** 2)
    assert -vae.score(X) < 0.8 * baseline
