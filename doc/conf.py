"""Sphinx configuration of the sk_autoencoder documentation.

Builds offline: intersphinx (links into numpy, scikit-learn, torch, skorch)
is off unless SK_AUTOENCODER_INTERSPHINX=1, and with it off the nitpicky
warnings about those projects' names are ignored. Nothing is fetched at
view time either: no version switcher, no MathJax, no binder links.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # examples import benchmarks' helpers, the package is installed

import sk_autoencoder  # noqa: E402

project = "sk_autoencoder"
author = "the sk_autoencoder developers"
copyright = "2026, the sk_autoencoder developers"
release = version = sk_autoencoder.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinx_design",
    "sphinx_copybutton",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/backreferences/*.examples.new"]
root_doc = "index"
nitpicky = True

autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# Offline unless asked: the build must not need the network.
if os.environ.get("SK_AUTOENCODER_INTERSPHINX") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://pytorch.org/docs/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    }
    nitpick_ignore_regex = []
else:
    intersphinx_mapping = {}
    # References into other projects cannot resolve offline.
    nitpick_ignore_regex = [
        ("py:.*", r"(numpy|np|sklearn|torch|skorch|dask|distributed|onnx|zarr|h5py)\b.*"),
        (
            "py:.*",
            r"(array-like|ndarray|int|float|str|bool|callable|optional|default|"
            r"path-like|dict|list|tuple|sequence|object|None|instance|of|shape|or)\b.*",
        ),
        ("py:class", r".*\.(Module|Tensor|Generator|Client|ModelProto|Path|NeuralNet)"),
    ]

html_theme = "pydata_sphinx_theme"
html_title = "sk_autoencoder"
html_theme_options = {
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "show_version_warning_banner": False,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path = []
html_show_sourcelink = False
# Sphinx adds MathJax (from its CDN) only to pages with math, and these have
# none: the built pages load no remote script (tests/test_docs.py checks).

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("sk_autoencoder",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sk_autoencoder": None},
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "min_reported_time": 0,
    "download_all_examples": False,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    "plot_gallery": "True",
    # Its timings page loads jQuery and DataTables from CDNs; each example's
    # page says its own run time.
    "write_computation_times": False,
}

copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
