"""
Data larger than memory: a streamed fit from a memmap
=====================================================

A NumPy memmap (like a zarr array, an h5py dataset or a dask array) is
never read whole: ``fit`` reads it in row chunks of ``chunk_size``,
validates each chunk as it is read and shuffles within a bounded buffer;
``transform`` fills its output chunk by chunk. When the whole array is
one chunk, the streamed fit is the in-memory fit, bit for bit.
"""

# %%
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from sk_autoencoder import AutoencoderTransformer

X = (load_digits().data / 16.0).astype(np.float32)
folder = Path(tempfile.mkdtemp())
np.save(folder / "digits.npy", X)
on_disk = np.load(folder / "digits.npy", mmap_mode="r")

streamed = AutoencoderTransformer(8, chunk_size=256, random_state=0).fit(on_disk)
Z = streamed.transform(on_disk)
print(type(on_disk).__name__, on_disk.shape, "->", Z.shape, Z.dtype)

# %%
# One chunk holding every row: the same batches, the same model.
one_chunk = AutoencoderTransformer(8, chunk_size=len(X), random_state=0).fit(on_disk)
in_memory = AutoencoderTransformer(8, random_state=0).fit(X)
print("bitwise equal:", np.array_equal(one_chunk.transform(X), in_memory.transform(X)))

# %%
# Bad values are found in the chunk that holds them, named by row.
bad = np.lib.format.open_memmap(folder / "bad.npy", "w+", np.float32, X.shape)
bad[:] = X
bad[1500, 7] = np.nan
bad.flush()
try:
    AutoencoderTransformer(8, chunk_size=256).fit(np.load(folder / "bad.npy", mmap_mode="r"))
except ValueError as error:
    print(error)
