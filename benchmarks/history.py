"""The configurations of past benchmark runs and searches, in the vocabulary they were run in.

The estimators of 0.1 took the MLP's architecture (``hidden_layer_sizes``,
``activation``, ``dropout``, ``batch_norm``) as their own parameters, and
every configuration below is a flat dict of those and of the training
settings, written on top of the defaults of 0.1 (:data:`DEFAULTS_0_1`) so
that it keeps meaning what was measured. :func:`build` turns one into the
public calls of today: the architecture into an ``MLPNetwork`` (or a
``ConvNetwork`` for ``network__*`` keys), the rest into the estimator's
parameters, each one set explicitly (an "auto" output is left, as then, to
the data's range).

The benchmark itself (``benchmarks/compare.py``) does not read this module:
its methods are one-line public calls. The search's ``confirm`` step and
the companions that compare with earlier releases (``budget``, ``speed``,
``export``, ``parallel``, ``scale``, ``outliers``) do.
"""

from sk_autoencoder import AutoencoderTransformer
from sk_autoencoder.networks import ConvNetwork, MLPNetwork

# The configuration the README recommends for reconstruction: the best
# configuration with batch norm of `python -m benchmarks.search robust
# --space default` (30 joint configurations scored by their worst validation
# ratio to PCA over MNIST k=32, digits k=32 and breast_cancer k=2), rounded
# and confirmed on three seeds at k=2..64. Batch norm together with a
# sigmoid output and BCE (what "auto" picks for data in [0, 1]) is what wins
# on MNIST; on standardised data "auto" is identity + MSE.
# AutoencoderTransformer's defaults in 0.1. The configurations below are
# written on top of them (each says what it changes), so that they keep
# meaning what was measured whatever the current defaults are.
DEFAULTS_0_1 = dict(
    hidden_layer_sizes=(512,),
    activation="relu",
    batch_norm=False,
    output_activation="identity",
    loss="mse",
    batch_size="auto",
    learning_rate="cosine",
    learning_rate_init=2.5e-3,
    alpha=1e-5,
    init="random",
    max_iter=200,
    early_stopping=False,
)

# AutoencoderTransformer's defaults now ("fast C" of `python -m
# benchmarks.search confirm`); tests/test_benchmarks.py checks they match.
DEFAULTS = dict(
    DEFAULTS_0_1,
    hidden_layer_sizes=(256,),
    activation="gelu",
    batch_norm=True,
    batch_size=64,
    learning_rate_init=7.5e-3,
    init="pca",
    max_iter=25,
    early_stopping=True,
)

# The recommendation for image-like data, when a fit may take longer than
# the defaults': the fastest configuration of `python -m benchmarks.search
# robust --space fast_recommended` (results/search/robust_fast_recommended.csv)
# within 0.42 x PCA on MNIST k=32 validation, its rate rounded. It replaces
# the earlier recommendation (PREVIOUS_RECOMMENDED), which trained 200
# epochs under an adaptive rate. A second round (`--space
# recommended_budget`, "recommended budget B" in search.CONFIGS) found a
# wider net that is better at MNIST k=32 but costs more and is worse at
# k=64 and on the tables; see doc/benchmarks.rst.
RECOMMENDED = dict(
    DEFAULTS_0_1,
    hidden_layer_sizes=(1024,),
    activation="gelu",
    batch_norm=True,
    output_activation="auto",
    loss="auto",
    batch_size=64,
    learning_rate="cosine",
    learning_rate_init=1.2e-3,
    alpha=0.0,
    max_iter=30,
)

PREVIOUS_RECOMMENDED = dict(
    DEFAULTS_0_1,
    hidden_layer_sizes=(1024,),
    activation="gelu",
    batch_norm=True,
    output_activation="auto",
    loss="auto",
    batch_size=128,
    learning_rate="adaptive",
    learning_rate_init=2e-3,
    alpha=1e-4,
)

# The defaults before issue 9. The speed, parallel and export benchmarks
# were measured on this net and keep using it, so that their figures in the
# README stay comparable with earlier runs.
PREVIOUS_DEFAULT = dict(
    DEFAULTS_0_1,
    hidden_layer_sizes=(256, 128),
    alpha=0.0,
    learning_rate_init=1e-3,
    learning_rate="constant",
)

