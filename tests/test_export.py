"""Saving without pickle, ONNX export, and skl2onnx conversion of pipelines."""

import json
import pickle
import re
import sys

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
    _persistence,
    register_onnx_converters,
)
from sk_autoencoder.networks import MLPNetwork

safetensors = pytest.importorskip("safetensors", reason="safetensors is in the test extra")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the test extra")
skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is in the test extra")

VARIANTS = [
    (AutoencoderTransformer, dict(network=MLPNetwork(dropout=0.1), alpha=1e-4)),
    (AutoencoderTransformer, dict(noise="masking", sparsity=0.01, contractive=0.01)),
    (AutoencoderTransformer, dict(early_stopping=True, network=MLPNetwork(batch_norm=False))),
    (VariationalAutoencoderTransformer, dict(beta=0.5, network=MLPNetwork((32, 16)))),
    (AutoencoderOutlierDetector, dict(contamination=0.05, output_activation="sigmoid", loss="bce")),
]


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def _predictions(est, X):
    out = {"score_samples": est.score_samples(X)}
    if hasattr(est, "transform"):
        out["transform"] = est.transform(X)
        out["transform64"] = est.transform(X.astype(np.float64))
        out["inverse_transform"] = est.inverse_transform(out["transform"])
    if hasattr(est, "predict"):
        out["predict"] = est.predict(X)
    if hasattr(est, "sample"):
        out["sample"] = est.sample(5, random_state=0)
    return out


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture
def no_pickle(monkeypatch):
    """Make pickle and torch.load unusable, to prove loading needs neither."""
    import torch._dynamo  # noqa: F401  (torch imports it lazily, with pickle)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle or torch.load was used")

    for module, name in [
        (pickle, "load"),
        (pickle, "loads"),
        (torch, "load"),
        (torch.serialization, "load"),
    ]:
        monkeypatch.setattr(module, name, refuse)


# -- save / load ---------------------------------------------------------------------


def _params(estimator):
    """``get_params(deep=False)`` with a network spec compared by its own parameters."""
    params = estimator.get_params(deep=False)
    if params["network"] is not None:
        params["network"] = (type(params["network"]), params["network"].get_params())
    return params


@pytest.mark.parametrize("layout", ["file", "folder"])
@pytest.mark.parametrize("Estimator, params", VARIANTS)
def test_save_load_is_bitwise(Estimator, params, layout, data, tmp_path, no_pickle):
    """Check that a loaded estimator predicts bit for bit like the saved one."""
    X = data[0][:300]
    est = Estimator(n_components=3, max_iter=3, random_state=0, **params).fit(X)
    path = tmp_path / "model.skae" if layout == "file" else tmp_path / "model/"
    est.save(path)
    loaded = Estimator.load(path)
    assert _params(loaded) == _params(est)
    assert loaded.network_.get_params() == est.network_.get_params()
    keys = ("n_features_in_", "n_components_", "loss_curve_", "n_iter_", "batch_size_", "recipe_")
    for key in keys:
        assert getattr(loaded, key) == getattr(est, key)
    _assert_same(_predictions(loaded, X), _predictions(est, X))


@pytest.mark.parametrize("Estimator, params", VARIANTS[:1] + VARIANTS[3:])
def test_loaded_estimator_continues_training_identically(Estimator, params, data, tmp_path):
    """Check that weights, Adam's state, streams and history are all saved."""
    X = data[0][:300]
    est = Estimator(n_components=3, random_state=0, **params).partial_fit(X)
    est.save(tmp_path / "m.skae")
    loaded = Estimator.load(tmp_path / "m.skae")
    for chunk in np.array_split(X, 2):
        est.partial_fit(chunk)
        loaded.partial_fit(chunk)
    _assert_same(_predictions(loaded, X), _predictions(est, X))
    warm = Estimator(n_components=3, max_iter=2, warm_start=True, random_state=0, **params)
    warm.fit(X).save(tmp_path / "w.skae")
    warm_loaded = Estimator.load(tmp_path / "w.skae")
    _assert_same(_predictions(warm_loaded.fit(X), X), _predictions(warm.fit(X), X))


