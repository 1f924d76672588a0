"""Test-session setup shared by tests/ and the doctests."""

import os

# scikit-learn runs its array-API check (dispatch enabled, NumPy inputs) only
# when SciPy was imported with this set; set it before anything imports SciPy.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# The user guide's code blocks are doctests (--doctest-glob); the site's
# configuration and build outputs are not tests.
collect_ignore = ["doc/conf.py"]
collect_ignore_glob = ["doc/_build/*", "doc/generated/*", "doc/auto_examples/*"]
