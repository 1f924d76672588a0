"""``python -m benchmarks.export``: saving and serving the MNIST autoencoder.

Side by side in one process, on ``AutoencoderTransformer(32)`` with the
defaults of 0.1 with two hidden layers (``history.PREVIOUS_DEFAULT``) fitted to the MNIST
5k subset (784-256-128-32):

* file size and save / load time of ``save`` / ``load`` (safetensors + JSON,
  no pickle) against ``pickle`` and ``joblib`` (medians of ``--repeats``);
* ``transform`` throughput of the ONNX encoder under onnxruntime against the
  estimator's own ``transform`` (float32, both on the same threads), at a
  few batch sizes, contenders rotated, medians.
"""

import argparse
import io
import json
import pickle
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import torch

from sk_autoencoder import AutoencoderTransformer

from . import _data, history


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def persistence(ae, repeats, folder):
    path = folder / "model.skae"
    rows = {}
    save_s = median_time(lambda: ae.save(path), repeats)
    load_s = median_time(lambda: AutoencoderTransformer.load(path), repeats)
    rows["save/load (safetensors + JSON)"] = (path.stat().st_size, save_s, load_s)
    blob = pickle.dumps(ae)
    rows["pickle"] = (
        len(blob),
        median_time(lambda: pickle.dumps(ae), repeats),
        median_time(lambda: pickle.loads(blob), repeats),
    )
    buffer = io.BytesIO()
    joblib.dump(ae, buffer)

    def joblib_load():
        buffer.seek(0)
        joblib.load(buffer)

    rows["joblib"] = (
        len(buffer.getvalue()),
        median_time(lambda: joblib.dump(ae, io.BytesIO()), repeats),
        median_time(joblib_load, repeats),
    )
    return rows


def serving(ae, X, batch_sizes, repeats):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(
        ae.to_onnx("encoder").SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    np.testing.assert_allclose(session.run(None, {"X": X})[0], ae.transform(X), atol=1e-5)
    rows = {}
    for batch in batch_sizes:
        blocks = [X[i : i + batch] for i in range(0, len(X), batch)]
        times = {"ours": [], "onnxruntime": []}

        def ours(blocks=blocks):
            return [ae.transform(b) for b in blocks]

        def onnx(blocks=blocks):
            return [session.run(None, {"X": b}) for b in blocks]

        for _ in range(repeats):
            times["ours"].append(median_time(ours, 1))
            times["onnxruntime"].append(median_time(onnx, 1))
        ours_s = statistics.median(times["ours"])
        onnx_s = statistics.median(times["onnxruntime"])
        rows[batch] = (len(X) / ours_s, len(X) / onnx_s, ours_s / onnx_s)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.export", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/export.json"))
    args = parser.parse_args(argv)
    X, y = _data.load("mnist")
    X_train, X_test, _, _ = _data.split(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae = history.build(history.PREVIOUS_DEFAULT, 32, 0, max_iter=args.epochs).fit(X_train)
    with tempfile.TemporaryDirectory() as folder:
        stored = persistence(ae, args.repeats, Path(folder))
    served = serving(ae, X_test, (1, 64, 1000), args.repeats)
    print(f"MNIST 784-256-128-32; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| format | file size | save ms | load ms |")
    print("|---|---|---|---|")
    for name, (size, save_s, load_s) in stored.items():
        print(f"| {name} | {size / 2**20:.2f} MiB | {save_s * 1e3:.1f} | {load_s * 1e3:.1f} |")
    print(f"\ntransform of the {len(X_test):,} test images, float32:")
    print("| batch | ours rows/s | onnxruntime rows/s | onnxruntime / ours |")
    print("|---|---|---|---|")
    for batch, (ours, onnx_rate, ratio) in served.items():
        print(f"| {batch} | {ours:,.0f} | {onnx_rate:,.0f} | {ratio:.2f} |")
    results = {
        "command": "python -m benchmarks.export",
        "persistence": {
            k: dict(zip(("bytes", "save_s", "load_s"), v, strict=True)) for k, v in stored.items()
        },
        "serving": {
            str(k): dict(zip(("ours_rows_per_s", "onnx_rows_per_s", "ratio"), v, strict=True))
            for k, v in served.items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