def test_feature_names_survive(data, tmp_path):
    """Check that feature_names_in_ is saved and still checked after loading."""
    pd = pytest.importorskip("pandas", reason="pandas is in the test extra")
    frame = pd.DataFrame(data[0][:100], columns=[f"px{i}" for i in range(64)])
    ae = AutoencoderTransformer(max_iter=2, random_state=0).fit(frame)
    ae.save(tmp_path / "m.skae")
    loaded = AutoencoderTransformer.load(tmp_path / "m.skae")
    assert list(loaded.feature_names_in_) == list(frame.columns)
    assert list(loaded.get_feature_names_out()) == list(ae.get_feature_names_out())
    with pytest.raises(ValueError, match="feature names"):
        loaded.transform(frame.rename(columns={"px0": "other"}))


def _rewrite(path, edit_metadata=None, edit_tensors=None, resign=True):
    """Re-save a model file after editing its metadata or tensors."""
    metadata, tensors = _persistence._read(path)
    if edit_metadata:
        edit_metadata(metadata)
    if edit_tensors:
        edit_tensors(tensors)
        metadata["tensors"] = {k: [str(v.dtype), list(v.shape)] for k, v in tensors.items()}
    if resign:
        unsigned = {k: v for k, v in metadata.items() if k != "sha256"}
        metadata["sha256"] = _persistence._checksum(unsigned, tensors)
    text = json.dumps(metadata, sort_keys=True)
    safetensors.torch.save_file(tensors, path, metadata={_persistence.METADATA_KEY: text})


@pytest.fixture
def saved(data, tmp_path):
    path = tmp_path / "m.skae"
    AutoencoderTransformer(n_components=3, max_iter=2, random_state=0).fit(data[0][:100]).save(path)
    return path


def test_newer_format_is_refused(saved):
    """Check the message for a file written by a newer format version."""
    _rewrite(saved, lambda m: m.update(format_version=99))
    msg = "has format version 99, newer than the 3 this sk_autoencoder reads"
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer.load(saved)


def test_truncated_file_is_refused(saved):
    """Check the message for a file cut short."""
    content = saved.read_bytes()
    saved.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="is truncated or is not a saved sk_autoencoder model"):
        AutoencoderTransformer.load(saved)


@pytest.mark.parametrize("where", ["tensor", "metadata"])
def test_tampered_file_is_refused(saved, where):
    """Check that a changed weight or parameter is detected by the checksum."""
    if where == "tensor":
        content = bytearray(saved.read_bytes())
        content[-10] ^= 0xFF  # a byte inside the last tensor
        saved.write_bytes(bytes(content))
    else:
        _rewrite(saved, lambda m: m["params"].update(n_components=4), resign=False)
    with pytest.raises(ValueError, match="has been modified since it was saved"):
        AutoencoderTransformer.load(saved)


def test_tensors_that_do_not_match_the_metadata_are_refused(saved):
    """Check a consistently signed file whose weights do not fit its parameters."""

    def shrink(tensors):
        name = "module.encoder.residual.linear0.weight"  # (256, 64), beside the PCA path
        tensors[name] = tensors[name][:, :10].contiguous()

    _rewrite(saved, edit_tensors=shrink)
    msg = "the saved weights do not fit the network its parameters describe"
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer.load(saved)


def test_other_class_is_refused(saved):
    """Check that a transformer file is not loaded as a detector."""
    msg = "holds a AutoencoderTransformer, not a AutoencoderOutlierDetector"
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderOutlierDetector.load(saved)


def test_gpu_trained_model_loads_on_cpu(saved, data):
    """Check that a model saved from CUDA loads on a machine without one."""
    reference = AutoencoderTransformer.load(saved)

    def on_cuda(metadata):
        metadata["fitted"]["device_"] = "cuda"
        metadata["params"]["device"] = "cuda"
        metadata["net"]["generator_device"] = "cuda:0"

    _rewrite(saved, on_cuda)
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the model would load there")
    loaded = AutoencoderTransformer.load(saved)
    assert loaded.device_ == "cpu" and loaded.get_params()["device"] == "cuda"
    _assert_same(_predictions(loaded, data[0][:50]), _predictions(reference, data[0][:50]))


def test_unfitted_save_and_missing_extra(data, tmp_path, monkeypatch):
    """Check NotFittedError for unfitted models and the extra's name when missing."""
    with pytest.raises(NotFittedError):
        AutoencoderTransformer().save(tmp_path / "m.skae")
    ae = AutoencoderTransformer(max_iter=1, random_state=0).fit(data[0][:50])
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(ImportError, match=re.escape('"sk-autoencoder[export]"')):
        ae.save(tmp_path / "m.skae")


# -- ONNX -------------------------------------------------------------------------------


