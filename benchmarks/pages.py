"""``python -m benchmarks.pages``: the tables of the README and the docs, from the results.

Each table lives in its page between two marker comments (``<!-- NAME -->``
and ``<!-- /NAME -->`` in Markdown, ``.. NAME`` and ``.. /NAME`` in
reStructuredText) and is rendered from ``benchmarks/results/summary.csv``;
this command rewrites them in place, and ``--check`` exits non-zero when a
committed page differs from what the results give (the test suite runs it).
"""

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

from . import compare

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = ROOT / "benchmarks" / "results" / "summary.csv"

# The README's headline rows: (dataset, k, label).
HEADLINE = [
    ("mnist", 32, "MNIST-5k"),
    ("digits", 8, "digits"),
    ("breast_cancer", 4, "breast cancer"),
    ("gaussian", 16, "linear-Gaussian"),
]
AUTOENCODERS = ("AE default", "AE recommended", "AE conv")


def _cell(summary, dataset, k, method, column):
    row = summary[(summary.dataset == dataset) & (summary.k == k) & (summary.method == method)]
    return None if row.empty else float(row[column].iloc[0])


def _seconds(value):
    if value is None:
        return "–"
    return f"{value:.2f}" if value < 1 else f"{value:.1f}"


def readme_table(summary):
    """The README's table: held-out error × PCA, and fit seconds, per method."""
    methods = ("PCA", *AUTOENCODERS)
    lines = [
        "| data | k | PCA | AE default | AE recommended (MLP) | AE conv "
        "| fit s: PCA / default / rec. / conv |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset, k, label in HEADLINE:
        ratios = {m: _cell(summary, dataset, k, m, "mse_vs_pca") for m in methods}
        best = min(r for r in ratios.values() if r is not None)
        cells = []
        for method in methods:
            ratio = ratios[method]
            if ratio is None:
                cells.append("(not an image)")
                continue
            text = f"{ratio:.3f}"
            cells.append(f"**{text}**" if f"{ratio:.3f}" == f"{best:.3f}" else text)
        seconds = " / ".join(_seconds(_cell(summary, dataset, k, m, "fit_s_mean")) for m in methods)
        lines.append(f"| {label} | {k} | {' | '.join(cells)} | {seconds} |")
    calls = "; ".join(f"`{method}` is `{compare.CALLS[method]}`" for method in AUTOENCODERS)
    lines += ["", f"Each column is one public call with nothing else set but the seed: {calls}."]
    return "\n".join(lines)


def networks_table(summary):
    """The user guide's conv table: × PCA per method and the conv network's 5-NN and fit time."""
    rows = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - data",
        "     - k",
        "     - defaults × PCA",
        "     - recommended MLP × PCA",
        "     - conv × PCA",
        "     - conv 5-NN accuracy",
        "     - conv fit s",
    ]
    for dataset in ("mnist", "digits"):
        for k in compare.SWEEPS["full"][dataset]:
            values = [
                _cell(summary, dataset, k, "AE default", "mse_vs_pca"),
                _cell(summary, dataset, k, "AE recommended", "mse_vs_pca"),
                _cell(summary, dataset, k, "AE conv", "mse_vs_pca"),
                _cell(summary, dataset, k, "AE conv", "knn_acc_mean"),
            ]
            if any(v is None for v in values):
                continue
            fit = _cell(summary, dataset, k, "AE conv", "fit_s_mean")
            rows.append(f"   * - {dataset}")
            rows.append(f"     - {k}")
            rows.extend(f"     - {v:.3f}" for v in values)
            rows.append(f"     - {fit:.1f}")
    return "\n".join(rows)


# (page, marker, renderer, syntax)
TABLES = [
    ("README.md", "headline", readme_table, "md"),
    ("doc/user_guide/networks.rst", "conv-figures", networks_table, "rst"),
]


def _pattern(marker, syntax):
    if syntax == "md":
        begin, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    else:
        begin, end = f".. {marker}", f".. /{marker}"
    return re.compile(rf"({re.escape(begin)}\n\n)(.*?)(\n\n{re.escape(end)})", re.DOTALL)


def render(text, marker, syntax, table):
    """``text`` with the block between ``marker``'s comments replaced by ``table``."""
    pattern = _pattern(marker, syntax)
    if not pattern.search(text):
        raise ValueError(f"no '{marker}' block between marker comments")
    return pattern.sub(lambda m: m.group(1) + table + m.group(3), text, count=1)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pages", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a diff")
    parser.add_argument("--summary", type=Path, default=SUMMARY)
    args = parser.parse_args(argv)
    summary = pd.read_csv(args.summary)
    stale = []
    for page, marker, renderer, syntax in TABLES:
        path = ROOT / page
        text = path.read_text()
        new = render(text, marker, syntax, renderer(summary))
        if new != text:
            stale.append(page)
            if not args.check:
                path.write_text(new)
        print(f"{page} [{marker}]: {'differs' if new != text else 'up to date'}", file=sys.stderr)
    if args.check and stale:
        raise SystemExit(f"out of date with {args.summary}: {', '.join(stale)}")


if __name__ == "__main__":
    main()
