"""scikit-learn's API conformance checks, with no expected failures.

BCE configurations are not here: they rightly refuse the data outside [0, 1]
that the checks feed them; tests/test_transformer.py covers them instead.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
)
from sk_autoencoder.networks import ConvNetwork, MLPNetwork

ESTIMATORS = [
    AutoencoderTransformer(),
    # deep + tanh + dropout + batch norm + early stopping + weight decay
    AutoencoderTransformer(
        n_components=3,
        network=MLPNetwork((32, 16, 8), activation="tanh", dropout=0.2, batch_norm=True),
        early_stopping=True,
        validation_fraction=0.2,
        alpha=1e-4,
        batch_size=8,
        max_iter=30,
    ),
    # linear, no hidden layer, sigmoid output (from a random start: PCA's
    # linear reconstruction cannot start a sigmoid output)
    AutoencoderTransformer(
        n_components=1,
        network=MLPNetwork((), activation="identity"),
        output_activation="sigmoid",
        init="random",
        learning_rate_init=1e-2,
        max_iter=20,
    ),
    # denoising (gaussian) + sparse + contractive
    AutoencoderTransformer(
        noise="gaussian", noise_level=0.2, sparsity=1e-3, contractive=1e-2, max_iter=30
    ),
    AutoencoderTransformer(noise="masking", noise_level=0.3, max_iter=30),
    VariationalAutoencoderTransformer(),
    VariationalAutoencoderTransformer(
        n_components=3, network=MLPNetwork((16,), activation="relu"), beta=0.5, max_iter=30
    ),
    AutoencoderOutlierDetector(),
    AutoencoderOutlierDetector(
        n_components=1,
        network=MLPNetwork((8,), activation="relu", batch_norm=False),
        noise="gaussian",
        early_stopping=True,
        max_iter=30,
    ),
    # conv networks over the features as 1-D signals (the checks' data have 2-10 features)
    AutoencoderTransformer(network=ConvNetwork(channels=(4, 8)), alpha=1e-4, max_iter=30),
    VariationalAutoencoderTransformer(
        n_components=3, network=ConvNetwork(channels=(4,), batch_norm=True), max_iter=30
    ),
    AutoencoderOutlierDetector(
        network=ConvNetwork(channels=(4,), kernel_size=5, activation="gelu"), max_iter=30
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    """Check that every configuration passes scikit-learn's estimator checks."""
    check(estimator)
