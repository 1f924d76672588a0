"""Network specs: the MLP and conv specs, user specs, searching, seeding, saving."""

import copy
import json
import pickle
import re

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from user_networks import Cached, PlainMLP, TiedMLP, WrongWidth

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
    _persistence,
)
from sk_autoencoder.networks import ConvNetwork, MLPNetwork, Network, check_network

# A random start: these tests look at the spec's own module and its seeding
# (tests/test_pca_init.py covers the PCA start around a spec).
SMALL = dict(max_iter=3, batch_size=64, random_state=0, init="random")


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:300] / 16).astype(np.float32)


def _conv(**params):
    return ConvNetwork((8, 8), channels=(4, 8), **{"convs_per_stage": 1, **params})


@pytest.mark.parametrize(
    "cls, mlp",
    [
        (AutoencoderTransformer, dict()),
        (
            VariationalAutoencoderTransformer,
            dict(hidden_layer_sizes=(256, 128), **{"activation": "relu", "batch_norm": False}),
        ),
        (
            AutoencoderOutlierDetector,
            dict(hidden_layer_sizes=(256, 128), **{"activation": "relu", "batch_norm": False}),
        ),
    ],
)
def test_network_none_is_the_documented_default_spec(X, cls, mlp):
    """Check that network=None trains exactly the default spec, kept as network_."""
    default = cls(4, **SMALL).fit(X)
    spec = cls(4, network=MLPNetwork(**mlp), **SMALL).fit(X)
    assert default.network is None
    assert default.network_.get_params() == MLPNetwork(**mlp).get_params()
    assert_array_equal(default.score_samples(X), spec.score_samples(X))
    assert default.net_.module_.state_dict().keys() == spec.net_.module_.state_dict().keys()


@pytest.mark.parametrize(
    "cls, given, written",
    [
        (
            AutoencoderTransformer,
            dict(hidden_layer_sizes=(64,), dropout=0.1),
            "MLPNetwork(hidden_layer_sizes=(64,), dropout=0.1)",
        ),
        (
            AutoencoderOutlierDetector,
            dict(activation="tanh"),
            "MLPNetwork(hidden_layer_sizes=(256, 128), activation='tanh', batch_norm=False)",
        ),
    ],
)
def test_mlp_parameters_say_what_to_write_instead(cls, given, written):
    """Check that an MLP parameter passed to an estimator is a TypeError naming the new call."""
    passed = ", ".join(f"{k}={v!r}" for k, v in given.items())
    msg = (
        f"{cls.__name__}({passed}): the architecture is set by `network` alone since 0.2. "
        f"Write {cls.__name__}(network={written}) instead "
        "(from sk_autoencoder.networks import MLPNetwork)."
    )
    with pytest.raises(TypeError, match=re.escape(msg)):
        cls(4, **given)
    with pytest.raises(ValueError, match="Invalid parameter 'hidden_layer_sizes'"):
        cls(4).set_params(hidden_layer_sizes=(64,))


def test_network_must_be_a_spec(X):
    """Check that a module or a string is refused by parameter validation."""
    with pytest.raises(InvalidParameterError, match="'network' parameter"):
        AutoencoderTransformer(4, network="conv").fit(X)
    with pytest.raises(InvalidParameterError, match="'network' parameter"):
        AutoencoderTransformer(4, network=torch.nn.Linear(64, 4)).fit(X)


@pytest.mark.parametrize(
    "image_shape, n_features",
    [((8, 8), 64), ((1, 8, 8), 64), ((7, 5), 35), ((3, 5, 4), 60), ((9, 9), 81), (None, 13)],
)
def test_conv_network_reconstructs_every_shape(image_shape, n_features):
    """Check codes and reconstructions of the right shape, odd and even sizes, 1-D and 2-D."""
    X = np.random.RandomState(0).uniform(size=(40, n_features)).astype(np.float32)
    ae = AutoencoderTransformer(
        3, network=ConvNetwork(image_shape, channels=(4, 4, 8)), **SMALL
    ).fit(X)
    Z = ae.transform(X)
    assert Z.shape == (40, 3)
    assert ae.inverse_transform(Z).shape == (40, n_features)
    assert ae.transform(X.astype(np.float64)).dtype == np.float64