# The conv autoencoder of the previous results: the best configuration
# within a one-minute fit of `python -m benchmarks.search robust --space
# conv_refined` (16 configurations drawn around the best of `--space conv`,
# scored on MNIST k=32 validation, two one-thread fits at a time), rounded.
CONV_REFINED = dict(
    DEFAULTS_0_1,
    network__channels=(16, 32),
    network__convs_per_stage=2,
    network__batch_norm=True,
    network__activation="leaky_relu",
    output_activation="auto",
    loss="auto",
    batch_size=32,
    learning_rate="cosine",
    learning_rate_init=7.5e-3,
    max_iter=16,
)

# The conv autoencoder, for images: "conv budget A" of `python -m
# benchmarks.search robust --space conv_budget` (18 configurations drawn
# around CONV_REFINED with wider channels, batches and epochs, scored on
# MNIST k=32 validation with a 60 s fit on both cores as a constraint), the
# best of three finalists confirmed on three seeds (confirm.csv).
CONV = dict(
    CONV_REFINED,
    network__channels=(24, 48),
    network__activation="relu",
    batch_size=64,
    learning_rate_init=8e-3,
    alpha=1e-5,
    max_iter=24,
)

# The winner of the MNIST k=32 search, rounded: the recommendation of the
# previous benchmark run.
MNIST_FINALIST = dict(
    hidden_layer_sizes=(512,),
    batch_norm=True,
    output_activation="auto",
    loss="auto",
    batch_size=64,
    learning_rate="adaptive",
    learning_rate_init=8e-4,
    alpha=1e-5,
    max_iter=135,
)
DIGITS_FINALIST = dict(
    hidden_layer_sizes=(1024,),
    activation="gelu",
    output_activation="identity",
    loss="mse",
    batch_size=32,
    learning_rate="cosine",
    learning_rate_init=9e-4,
    alpha=1e-5,
    max_iter=135,
)
# Configurations for ``confirm``: what the package ships and recommends (the
# two best of ``robust --space default``, robust_default.csv, rounded), what
# it shipped and recommended before, and the finalists of ``search`` (copied
# from its printout, rounded) with variants that test what made them win.
CONFIGS = {
    # AutoencoderTransformer's defaults now ("fast C" below) and in 0.1.
    "default": DEFAULTS,
    "0.1 default": {},
    "recommended": RECOMMENDED,
    "previous recommendation": PREVIOUS_RECOMMENDED,
    "previous default": PREVIOUS_DEFAULT,
    "recommended before issue 9": dict(
        output_activation="identity",
        loss="mse",
        hidden_layer_sizes=(1024,),
        batch_size=32,
        alpha=1e-6,
        max_iter=50,
    ),
    "conv": CONV_REFINED,
    # The three best of `robust --space conv_budget` (robust_conv_budget.csv),
    # every one within the one-minute budget on two cores; rates rounded.
    "conv budget A": CONV,
    "conv budget B": dict(
        CONV_REFINED,
        network__channels=(24, 48),
        network__activation="relu",
        batch_size=64,
        learning_rate_init=1.1e-2,
        alpha=0.0,
        max_iter=28,
    ),
    "conv budget C": dict(
        CONV_REFINED,
        network__channels=(16, 48),
        network__convs_per_stage=3,
        network__activation="relu",
        batch_size=32,
        learning_rate_init=7.5e-3,
        alpha=1e-5,
        max_iter=16,
    ),
    # From `robust --space recommended_budget` (robust_recommended_budget.csv):
    # A, the best MNIST k=32 candidate within the 15 s budget that stayed
    # below PCA on digits k=32; B, the best on MNIST k=32 at any time.
    "recommended budget A": dict(
        RECOMMENDED,
        batch_size=96,
        learning_rate_init=2.4e-3,
        alpha=1e-4,
        max_iter=36,
    ),
    "recommended budget B": dict(
        RECOMMENDED,
        hidden_layer_sizes=(2048,),
        batch_size=128,
        learning_rate_init=5e-3,
        alpha=1e-4,
    ),
    # The three best of `robust --space fast_refined` (robust_fast_refined.csv)
    # within the time budget: by the worst ratio, and by MNIST k=32.
    "fast A": dict(
        hidden_layer_sizes=(256,),
        batch_norm=True,
        init="pca",
        early_stopping=True,
        max_iter=25,
        learning_rate="cosine",
        learning_rate_init=2.5e-3,
        batch_size=64,
        alpha=1e-5,
    ),
    "fast B": dict(
        hidden_layer_sizes=(1024,),
        init="pca",
        early_stopping=True,
        max_iter=10,
        learning_rate="onecycle",
        learning_rate_init=7.5e-3,
        batch_size=64,
        alpha=1e-5,
    ),
    "fast C": dict(
        hidden_layer_sizes=(256,),
        activation="gelu",
        batch_norm=True,
        init="pca",
        early_stopping=True,
        max_iter=25,
        learning_rate="cosine",
        learning_rate_init=7.5e-3,
        batch_size=64,
        alpha=1e-5,
    ),
    "mnist finalist": MNIST_FINALIST,
    "mnist finalist, no batch norm": {**MNIST_FINALIST, "batch_norm": False},
    "mnist finalist, batch 32": {**MNIST_FINALIST, "batch_size": 32},
    "digits finalist": DIGITS_FINALIST,
    "digits finalist, auto output": {
        **DIGITS_FINALIST,
        "output_activation": "auto",
        "loss": "auto",
    },
    "breast_cancer finalist": dict(
        hidden_layer_sizes=(2048,),
        activation="leaky_relu",
        dropout=0.1,
        batch_size=64,
        learning_rate="adaptive",
        learning_rate_init=4e-4,
        alpha=1e-4,
        max_iter=135,
    ),
}


