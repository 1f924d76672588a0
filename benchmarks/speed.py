"""``python -m benchmarks.speed``: training and inference speed, and memory.

In one process, alternating the contenders and repeating, it prints medians
and ratios for:

1. ``AutoencoderTransformer.fit`` against a hand-written PyTorch loop on the
   same module (preloaded tensor, randperm slicing, default Adam, MSE), same
   epochs, batch size and learning rate: (a) digits with a 64-32-8 net,
   (b) MNIST 5k with a 784-512-128-32 net; the estimator also runs with
   default (unfused) Adam, like for like with the loop;
2. the training FLOP rate on (b) against float32 matmul peak measured here;
3. ``transform`` throughput against a raw ``torch.no_grad()`` encoder forward;
4. peak resident memory of ``fit`` and ``transform`` on a 1,000,000 x 64
   float32 array, each in a fresh subprocess, above what was resident with
   the array loaded (Linux: the peak is reset through /proc/self/clear_refs).
"""

import argparse
import json
import statistics
import subprocess
import sys
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from sk_autoencoder import AutoencoderTransformer, MLPAutoencoder
from sk_autoencoder import _base as sk_base
from sk_autoencoder.networks import MLPNetwork

from . import _data
from ._timing import timed

CASES = {
    "digits 64-32-8": dict(dataset="digits", hidden=(32,), k=8, epochs=60),
    "mnist 784-512-128-32": dict(dataset="mnist", hidden=(512, 128), k=32, epochs=8),
}
BATCH_SIZE = 256
LR = 1e-3


def hand_written_fit(X, hidden, k, epochs, batch_size=BATCH_SIZE, seed=0):
    """The loop a PyTorch user would write for the same model."""
    torch.manual_seed(seed)
    model = MLPAutoencoder(X.shape[1], k, hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.MSELoss()
    X = torch.as_tensor(X)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(X))
        for start in range(0, len(X), batch_size):
            xb = X[perm[start : start + batch_size]]
            optimizer.zero_grad()
            loss = loss_fn(model(xb), xb)
            loss.backward()
            optimizer.step()
    return model


