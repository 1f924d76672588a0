"""Training recipes: what a network spec needs to train well.

A recipe is a plain dict that maps the estimators' training settings
(:data:`SETTINGS`) to values. Every setting an estimator leaves at
``"auto"`` takes its value from the recipe of the spec it trains, so that
one call, ``AutoencoderTransformer(32, network=ConvNetwork((28, 28)))``,
trains the convolutional network the way it was tuned to train, and the
MLP the way the MLP was tuned.

The figures behind each recipe come from the searches in
``benchmarks/search.py`` (validation splits of the training data,
finalists confirmed on several seeds).
"""

# The estimator parameters a recipe sets, in the order the docs list them.
SETTINGS = (
    "init",
    "max_iter",
    "learning_rate",
    "learning_rate_init",
    "batch_size",
    "alpha",
    "early_stopping",
    "output_activation",
    "loss",
)

# What the estimators train: the transformer, the variational transformer and
# the outlier detector. A spec's ``recipe`` is asked for one of them.
TASKS = ("transformer", "variational", "outlier")

# AutoencoderTransformer's recipe for a network without one of its own, and
# MLPNetwork's "fast" preset: a PCA start kept unless a validation epoch
# beats it, 25 epochs of a cosine schedule from 7.5e-3 in batches of 64 ("fast
# C" of `python -m benchmarks.search robust --space fast_refined`, confirmed
# on three seeds), with an identity output (PCA's reconstruction is linear).
# Every recipe leaves the loss at "auto": cross-entropy for a sigmoid output
# on data in [0, 1], the squared error otherwise.
FAST = {
    "init": "pca",
    "max_iter": 25,
    "learning_rate": "cosine",
    "learning_rate_init": 7.5e-3,
    "batch_size": 64,
    "alpha": 1e-5,
    "early_stopping": True,
    "output_activation": "identity",
    "loss": "auto",
}

# MLPNetwork's "quality" preset: one hidden layer of 1024 (GELU, batch norm)
# trained 30 cosine epochs from 1.2e-3 in batches of 64, from a random start,
# with a sigmoid output and cross-entropy for data in [0, 1] (the
# recommendation of `python -m benchmarks.search robust --space
# fast_recommended`, confirmed on three seeds).
QUALITY = {
    "init": "random",
    "max_iter": 30,
    "learning_rate": "cosine",
    "learning_rate_init": 1.2e-3,
    "batch_size": 64,
    "alpha": 0.0,
    "early_stopping": False,
    "output_activation": "auto",
    "loss": "auto",
}

# The variational transformer and the outlier detector: 200 epochs at a
# constant 1e-3 from a random start, an identity output and the squared
# error. The detector's figures (the outlier benchmark's ROC AUC) fell under
# FAST; a variational encoder has no PCA start.
STEADY = {
    "init": "random",
    "max_iter": 200,
    "learning_rate": "constant",
    "learning_rate_init": 1e-3,
    "batch_size": 256,
    "alpha": 0.0,
    "early_stopping": False,
    "output_activation": "identity",
    "loss": "auto",
}


def default_recipe(task):
    """The recipe of a spec that has none of its own, for ``task``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}; got {task!r}.")
    return dict(FAST if task == "transformer" else STEADY)


# ConvNetwork's recipe: 24 epochs of a cosine schedule from 8e-3 in batches
# of 64 from a random start, a sigmoid output and cross-entropy for data in
# [0, 1] ("conv budget A" of `python -m benchmarks.search robust --space
# conv_budget`, scored on MNIST k=32 validation under a one-minute fit on two
# cores, confirmed on three seeds).
CONV = {
    "init": "random",
    "max_iter": 24,
    "learning_rate": "cosine",
    "learning_rate_init": 8e-3,
    "batch_size": 64,
    "alpha": 1e-5,
    "early_stopping": False,
    "output_activation": "auto",
    "loss": "auto",
}

# ConvNetwork's recipe for a code wider than an eighth of the input: a PCA
# start kept unless a validation epoch beats it, 24 cosine epochs from 3e-3.
# On digits' 8 x 8 images, the validation split of benchmarks/search.py
# (`python -m benchmarks.search confirm`, the "conv, PCA start" configurations
# of benchmarks/history.py) gave 0.58 x PCA at k=16 against 0.71 x for CONV,
# and CONV loses to PCA at k=32; at k <= 8 CONV is ahead.
# Its output stays "auto", which is the identity under a PCA start.
CONV_SMALL_CODE = dict(CONV, init="pca", learning_rate_init=3e-3, early_stopping=True)