def test_conv_network_learns_digits():
    """Check that a conv autoencoder beats PCA at the same k on the training digits.

    Measured: 0.83 x PCA's error (3.5 s on 2 cores); digits' 8 x 8 images
    are small for convolutions, which need many epochs to get there.
    """
    from sklearn.decomposition import PCA

    from sk_autoencoder import reconstruction_error

    X = (load_digits().data / 16).astype(np.float32)
    ae = AutoencoderTransformer(
        8,
        network=ConvNetwork((8, 8), channels=(16, 32), batch_norm=True),
        batch_size=128,
        learning_rate_init=1e-2,
        max_iter=25,
        random_state=0,
    ).fit(X)
    pca = PCA(8).fit(X)
    assert reconstruction_error(ae, X) < 0.9 * reconstruction_error(pca, X)


def test_image_shape_must_match_the_features(X):
    """Check the ValueError naming the image size and the number of features."""
    ae = AutoencoderTransformer(4, network=ConvNetwork((28, 28)), **SMALL)
    msg = "image_shape=(28, 28) holds 784 values per image, but X has 64 features."
    with pytest.raises(ValueError, match=re.escape(msg)):
        ae.fit(X)
    with pytest.raises(ValueError, match=re.escape("image_shape must be (height, width)")):
        AutoencoderTransformer(4, network=ConvNetwork((2, 2, 4, 4)), **SMALL).fit(X)
    assert not hasattr(ae, "net_")


def test_conv_parameters_are_validated(X):
    """Check that the spec's own constraints are checked by fit."""
    with pytest.raises(InvalidParameterError, match="'kernel_size' parameter of ConvNetwork"):
        AutoencoderTransformer(4, network=_conv(kernel_size=0), **SMALL).fit(X)
    with pytest.raises(ValueError, match=re.escape("channels must hold at least one")):
        AutoencoderTransformer(4, network=ConvNetwork((8, 8), channels=()), **SMALL).fit(X)


def test_grid_search_over_network_parameters(X):
    """Check network__<param> in a search: each candidate trains the architecture it names."""
    ae = AutoencoderTransformer(network=_conv(), **SMALL)
    grid = {"network__channels": [(4, 8), (8,)], "n_components": [2, 4]}
    search = GridSearchCV(ae, grid, cv=2).fit(X)
    params = search.cv_results_["params"]
    assert [p["network__channels"] for p in params] == [(4, 8), (8,), (4, 8), (8,)]
    best = search.best_estimator_
    convs = [m for m in best.net_.module_.encoder if isinstance(m, torch.nn.Conv2d)]
    assert tuple(c.out_channels for c in convs) == best.network.channels
    assert ae.network.channels == (4, 8)  # the template is not changed by the search
    ae.set_params(network__kernel_size=5)
    assert ae.get_params()["network__kernel_size"] == 5


def test_every_fit_builds_a_fresh_module(X):
    """Check that refits and clones never share or reuse a module."""
    spec = _conv()
    first = AutoencoderTransformer(4, network=spec, **SMALL).fit(X)
    weights = {k: v.clone() for k, v in first.net_.module_.state_dict().items()}
    second = clone(first).fit(X)
    assert second.network is not spec and second.net_.module_ is not first.net_.module_
    for key, value in first.net_.module_.state_dict().items():
        assert_array_equal(value, weights[key])  # the refit left the first model alone
    assert spec.get_params() == _conv().get_params()


def test_a_spec_that_reuses_its_module_is_refused(X):
    """Check the ValueError for a build() that hands out the same module twice."""
    AutoencoderTransformer(2, network=Cached(), **SMALL).fit(X)
    msg = "Cached.build() returned a module (or parameters) it had returned before"
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer(2, network=Cached(), **SMALL).fit(X)


