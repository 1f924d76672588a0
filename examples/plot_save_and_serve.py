"""
Saving without pickle, serving through ONNX
===========================================

``save`` writes safetensors and JSON (no pickle, no code from the file on
``load``); ``to_onnx`` exports the encoder, decoder, round trip or
per-row error for onnxruntime; ``register_onnx_converters`` lets skl2onnx
convert whole pipelines that contain the autoencoder.
"""

# %%
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import skl2onnx
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sk_autoencoder import AutoencoderTransformer, register_onnx_converters

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
ae = AutoencoderTransformer(8, random_state=0).fit(X)

path = Path(tempfile.mkdtemp()) / "digits.skae"
ae.save(path)
loaded = AutoencoderTransformer.load(path)
print("loaded codes equal:", np.array_equal(loaded.transform(X), ae.transform(X)))
print(f"file: {path.stat().st_size / 1024:.0f} KiB")

# %%
# The encoder under onnxruntime.
session = ort.InferenceSession(ae.to_onnx("encoder").SerializeToString())
codes = session.run(None, {"X": X})[0]
print("max |onnx - transform|:", float(np.abs(codes - ae.transform(X)).max()))

# %%
# A whole pipeline through skl2onnx.
pipe = make_pipeline(ae, LogisticRegression(max_iter=1000)).fit(X, y)
register_onnx_converters()
onx = skl2onnx.to_onnx(pipe, X[:1], target_opset=18)
labels = ort.InferenceSession(onx.SerializeToString()).run(None, {"X": X})[0]
print("pipeline labels equal:", bool((labels == pipe.predict(X)).all()))
