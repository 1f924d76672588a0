"""Benchmarks for sk_autoencoder: ``python -m benchmarks`` (AE vs PCA) and
``python -m benchmarks.speed`` (training and inference speed)."""