def test_a_spec_of_the_wrong_width_is_refused(X):
    """Check the ValueError naming the shapes when build() ignores n_components."""
    msg = (
        "The module that WrongWidth built maps input of shape (2, 64) through its encoder "
        "to (2, 5); expected (2, 4)."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer(4, network=WrongWidth(), **SMALL).fit(X)


@pytest.mark.parametrize("spec", [_conv(batch_norm=True), TiedMLP(32), PlainMLP(16, depth=2)])
def test_seeded_fits_are_reproducible_and_leave_the_global_rng(X, spec):
    """Check bitwise-equal seeded fits with any spec, the global torch RNG untouched."""
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = AutoencoderTransformer(4, network=spec, **SMALL).fit(X)
    b = AutoencoderTransformer(4, network=clone(spec), **SMALL).fit(X)
    assert torch.equal(state, torch.random.get_rng_state())
    assert_array_equal(a.transform(X), b.transform(X))
    c = AutoencoderTransformer(4, network=clone(spec), **{**SMALL, "random_state": 1}).fit(X)
    assert not np.array_equal(a.transform(X), c.transform(X))


def test_weight_decay_reaches_every_weight_tensor(X):
    """Check that alpha decays conv kernels and dense weights, not biases or batch norm."""
    ae = AutoencoderTransformer(4, network=_conv(batch_norm=True), alpha=1e-3, **SMALL).fit(X)
    groups = ae.net_.optimizer_.param_groups
    decayed = {id(p) for p in groups[0]["params"]}
    assert groups[0]["weight_decay"] == 1e-3 and groups[1]["weight_decay"] == 0
    for name, p in ae.net_.module_.named_parameters():
        assert (id(p) in decayed) == (p.ndim >= 2), name
    kernels = [n for n, p in ae.net_.module_.named_parameters() if p.ndim == 4]
    assert len(kernels) == 4  # two convolutions, two transposed convolutions

    def kernel_norm(alpha):
        est = AutoencoderTransformer(
            4, network=_conv(), alpha=alpha, max_iter=30, random_state=0
        ).fit(X)
        return sum(float(p.detach().norm()) for p in est.net_.module_.parameters() if p.ndim == 4)

    assert kernel_norm(0.5) < 0.8 * kernel_norm(0.0)


def test_variational_and_outlier_estimators_take_a_network(X):
    """Check the VAE (Gaussian encoder from the spec) and the detector with conv nets."""
    vae = VariationalAutoencoderTransformer(3, network=_conv(), **SMALL).fit(X)
    mean, log_var = vae.net_.module_.encode_stats(torch.as_tensor(X[:5]))
    assert mean.shape == log_var.shape == (5, 3)
    assert_allclose(vae.transform(X[:5]), mean.detach().numpy(), atol=1e-6)
    assert vae.sample(4, random_state=0).shape == (4, 64)
    user = VariationalAutoencoderTransformer(3, network=TiedMLP(16), **SMALL).fit(X)
    assert user.transform(X).shape == (300, 3)
    det = AutoencoderOutlierDetector(3, network=_conv(), contamination=0.1, **SMALL).fit(X)
    assert int((det.predict(X) == -1).sum()) == 30


def test_streamed_fit_with_a_conv_network_equals_in_memory(X, tmp_path):
    """Check that one-chunk streaming trains the conv net bit for bit as in memory."""
    path = tmp_path / "X.npy"
    np.save(path, X)
    memmap = np.load(path, mmap_mode="r")
    a = AutoencoderTransformer(4, network=_conv(), **SMALL).fit(X)
    b = AutoencoderTransformer(4, network=_conv(), **SMALL).fit(memmap)
    assert_array_equal(a.transform(X), b.transform(memmap))


class _Local(Network):
    def build(self, n_features, n_components, *, generator=None):
        return TiedMLP(8).build(n_features, n_components, generator=generator)


def test_pickling_a_spec_of_main_is_refused_at_dump_time(X):
    """Check that pickle.dumps names the problem, while by-value picklers still work."""
    main = type("MainSpec", (TiedMLP,), {"__module__": "__main__"})
    ae = AutoencoderTransformer(2, network=main(8), **SMALL).fit(X)
    msg = "MainSpec is defined in __main__, so a pickle of it names a class"
    with pytest.raises(pickle.PicklingError, match=re.escape(msg)):
        pickle.dumps(ae)
    with pytest.raises(pickle.PicklingError, match="defined in a function's local scope"):
        pickle.dumps(_Local.__new__(type("Inner", (_Local,), {"__qualname__": "f.<locals>.I"})))
    # parallel searches and clusters carry such classes by value: keep them working
    cloudpickle = pytest.importorskip("cloudpickle", reason="dask (the scale extra) needs it")
    restored = pickle.loads(cloudpickle.dumps(ae))
    assert_array_equal(restored.transform(X), ae.transform(X))
    assert copy.deepcopy(ae.network).width == 8
    assert clone(ae).network.width == 8


def test_pickle_round_trip_of_importable_specs(X):
    """Check pickle and joblib round trips for built-in and user specs."""
    import io

    import joblib

    for spec in (_conv(), TiedMLP(16)):
        ae = AutoencoderTransformer(3, network=spec, **SMALL).fit(X)
        assert_array_equal(pickle.loads(pickle.dumps(ae)).transform(X), ae.transform(X))
        buffer = io.BytesIO()
        joblib.dump(ae, buffer)
        buffer.seek(0)
        assert_array_equal(joblib.load(buffer).transform(X), ae.transform(X))


def test_save_and_load_a_conv_model(X, tmp_path):
    """Check that built-in specs load as they are, with their parameters and weights."""
    ae = AutoencoderTransformer(3, network=_conv(batch_norm=True), **SMALL).fit(X)
    ae.save(tmp_path / "m.skae")
    loaded = AutoencoderTransformer.load(tmp_path / "m.skae")
    assert isinstance(loaded.network, ConvNetwork)
    assert loaded.network.get_params() == ae.network.get_params()  # tuples come back as tuples
    assert_array_equal(loaded.transform(X), ae.transform(X))
    assert_array_equal(
        loaded.inverse_transform(ae.transform(X)), ae.inverse_transform(ae.transform(X))
    )


def test_load_trusts_only_the_classes_it_is_given(X, tmp_path):
    """Check skops-style loading of user specs: refused unless named in trusted."""
    ae = AutoencoderTransformer(3, network=TiedMLP(16), **SMALL).fit(X)
    ae.save(tmp_path / "m.skae")
    msg = (
        "holds a network of the untrusted type 'user_networks.TiedMLP'. load() never "
        "imports a class a file names; if you trust this file, import the class yourself "
        "and pass it: load(path, trusted=[TiedMLP])."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer.load(tmp_path / "m.skae")
    with pytest.raises(ValueError, match="untrusted type 'user_networks.TiedMLP'"):
        AutoencoderTransformer.load(tmp_path / "m.skae", trusted=[PlainMLP])
    with pytest.raises(TypeError, match="trusted must hold Network subclasses"):
        AutoencoderTransformer.load(tmp_path / "m.skae", trusted=[TiedMLP(16)])
    loaded = AutoencoderTransformer.load(tmp_path / "m.skae", trusted=[TiedMLP])
    assert_array_equal(loaded.transform(X), ae.transform(X))


def _tamper(path, change):
    """Change the saved metadata and re-sign it, as a deliberate forger would."""
    import safetensors.torch

    metadata, tensors = _persistence._read(path)
    change(metadata)
    unsigned = {k: v for k, v in metadata.items() if k != "sha256"}
    metadata["sha256"] = _persistence._checksum(unsigned, tensors)
    text = json.dumps(metadata, sort_keys=True)
    safetensors.torch.save_file(tensors, path, metadata={_persistence.METADATA_KEY: text})


@pytest.mark.parametrize(
    "change, error, msg",
    [
        (
            lambda m: m["params"]["network"]["params"].update(kernel_size=-3),
            InvalidParameterError,
            "The 'kernel_size' parameter of ConvNetwork must be",
        ),
        (
            lambda m: m["params"]["network"]["params"].update(exec_me="os.system"),
            ValueError,
            "the saved parameters do not fit sk_autoencoder.networks._conv.ConvNetwork",
        ),
        (
            lambda m: m["params"]["network"].update(class_="x"),
            ValueError,
            "",
        ),
        (
            lambda m: m["fitted"]["network_"]["params"].update(channels=[4, 16]),
            ValueError,
            "the saved weights do not fit the network its parameters describe",
        ),
        (
            lambda m: m["params"]["network"].update({"class": "os.system"}),
            ValueError,
            "holds a network of the untrusted type 'os.system'",
        ),
    ],
)
def test_tampered_network_parameters_are_refused(X, tmp_path, change, error, msg):
    """Check that re-signed, tampered network entries fail validation before any build."""
    ae = AutoencoderTransformer(3, network=_conv(), **SMALL).fit(X)
    path = tmp_path / "m.skae"
    ae.save(path)
    _tamper(path, change)
    if not msg:  # an extra key in the entry is harmless: the class and params decide
        assert_array_equal(AutoencoderTransformer.load(path).transform(X), ae.transform(X))
        return
    with pytest.raises(error, match=re.escape(msg)):
        AutoencoderTransformer.load(path)


def test_save_refuses_a_spec_defined_in_main(X, tmp_path):
    """Check the save-time error for a spec class that load() could never name."""
    main = type("MainSpec", (TiedMLP,), {"__module__": "__main__"})
    ae = AutoencoderTransformer(2, network=main(8), **SMALL).fit(X)
    msg = "Cannot save a model whose network, MainSpec, is defined in __main__"
    with pytest.raises(ValueError, match=re.escape(msg)):
        ae.save(tmp_path / "m.skae")
    assert not (tmp_path / "m.skae").exists()


def test_files_of_format_1_still_load(request):
    """Check that models saved before network specs existed load and predict as saved."""
    data = request.path.parent / "data"
    expected = np.load(data / "format1_expected.npz")
    ae = AutoencoderTransformer.load(data / "format1_transformer.skae")
    # The estimator's MLP parameters of format 1 become the network they described.
    mlp = MLPNetwork((16,), activation="relu", dropout=0.0, batch_norm=True)
    assert ae.network.get_params() == ae.network_.get_params() == mlp.get_params()
    assert ae.output_activation_ == "sigmoid" and ae.recipe_["init"] == "random"
    # The expected outputs were computed on another CPU: float32 matmuls are
    # bitwise reproducible on one CPU, not across SIMD kernels (AVX2 vs
    # AVX-512 sum in different orders), so the match is to float32 rounding.
    tol = {"rtol": 1e-5, "atol": 1e-6}
    assert_allclose(ae.transform(expected["X"]), expected["transformer"], **tol)
    assert_allclose(ae.inverse_transform(expected["transformer"]), expected["recon"], **tol)
    vae = VariationalAutoencoderTransformer.load(data / "format1_vae.skae")
    assert_allclose(vae.transform(expected["X"]), expected["vae"], **tol)
    ae.partial_fit(expected["X"])  # Adam's saved state fits the weight-decay groups
    assert ae.n_iter_ == 4


def test_files_of_format_2_still_load(request):
    """Check that models saved with the MLP's parameters on the estimator load as saved.

    The files were written by the release before the architecture moved to
    ``network`` alone: a transformer with that release's defaults (an MLP
    described by the estimator's own parameters) and a detector with a
    ConvNetwork of that release's defaults.
    """
    data = request.path.parent / "data"
    expected = np.load(data / "format2_expected.npz")
    ae = AutoencoderTransformer.load(data / "format2_transformer.skae")
    mlp = MLPNetwork((256,), activation="gelu", dropout=0.0, batch_norm=True)
    assert ae.network.get_params() == ae.network_.get_params() == mlp.get_params()
    assert ae.recipe_ == {
        "init": "pca",
        "max_iter": 2,
        "learning_rate": "cosine",
        "learning_rate_init": 7.5e-3,
        "batch_size": 64,
        "alpha": 1e-5,
        "early_stopping": True,
        "output_activation": "identity",
        "loss": "mse",
    }
    tol = {"rtol": 1e-5, "atol": 1e-6}
    assert_allclose(ae.transform(expected["X"]), expected["transformer"], **tol)
    assert_allclose(ae.inverse_transform(expected["transformer"]), expected["recon"], **tol)
    det = AutoencoderOutlierDetector.load(data / "format2_conv_detector.skae")
    conv = ConvNetwork((8, 8), channels=(4,), convs_per_stage=1, batch_norm=False)
    assert det.network_.get_params() == conv.get_params()
    assert_allclose(det.score_samples(expected["X"]), expected["detector"], **tol)
    ae.fit(expected["X"])  # the loaded parameters train as they did: the same recipe
    assert ae.n_iter_ <= 2 and ae.recipe_["learning_rate_init"] == 7.5e-3


@pytest.mark.parametrize(
    "cls", [AutoencoderTransformer, VariationalAutoencoderTransformer, AutoencoderOutlierDetector]
)
def test_onnx_export_of_conv_networks(X, cls):
    """Check ONNX parity <= 1e-5 for every part of a conv model at batch 1, 7 and 256."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the test extra")
    est = cls(3, network=_conv(batch_norm=True), **SMALL).fit(X)
    parts = ["autoencoder", "error"] + (
        ["encoder", "decoder"] if cls is not AutoencoderOutlierDetector else []
    )
    for part in parts:
        session = ort.InferenceSession(est.to_onnx(part).SerializeToString())
        for batch in (1, 7, 256):
            rows = X[:batch]
            if part == "decoder":
                rows, expected = est.transform(rows), est.inverse_transform(est.transform(rows))
            elif part == "encoder":
                expected = est.transform(rows)
            elif part == "autoencoder":
                expected = est.net_.reconstruct(rows)
            else:
                expected = -est.score_samples(rows)
            got = session.run(None, {"X": rows.astype(np.float32)})[0]
            assert_allclose(got, expected, atol=1e-5, err_msg=f"{part} at batch {batch}")


def test_skl2onnx_pipeline_with_a_conv_transformer(X):
    """Check that a scaler-free conv pipeline converts with skl2onnx, labels equal."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the test extra")
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is in the test extra")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sk_autoencoder import register_onnx_converters

    y = load_digits().target[:300]
    pipe = make_pipeline(
        AutoencoderTransformer(8, network=_conv(), **SMALL), LogisticRegression(max_iter=500)
    ).fit(X, y)
    register_onnx_converters()
    onx = skl2onnx.to_onnx(pipe, X[:1], target_opset=18)
    labels = ort.InferenceSession(onx.SerializeToString()).run(None, {"X": X})[0]
    assert_array_equal(labels, pipe.predict(X))


@pytest.mark.parametrize(
    "spec, grid",
    [
        (MLPNetwork((8,), batch_norm=True), None),
        (ConvNetwork((4, 3), channels=(4,)), {"kernel_size": [3, 5]}),
        (ConvNetwork(None, channels=(2, 4), activation="gelu"), None),
        (TiedMLP(8), {"width": [4, 8]}),
        (PlainMLP(6), None),
    ],
)
def test_check_network_passes_working_specs(spec, grid):
    """Check that check_network runs every step for built-in and user specs."""
    check_network(spec, param_grid=grid)


def test_check_network_reports_a_broken_spec():
    """Check that check_network fails on a spec that reuses its module."""
    with pytest.raises(ValueError, match=re.escape("Cached.build() returned a module")):
        check_network(Cached(width=3))
    with pytest.raises(TypeError, match="check_network takes a Network instance"):
        check_network(torch.nn.Linear(2, 2))
