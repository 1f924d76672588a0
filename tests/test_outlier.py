"""AutoencoderOutlierDetector."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import roc_auc_score

from sk_autoencoder import AutoencoderOutlierDetector
from sk_autoencoder.networks import MLPNetwork


def _planted(n_inliers, n_outliers, seed):
    """Inliers near a 3-d subspace of R^20; outliers off it at the same scale."""
    rng = np.random.RandomState(seed)
    basis = np.random.RandomState(42).randn(3, 20)
    inliers = rng.randn(n_inliers, 3) @ basis + 0.05 * rng.randn(n_inliers, 20)
    outliers = rng.randn(n_outliers, 20) * inliers.std()
    X = np.vstack([inliers, outliers])
    return X, np.r_[np.zeros(n_inliers), np.ones(n_outliers)].astype(bool)


@pytest.fixture(scope="module")
def fitted():
    X, is_outlier = _planted(570, 30, seed=0)
    det = AutoencoderOutlierDetector(
        3,
        network=MLPNetwork((32,), activation="relu", batch_norm=False),
        contamination=0.05,
        max_iter=150,
        random_state=0,
    )
    return det.fit(X), X, is_outlier


def test_flags_the_planted_fraction(fitted):
    """Check that exactly the contamination share is flagged, and that it is the planted one."""
    det, X, is_outlier = fitted
    flagged = det.predict(X) == -1
    assert flagged.sum() == 30
    assert (flagged & is_outlier).sum() >= 28


def test_ranks_new_outliers_first(fitted):
    """Check the ROC AUC on fresh data drawn the same way."""
    det, _, _ = fitted
    X_new, is_outlier = _planted(300, 30, seed=1)
    assert roc_auc_score(is_outlier, -det.score_samples(X_new)) > 0.98


def test_scores_threshold_and_labels_agree(fitted):
    """Check score_samples, decision_function, offset_, threshold_ and predict together."""
    det, X, _ = fitted
    scores = det.score_samples(X)
    errors = np.mean((X - det.net_.reconstruct(X)) ** 2, axis=1)
    assert_allclose(scores, -errors, rtol=1e-10)
    assert_allclose(det.decision_function(X), scores - det.offset_)
    assert det.threshold_ == -det.offset_
    assert det.offset_ == pytest.approx(np.percentile(scores, 5))
    assert_array_equal(det.predict(X), np.where(errors > det.threshold_, -1, 1))
    assert_array_equal(det.fit_predict(X), det.predict(X))