def estimator_fit(X, hidden, k, epochs, batch_size=BATCH_SIZE, seed=0):
    # Like for like with the loop: a plain ReLU MLP from a random start,
    # whatever the estimator's defaults are.
    ae = AutoencoderTransformer(
        k,
        network=MLPNetwork(hidden, activation="relu", batch_norm=False),
        init="random",
        early_stopping=False,
        batch_size=batch_size,
        learning_rate_init=LR,
        learning_rate="constant",  # as the hand-written loop
        alpha=0.0,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ae.fit(X)


def estimator_fit_unfused(X, hidden, k, epochs, batch_size=BATCH_SIZE, seed=0):
    """The estimator with default (unfused) Adam: like for like with the loop."""
    with mock.patch.object(sk_base, "_fused_adam", lambda device: False):
        return estimator_fit(X, hidden, k, epochs, batch_size, seed)


def matmul_peak(n=2048, repeats=10):
    """Best float32 GFLOP/s of an n x n matmul on this machine."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = 0.0
    for _ in range(repeats):
        _, seconds = timed(torch.mm, a, b)
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def compare_fit(repeats):
    rows = {}
    for name, case in CASES.items():
        X, _ = _data.load(case["dataset"])
        X_train = _data.split(X, _)[0]
        args = (X_train, case["hidden"], case["k"], case["epochs"])
        estimator_fit(*args[:3], 1)  # warm-up: imports, allocator, threads
        contenders = [
            ("estimator", estimator_fit),
            ("unfused", estimator_fit_unfused),
            ("hand-written", hand_written_fit),
        ]
        times = {label: [] for label, _ in contenders}
        for r in range(repeats):
            # Rotate the order so that no contender always runs first.
            for label, fn in contenders[r % 3 :] + contenders[: r % 3]:
                times[label].append(timed(fn, *args)[1])
        med = {label: statistics.median(t) for label, t in times.items()}
        params = n_params(MLPAutoencoder(X.shape[1], case["k"], case["hidden"]))
        gflop = 6 * params * len(X_train) * case["epochs"] / 1e9
        rows[name] = {
            "epochs": case["epochs"],
            "n_train": len(X_train),
            "params": params,
            "estimator_s": med["estimator"],
            "hand_written_s": med["hand-written"],
            "ratio": med["estimator"] / med["hand-written"],
            "unfused_ratio": med["unfused"] / med["hand-written"],
            "estimator_gflops": gflop / med["estimator"],
            "hand_written_gflops": gflop / med["hand-written"],
        }
    return rows


def compare_transform(repeats):
    X, y = _data.load("mnist")
    X = np.tile(X, (4, 1))  # 20,000 rows
    case = CASES["mnist 784-512-128-32"]
    ae = estimator_fit(X[:2000], case["hidden"], case["k"], 1)
    encoder = ae.net_.module_.encoder

    def raw():
        with torch.no_grad():
            return encoder(torch.from_numpy(X)).numpy()

    times = {"transform": [], "raw encoder": []}
    for r in range(repeats):
        order = [("transform", lambda: ae.transform(X)), ("raw encoder", raw)]
        for label, fn in order if r % 2 == 0 else order[::-1]:
            times[label].append(timed(fn)[1])
    med = {label: len(X) / statistics.median(t) for label, t in times.items()}
    return {
        "rows": len(X),
        "transform_rows_per_s": med["transform"],
        "raw_rows_per_s": med["raw encoder"],
        "ratio": med["transform"] / med["raw encoder"],
    }


_MEMORY_SCRIPT = """
import sys, warnings, numpy as np
from sk_autoencoder import AutoencoderTransformer
from sk_autoencoder.networks import MLPNetwork

def status_kb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

warnings.simplefilter("ignore")
ae = AutoencoderTransformer(8, network=MLPNetwork((32,)), max_iter=1, random_state=0)
ae.fit(np.random.default_rng(1).random((1000, 64), dtype=np.float32))
X = np.empty((1_000_000, 64), dtype=np.float32)
np.random.default_rng(0).random(dtype=np.float32, out=X)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current resident size
before = status_kb("VmRSS")
if sys.argv[1] == "fit":
    ae.fit(X)
else:
    Z = ae.transform(X)
print((status_kb("VmHWM") - before) / 1024)
"""


def compare_memory():
    data_mb = 1_000_000 * 64 * 4 / 2**20
    rows = {"data_mb": data_mb}
    for step in ("fit", "transform"):
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_SCRIPT, step], capture_output=True, text=True, check=True
        )
        rows[f"{step}_extra_mb"] = float(out.stdout.strip())
    rows["codes_mb"] = 1_000_000 * 8 * 4 / 2**20
    return rows


def compare_compile(epochs=8):
    """Hand-written loop on (b), eager against ``torch.compile``; compile time apart."""
    X, y = _data.load("mnist")
    X = torch.as_tensor(_data.split(X, y)[0])
    case = CASES["mnist 784-512-128-32"]

    def run(model, forward, n_epochs):
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        for _ in range(n_epochs):
            perm = torch.randperm(len(X))
            for start in range(0, len(X), BATCH_SIZE):
                xb = X[perm[start : start + BATCH_SIZE]]
                optimizer.zero_grad()
                torch.nn.functional.mse_loss(forward(xb), xb).backward()
                optimizer.step()

    eager = MLPAutoencoder(784, case["k"], case["hidden"])
    compiled = MLPAutoencoder(784, case["k"], case["hidden"])
    forward = torch.compile(compiled)
    first_s = timed(run, compiled, forward, 1)[1]
    eager_s = timed(run, eager, eager, epochs)[1]
    compiled_s = timed(run, compiled, forward, epochs)[1]
    return {
        "first_epoch_with_compile_s": first_s,
        "eager_s": eager_s,
        "compiled_s": compiled_s,
        "epochs": epochs,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile on (b)")
    args = parser.parse_args(argv)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    peak = matmul_peak()
    print(f"float32 matmul peak (2048^3): {peak:.1f} GFLOP/s\n")
    fit_rows = compare_fit(args.repeats)
    print(
        "| case | epochs | fit s | hand-written s | fit / hand-written "
        "| same, unfused Adam | fit GFLOP/s | of peak |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in fit_rows.items():
        share = r["estimator_gflops"] / peak
        print(
            f"| {name} | {r['epochs']} | {r['estimator_s']:.2f} | {r['hand_written_s']:.2f} "
            f"| {r['ratio']:.3f} | {r['unfused_ratio']:.3f} | {r['estimator_gflops']:.1f} "
            f"| {share:.0%} |"
        )
    tr = compare_transform(args.repeats)
    print(
        f"\ntransform: {tr['transform_rows_per_s']:,.0f} rows/s, raw encoder "
        f"{tr['raw_rows_per_s']:,.0f} rows/s, ratio {tr['ratio']:.3f} ({tr['rows']:,} MNIST rows)"
    )
    mem = compare_memory()
    print(
        f"memory on 1,000,000 x 64 float32 ({mem['data_mb']:.0f} MB): "
        f"fit +{mem['fit_extra_mb']:.0f} MB, transform +{mem['transform_extra_mb']:.0f} MB "
        f"(codes alone {mem['codes_mb']:.0f} MB)"
    )
    figures = {"matmul_peak_gflops": peak, "fit": fit_rows, "transform": tr, "memory": mem}
    if args.compile:
        comp = figures["compile"] = compare_compile()
        print(
            f"torch.compile on (b): first epoch {comp['first_epoch_with_compile_s']:.1f} s "
            f"(compiling), then {comp['epochs']} epochs {comp['compiled_s']:.2f} s vs eager "
            f"{comp['eager_s']:.2f} s (ratio {comp['compiled_s'] / comp['eager_s']:.3f})"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
