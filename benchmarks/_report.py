"""Tables, files and plots from the records of :func:`benchmarks.compare.run`."""

import json

import numpy as np
import pandas as pd

FIGURES = ["mse", "sq_error_per_image", "logreg_acc", "knn_acc", "fit_s", "transform_rows_per_s"]


def summarise(records):
    """Mean and standard deviation over seeds, plus the error ratio to PCA.

    Returns a DataFrame indexed by (dataset, k, method) with ``<figure>_mean``
    and ``<figure>_sd`` columns, ``mse_vs_pca`` (mean error / PCA's mean error
    at the same dataset and k) and ``fit_vs_pca`` (mean fit time / PCA's).
    """
    frame = pd.DataFrame.from_records(records)
    grouped = frame.groupby(["dataset", "k", "method"], sort=False)[FIGURES]
    summary = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=0).add_suffix("_sd"))
    pca = summary.xs("PCA", level="method")
    for figure, column in [("mse", "mse_vs_pca"), ("fit_s", "fit_vs_pca")]:
        reference = pca[f"{figure}_mean"].reindex(summary.index.droplevel("method"))
        summary[column] = summary[f"{figure}_mean"].to_numpy() / reference.to_numpy()
    return summary


HEADER = [
    "data",
    "k",
    "method",
    "test MSE (mean ± sd)",
    "× PCA",
    "sq. error / image",
    "LogReg acc",
    "5-NN acc",
    "fit s",
    "× PCA fit",
    "transform rows/s",
]


def table_rows(summary):
    """The displayed table, one list of strings per (dataset, k, method)."""
    rows = []
    for (dataset, k, method), row in summary.iterrows():
        rows.append(
            [
                dataset,
                str(k),
                method,
                f"{row.mse_mean:.5f} ± {row.mse_sd:.5f}",
                f"{row.mse_vs_pca:.2f}",
                f"{row.sq_error_per_image_mean:.2f}",
                f"{row.logreg_acc_mean:.3f}",
                f"{row.knn_acc_mean:.3f}",
                f"{row.fit_s_mean:.2f}",
                f"{row.fit_vs_pca:.0f}",
                f"{row.transform_rows_per_s_mean:,.0f}",
            ]
        )
    return rows


def markdown_table(summary):
    """The summary as a Markdown table (one row per dataset, k and method)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(summary)]
    return "\n".join(lines)


def write_files(records, summary, out, meta):
    """Write results.csv (every run), summary.csv, results.json, summary.md and table.csv.

    ``table.csv`` holds the displayed table (the documentation's
    ``csv-table`` reads it).
    """
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame.from_records(records).to_csv(out / "results.csv", index=False)
    summary.to_csv(out / "summary.csv")
    with open(out / "results.json", "w") as f:
        json.dump({"meta": meta, "records": records}, f, indent=1)
    (out / "summary.md").write_text(markdown_table(summary) + "\n")
    pd.DataFrame(table_rows(summary), columns=HEADER).to_csv(out / "table.csv", index=False)


def save_artefacts(artefacts, path):
    """Write the plots' inputs of :func:`benchmarks.compare.run` to an ``.npz`` file.

    Everything the plots read: each method's first ten test
    reconstructions and its test codes at k=2, and per dataset the first
    ten test rows and the test labels. ``--update`` reads them back with
    :func:`load_artefacts`, so that a partial re-run redraws complete plots.
    No object arrays: the file loads with ``allow_pickle=False``.
    """
    arrays = {}
    for key, value in artefacts.items():
        name = "|".join(map(str, key))
        if key[1] == "recon":
            arrays[name] = value
        else:  # (codes or X_test, labels)
            first, labels = value
            arrays[name + "|X"] = first[:10] if key[1] == "test" else first
            arrays[name + "|y"] = labels
    np.savez_compressed(path, **arrays)


def load_artefacts(path):
    """The artefacts written by :func:`save_artefacts`, keyed as ``compare.run`` keys them."""
    artefacts = {}
    with np.load(path, allow_pickle=False) as stored:
        for name in stored.files:
            parts = name.split("|")
            if parts[1] == "recon":
                artefacts[(parts[0], "recon", parts[2], int(parts[3]))] = stored[name]
            elif parts[-1] == "X":
                key = tuple(parts[:-1])
                artefacts[key] = (stored[name], stored["|".join(parts[:-1] + ["y"])])
    return artefacts


def plot_error_vs_k(summary, path):
    """Held-out MSE against n_components, one panel per dataset, mean ± sd."""
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(summary.index.get_level_values("dataset")))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        part = summary.xs(dataset, level="dataset")
        for method in dict.fromkeys(part.index.get_level_values("method")):
            rows = part.xs(method, level="method")
            ax.errorbar(
                rows.index, rows.mse_mean, yerr=rows.mse_sd, marker="o", capsize=3, label=method
            )
        ax.set(
            xscale="log", yscale="log", xlabel="n_components", ylabel="held-out MSE", title=dataset
        )
        ax.set_xticks(list(part.index.get_level_values("k").unique()))
        ax.xaxis.set_major_formatter(plt.ScalarFormatter())
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reconstructions(X_test, recons, k, path, side=28):
    """Rows of test digits: the originals, then each method's reconstruction."""
    import matplotlib.pyplot as plt

    rows = [("original", X_test[:10])] + [(f"{m} (k={k})", r) for m, r in recons.items()]
    fig, axes = plt.subplots(len(rows), 10, figsize=(10, 1.1 * len(rows)))
    for r, (label, images) in enumerate(rows):
        for c in range(10):
            ax = axes[r, c]
            ax.imshow(np.clip(images[c], 0, 1).reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_codes(codes, path, accuracies):
    """2-D test codes coloured by class, one panel per method."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(codes), figsize=(4.2 * len(codes) + 1, 4.2), squeeze=False, layout="constrained"
    )
    for ax, (method, (Z, y)) in zip(axes[0], codes.items(), strict=True):
        points = ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
        ax.set(title=f"{method}: 5-NN acc {accuracies[method]:.2f}", xticks=[], yticks=[])
    fig.colorbar(points, ax=axes[0].tolist(), ticks=range(10), label="digit")
    fig.savefig(path, dpi=110)
    plt.close(fig)
