"""
One model trained by two processes: ``distributed=2``
=====================================================

``distributed=N`` starts N ranks with torch's elastic launcher (gloo on
the CPU, here one thread each) and returns the fitted model in this
process. ``batch_size`` is the global batch, split across the ranks, so
without batch norm the fit follows the one-process fit up to float
rounding. Batch norm (in the defaults) normalises each rank's share of a
batch with that share's statistics, and its running statistics are
averaged over the ranks after each epoch: such a fit follows the
one-process fit closely, not to the last bit.
"""

# %%
import numpy as np
from sklearn.datasets import load_digits

from sk_autoencoder import AutoencoderTransformer
from sk_autoencoder.networks import MLPNetwork

X = (load_digits().data / 16.0).astype(np.float32)
settings = dict(
    network=MLPNetwork(batch_norm=False), max_iter=5, batch_size=128, n_threads=1, random_state=0
)

if __name__ == "__main__":  # the ranks are new processes, which import this script
    one = AutoencoderTransformer(8, **settings).fit(X)
    two = AutoencoderTransformer(8, distributed=2, **settings).fit(X)
    print("one process:", np.round(one.loss_curve_, 5))
    print("two ranks:  ", np.round(two.loss_curve_, 5))
    gap = max(
        float((a - b).abs().max())
        for a, b in zip(
            one.net_.module_.state_dict().values(),
            two.net_.module_.state_dict().values(),
            strict=True,
        )
    )
    print(f"largest weight difference: {gap:.1e}")
