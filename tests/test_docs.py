"""The documentation: API coverage, numpydoc validation, and the built site.

The user guide's code blocks are doctests that pytest runs from ``doc/``
(``--doctest-glob``). The checks of the built HTML need ``make -C doc
html`` first; ``.ci/run`` builds the site before it runs the tests.
"""

import html.parser
import importlib
import inspect
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

import sk_autoencoder
import sk_autoencoder.networks

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "doc"
BUILT = DOC / "_build" / "html"
PUBLIC = {
    "sk_autoencoder": sk_autoencoder.__all__,
    "sk_autoencoder.networks": sk_autoencoder.networks.__all__,
}

# numpydoc checks left out, with the reason:
IGNORED = {
    "GL08",  # an object without a docstring: only inherited torch/skorch methods, checked below
    "ES01",  # no extended summary: short methods are fully described by their summary
    "SA01",  # no See Also section: required only where a related name helps
    "EX01",  # no Examples section: the classes and functions have them, methods not always
    "RT02",  # the first line of Returns is a type only: numpydoc's rule fights "name : type"
    "PR02",  # unknown parameters: *args/**kwargs forwarded to skorch and torch
}


def _api_names():
    text = (DOC / "api.rst").read_text()
    return set(re.findall(r"^   (\w+)$", text, flags=re.MULTILINE))


def test_every_public_name_is_in_the_api_reference():
    """Check that api.rst lists every name of every __all__."""
    listed = _api_names()
    missing = sorted(n for names in PUBLIC.values() for n in names if n not in listed)
    assert missing == []


# skorch nets and torch modules: their public methods are skorch's or torch's.
_NOT_OURS = (
    "AutoencoderNet",
    "VariationalNet",
    "MLPAutoencoder",
    "VariationalMLPAutoencoder",
    "ConvAutoencoder",
)


def _documented_objects():
    """Public classes and functions, and the public methods they define themselves."""
    for module_name, names in PUBLIC.items():
        module = importlib.import_module(module_name)
        for name in names:
            obj = getattr(module, name)
            yield f"{module_name}.{name}"
            if not inspect.isclass(obj) or name in _NOT_OURS:
                continue
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not callable(member):
                    continue
                yield f"{module_name}.{name}.{attr}"


@pytest.mark.parametrize("name", sorted(set(_documented_objects())))
def test_docstrings_pass_numpydoc_validation(name):
    """Check each public docstring against numpydoc's rules (imbalanced-learn's practice)."""
    validate = pytest.importorskip("numpydoc.validate", reason="numpydoc is in the docs extra")
    result = validate.validate(name)
    errors = [(code, message) for code, message in result["errors"] if code not in IGNORED]
    assert errors == []


built = pytest.mark.skipif(
    not (BUILT / "index.html").exists(),
    reason="the site is not built here; .ci/run builds it (make -C doc html) before the tests",
)


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.resources, self.images, self.ids = [], [], [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
            self.resources.append(attrs["src"])
        if tag == "script" and attrs.get("src"):
            self.resources.append(attrs["src"])
        if tag == "link" and attrs.get("href") and attrs.get("rel") != ["canonical"]:
            self.resources.append(attrs["href"])


def _parse(path):
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@built
def test_every_api_name_has_a_built_page():
    """Check one generated page per public name."""
    for module_name, names in PUBLIC.items():
        for name in names:
            assert (BUILT / "generated" / f"{module_name}.{name}.html").exists(), name


@built
def test_every_gallery_example_ran_and_shows_its_output():
    """Check a page per example, with its figures (or printed output) rendered."""
    examples = sorted((ROOT / "examples").glob("plot_*.py"))
    assert len(examples) >= 8
    for script in examples:
        page = BUILT / "auto_examples" / f"{script.stem}.html"
        assert page.exists(), script.name
        parsed = _parse(page)
        text = page.read_text(encoding="utf-8")
        figures = [src for src in parsed.images if "sphx_glr_" in src]
        assert figures or "sphx-glr-script-out" in text, f"{script.name} shows nothing"
        for src in figures:
            assert (page.parent / unquote(src)).resolve().exists(), f"{script.name}: {src}"


@built
def test_internal_links_resolve_and_nothing_is_fetched_from_elsewhere():
    """Check every relative link and anchor, and that pages load no remote resource."""
    pages = sorted(BUILT.rglob("*.html"))
    parsed = {page: _parse(page) for page in pages}
    broken, remote = [], []
    for page, links in parsed.items():
        for resource in links.resources:
            if urlparse(resource).scheme in ("http", "https") or resource.startswith("//"):
                remote.append(f"{page.relative_to(BUILT)}: {resource}")
        for href in links.links:
            url = urlparse(href)
            if url.scheme or href.startswith(("mailto:", "//")):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(BUILT)} -> {href}")
            elif url.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(url.fragment) not in ids:
                    broken.append(f"{page.relative_to(BUILT)} -> {href} (no such anchor)")
    assert remote == []
    assert broken == []
