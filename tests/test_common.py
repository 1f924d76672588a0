"""scikit-learn's API conformance checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_autoencoder import AutoencoderTransformer

ESTIMATORS = [
    AutoencoderTransformer(),
    AutoencoderTransformer(
        n_components=3,
        hidden_layer_sizes=(32, 16, 8),
        activation="tanh",
        dropout=0.2,
        batch_norm=True,
        early_stopping=True,
        validation_fraction=0.2,
        alpha=1e-4,
        batch_size=8,
        max_iter=30,
    ),
    AutoencoderTransformer(
        n_components=1,
        hidden_layer_sizes=(),
        activation="identity",
        output_activation="sigmoid",
        learning_rate_init=1e-2,
        max_iter=20,
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    """Check that every configuration passes scikit-learn's estimator checks."""
    check(estimator)
