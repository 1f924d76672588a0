"""Reconstruction-error helpers, for any transformer with inverse_transform."""

import re

import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_digits
from sklearn.decomposition import NMF, PCA
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import Normalizer, StandardScaler

from sk_autoencoder import reconstruction_error, reconstruction_scorer


@pytest.fixture(scope="module")
def X():
    return load_digits().data[:400]


def test_matches_hand_computation(X):
    """Check per-sample and mean errors against an explicit PCA round trip."""
    pca = PCA(n_components=5).fit(X)
    X_hat = pca.components_.T @ (pca.components_ @ (X - pca.mean_).T)
    expected = ((X - (X_hat.T + pca.mean_)) ** 2).mean(axis=1)
    assert_allclose(reconstruction_error(pca, X, per_sample=True), expected, rtol=1e-10)
    assert reconstruction_error(pca, X) == pytest.approx(expected.mean(), rel=1e-10)
    assert reconstruction_scorer(pca, X) == pytest.approx(-expected.mean(), rel=1e-10)


def test_works_for_nmf(X):
    """Check a second family (NMF) and that more components never hurt on train."""
    errors = [
        reconstruction_error(NMF(k, init="nndsvda", max_iter=400, random_state=0).fit(X), X)
        for k in (2, 10)
    ]
    assert errors[1] < errors[0]


def test_refuses_transformers_without_inverse(X):
    """Check the TypeError for a transformer that cannot reconstruct."""
    msg = "Normalizer has no inverse_transform"
    with pytest.raises(TypeError, match=re.escape(msg)):
        reconstruction_error(Normalizer().fit(X), X)


def test_scorer_drives_grid_search(X):
    """Check that GridSearchCV picks more components with the scorer."""
    search = GridSearchCV(PCA(), {"n_components": [2, 20]}, scoring=reconstruction_scorer, cv=3)
    search.fit(X)
    assert search.best_params_ == {"n_components": 20}


def test_identity_transform_has_zero_error(X):
    """Check that a lossless round trip scores exactly zero."""
    assert reconstruction_error(StandardScaler().fit(X), X) == pytest.approx(0.0, abs=1e-20)
