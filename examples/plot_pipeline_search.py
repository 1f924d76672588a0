"""
A feature step in a pipeline, tuned by a labelled grid search
=============================================================

``AutoencoderTransformer`` stands where ``PCA`` stands: here between a
scaler and a classifier, with ``GridSearchCV`` choosing the code size by
the classifier's accuracy.
"""

# %%
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import AutoencoderTransformer

X, y = load_digits(return_X_y=True)
pipe = make_pipeline(
    StandardScaler(),
    AutoencoderTransformer(random_state=0),
    LogisticRegression(max_iter=1000),
)
search = GridSearchCV(
    pipe, {"autoencodertransformer__n_components": [4, 8, 16]}, cv=3, n_jobs=2
).fit(X, y)

results = pd.DataFrame(search.cv_results_)
print(results[["param_autoencodertransformer__n_components", "mean_test_score"]])
print("best:", search.best_params_)

# %%
# The refitted pipeline is an ordinary scikit-learn estimator.
print(search.best_estimator_.predict(X[:10]), y[:10])