def _session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(
    "Estimator, params",
    [
        (AutoencoderTransformer, dict(network=MLPNetwork(dropout=0.2))),
        (VariationalAutoencoderTransformer, dict(network=MLPNetwork(activation="tanh"))),
        (AutoencoderOutlierDetector, dict(network=MLPNetwork(activation="relu"))),
    ],
)
def test_onnx_parts_match_the_estimator(Estimator, params, data, tmp_path):
    """Check every exported part against the estimator at batch sizes 1, 7 and 256."""
    X = data[0][:400]
    est = Estimator(n_components=4, max_iter=3, random_state=0, **params).fit(X)
    Z = est.net_.encode(X)
    expected = {
        "encoder": (X, Z),
        "decoder": (Z, est.net_.decode(Z)),
        "autoencoder": (X, est.net_.reconstruct(X)),
        "error": (X, -est.score_samples(X)),
    }
    for part, (inputs, outputs) in expected.items():
        session = _session(est.to_onnx(part, path=tmp_path / f"{part}.onnx"))
        assert (tmp_path / f"{part}.onnx").stat().st_size > 0
        for n in (1, 7, 256):
            got = session.run(None, {"X": inputs[:n]})[0]
            assert got.shape == outputs[:n].shape
            assert_allclose(got, outputs[:n], rtol=1e-5, atol=1e-5, err_msg=f"{part} n={n}")
    with pytest.raises(ValueError, match="part must be one of"):
        est.to_onnx("middle")


def _proba(outputs):
    labels, probabilities = outputs[0], outputs[1]
    if isinstance(probabilities, list):  # skl2onnx's ZipMap: one dict per row
        probabilities = np.array([[row[k] for k in sorted(row)] for row in probabilities])
    return labels, probabilities


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VariationalAutoencoderTransformer])
def test_skl2onnx_pipeline_matches_sklearn(Estimator, data):
    """Check scaler -> autoencoder -> logistic regression converted whole."""
    X, y = data
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    pipe = make_pipeline(
        StandardScaler(),
        Estimator(8, max_iter=10, random_state=0),
        LogisticRegression(max_iter=1000),
    ).fit(X_train, y_train)
    register_onnx_converters()
    onx = skl2onnx.to_onnx(pipe, X_train[:1], target_opset=18)
    labels, probabilities = _proba(_session(onx).run(None, {"X": X_test}))
    assert_array_equal(labels, pipe.predict(X_test))
    assert_allclose(probabilities, pipe.predict_proba(X_test), atol=1e-5)


def test_skl2onnx_column_transformer(data):
    """Check our transformer as one branch of a ColumnTransformer."""
    X, y = data
    columns = ColumnTransformer(
        [
            ("ae", AutoencoderTransformer(6, max_iter=10, random_state=0), list(range(32))),
            ("scale", StandardScaler(), list(range(32, 64))),
        ]
    )
    pipe = make_pipeline(columns, LogisticRegression(max_iter=1000)).fit(X[:1200], y[:1200])
    register_onnx_converters()
    onx = skl2onnx.to_onnx(pipe, X[:1], target_opset=18)
    labels, probabilities = _proba(_session(onx).run(None, {"X": X[1200:]}))
    assert_array_equal(labels, pipe.predict(X[1200:]))
    assert_allclose(probabilities, pipe.predict_proba(X[1200:]), atol=1e-5)


def test_skl2onnx_double_input(data):
    """Check that double input is cast to float32 for the encoder and back."""
    X = data[0].astype(np.float64)
    pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(5, max_iter=5, random_state=0))
    pipe.fit(X)
    register_onnx_converters()
    onx = skl2onnx.to_onnx(pipe, X[:1], target_opset=18)
    (codes,) = _session(onx).run(None, {"X": X[:300]})
    assert codes.dtype == np.float64 and codes.shape == (300, 5)
    assert_allclose(codes, pipe.transform(X[:300]), rtol=1e-5, atol=1e-5)


def test_a_path_ending_in_a_slash_is_a_new_folder(data, tmp_path):
    """Check that save("new_dir/") creates the folder layout, as documented.

    ``Path("new_dir/")`` drops the slash, so the check once looked at a
    string without it and wrote a single file named ``new_dir``.
    """
    X = data[0][:100]
    ae = AutoencoderTransformer(n_components=3, max_iter=2, random_state=0).fit(X)
    target = f"{tmp_path / 'new_dir'}/"
    ae.save(target)
    assert sorted(p.name for p in (tmp_path / "new_dir").iterdir()) == [
        "metadata.json",
        "weights.safetensors",
    ]
    assert_array_equal(AutoencoderTransformer.load(target).transform(X), ae.transform(X))