# ConvNetwork's recipe for a wide code (a PCA start kept unless a validation
# epoch beats it) at three rates, against the recipe of small codes ("conv
# budget A"), on digits' 8 x 8 images: `python -m benchmarks.search confirm
# --configs "conv budget A" "conv, PCA start 1e-3" "conv, PCA start 3e-3"
# "conv, PCA start 8e-3" --datasets digits mnist --k 2 8 16 32 --seeds 2`.
for _rate in (1e-3, 3e-3, 8e-3):
    CONFIGS[f"conv, PCA start {_rate:.0e}".replace("e-0", "e-")] = dict(
        CONV,
        init="pca",
        early_stopping=True,
        output_activation="identity",
        loss="mse",
        learning_rate_init=_rate,
    )

# The estimators' MLP parameters of 0.1, which a network spec replaces.
MLP_PARAMETERS = ("hidden_layer_sizes", "activation", "dropout", "batch_norm")


def build(params, k, seed, image_shape=None, cls=AutoencoderTransformer, **kwargs):
    """``cls(k)`` for a flat configuration on top of :data:`DEFAULTS_0_1`.

    The MLP's keys become an :class:`MLPNetwork`; ``network__*`` keys a
    :class:`ConvNetwork` for images of ``image_shape``, beside which the
    MLP's keys are dropped. Every training setting is passed explicitly.
    """
    params = {**DEFAULTS_0_1, **params, **kwargs}
    if params["batch_size"] == "auto":
        params["batch_size"] = 256  # what "auto" was in 0.1: min(256, n_samples)
    conv = {key[len("network__") :]: v for key, v in params.items() if key.startswith("network__")}
    mlp = {key: params.pop(key) for key in MLP_PARAMETERS if key in params}
    rest = {key: v for key, v in params.items() if not key.startswith("network__")}
    if conv:
        # ConvNetwork's own defaults before it took the benchmark's.
        before = {"channels": (32, 64), "convs_per_stage": 1, "batch_norm": False}
        network = ConvNetwork(image_shape, **{**before, **conv})
    else:
        # In these configurations "auto" output meant the data's range (a sigmoid for [0, 1]
        # data unless the start is PCA). Of the MLP's recipes, the quality
        # preset's decides so; every other setting is explicit here.
        preset = "quality" if rest["output_activation"] == "auto" else "fast"
        network = MLPNetwork(**{"dropout": 0.0, **mlp}, preset=preset)
    return cls(k, network=network, random_state=seed, **rest)
