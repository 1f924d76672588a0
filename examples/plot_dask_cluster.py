"""
Searches and inference on a dask cluster
========================================

Through joblib's dask backend, a grid search sends its fits to the
workers of a ``dask.distributed`` cluster (a local one here; the same code
takes ``Client("tcp://scheduler:8786")``). A dask array's ``transform``
is a lazy graph computed block by block on the workers, with the fitted
model shipped to each worker once.
"""

# %%
import dask.array as da
import joblib
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from sk_autoencoder import AutoencoderTransformer

X = load_digits().data / 16.0
cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
client = Client(cluster)

search = GridSearchCV(
    AutoencoderTransformer(random_state=0, n_threads=1), {"n_components": [4, 8]}, cv=3
)
with joblib.parallel_config(backend="dask"):
    search.fit(X)
print("best:", search.best_params_, f"score {search.best_score_:.4f}")

# %%
Xd = da.from_array(X, chunks=(450, 64))
Zd = search.best_estimator_.transform(Xd)  # lazy, one block per row chunk
print(Zd)
print(Zd.compute().shape)

client.close()
cluster.close()
