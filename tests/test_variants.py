"""Denoising, sparse and contractive autoencoders: each does what it claims."""

import re

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sk_autoencoder import AutoencoderTransformer
from sk_autoencoder._net import jacobian_sq_norm
from sk_autoencoder.networks import MLPNetwork


@pytest.fixture(scope="module")
def digits_split():
    X = (load_digits().data / 16.0).astype(np.float32)
    return train_test_split(X, test_size=0.25, random_state=0)


def _exact_jacobian_sq_norm(ae, X):
    """Mean over samples of ||d encoder / d x||_F^2, computed exactly."""
    encoder = ae.net_.module_.encoder
    with torch.no_grad():  # one row at a time, as a batch of one (batch norm needs 2-D)
        jac = torch.func.vmap(torch.func.jacrev(lambda x: encoder(x[None])[0]))(torch.from_numpy(X))
    return float(jac.pow(2).sum(dim=(1, 2)).mean())


def test_hutchinson_estimate_is_unbiased():
    """Check the contractive penalty's estimator against the exact norm of a linear map."""
    torch.manual_seed(0)
    W = torch.randn(5, 12)
    X = torch.randn(1, 12, requires_grad=True)
    codes = X @ W.T
    estimates = [jacobian_sq_norm(codes, X).item() for _ in range(4000)]
    assert np.mean(estimates) == pytest.approx(float(W.pow(2).sum()), rel=0.05)


def test_denoising_recovers_clean_digits_better(digits_split):
    """Check that a denoising AE maps noisy held-out digits closer to the clean ones."""
    X_train, X_test = digits_split
    rng = np.random.RandomState(0)
    X_noisy = (X_test + 0.3 * rng.randn(*X_test.shape)).astype(np.float32)
    params = dict(n_components=16, max_iter=80, random_state=0)
    errors = {}
    for noise in (None, "gaussian"):
        ae = AutoencoderTransformer(noise=noise, noise_level=0.3, **params).fit(X_train)
        X_hat = ae.inverse_transform(ae.transform(X_noisy))
        errors[noise] = float(np.mean((X_hat - X_test) ** 2))
    assert errors["gaussian"] < 0.8 * errors[None]


def test_masking_noise_trains_and_is_never_applied_at_transform(digits_split):
    """Check that masking noise leaves inference deterministic and exact."""
    X_train, X_test = digits_split
    ae = AutoencoderTransformer(8, noise="masking", noise_level=0.25, max_iter=10, random_state=0)
    ae.fit(X_train)
    Z = ae.transform(X_test)
    assert_array_equal(Z, ae.transform(X_test))
    with torch.no_grad():
        assert_array_equal(Z, ae.net_.module_.encoder(torch.from_numpy(X_test)).numpy())


def test_masking_noise_level_must_be_a_probability(digits_split):
    """Check the message for a masking probability of 1 or more."""
    msg = (
        "noise='masking' needs noise_level < 1 (the probability of zeroing an input), "
        "got noise_level=1.0."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer(noise="masking", noise_level=1.0, max_iter=1).fit(digits_split[0])


def test_sparse_codes_have_more_near_zero_units(digits_split):
    """Check that the L1 code penalty zeroes out a larger share of code units."""
    X_train, X_test = digits_split
    fractions = {}
    for sparsity in (0.0, 0.05):
        ae = AutoencoderTransformer(
            16,
            sparsity=sparsity,
            max_iter=60,
            random_state=0,
            init="random",
            early_stopping=False,
            network=MLPNetwork(activation="relu", batch_norm=False),
        )
        Z = ae.fit(X_train).transform(X_test)
        fractions[sparsity] = float(np.mean(np.abs(Z) < 0.05))
    assert fractions[0.05] > fractions[0.0] + 0.3


def test_contractive_lowers_the_jacobian_norm(digits_split):
    """Check that the contractive penalty lowers the encoder's exact Jacobian norm."""
    X_train, X_test = digits_split
    norms = {}
    for contractive in (0.0, 0.1):
        ae = AutoencoderTransformer(8, contractive=contractive, max_iter=40, random_state=0)
        norms[contractive] = _exact_jacobian_sq_norm(ae.fit(X_train), X_test)
    assert norms[0.1] < 0.5 * norms[0.0]


def test_penalties_enter_the_training_loss_only(digits_split):
    """Check that penalties raise the training loss but not the validation loss."""
    X_train, _ = digits_split
    ae = AutoencoderTransformer(
        8,
        sparsity=1.0,
        max_iter=3,
        random_state=0,
        init="random",
        early_stopping=True,
        network=MLPNetwork(activation="relu", batch_norm=False),
    ).fit(X_train)
    net = ae.net_
    _, valid = net.get_split_datasets(X_train)
    X_valid = X_train[valid.indices]
    valid_mse = np.mean((ae.inverse_transform(ae.transform(X_valid)) - X_valid) ** 2)
    assert -ae.validation_scores_[-1] == pytest.approx(valid_mse, rel=1e-5)
    codes_l1 = np.abs(ae.transform(X_train)).sum(axis=1).mean()
    assert ae.loss_curve_[-1] > codes_l1 > 0
