"""2-D maps of a set's embeddings against the real set's (paper fig. 4, right).

pca: one projection fitted on the real sample, so every panel shares the real set's
frame and clusters compare across panels. tsne: fitted per panel on real + set jointly
(its axes mean nothing across panels). Both are deterministic for a seed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from gendiv.figure_file import save_png  # noqa: E402

Panels = dict[str, tuple[np.ndarray, np.ndarray]]  # set name -> (real points, the set's points)


def project(
    real: np.ndarray, others: dict[str, np.ndarray], method: str, seed: int
) -> tuple[np.ndarray, Panels, tuple[str, str]]:
    """2-D points: (real projected alone, {name: (real, set)} per panel, the two axes' labels)."""
    if method == "pca":
        pca = PCA(n_components=2, random_state=seed).fit(real)
        real_xy = pca.transform(real)
        labels = tuple(
            f"PC{i + 1} of the real sample ({share:.0%} of its variance)"
            for i, share in enumerate(pca.explained_variance_ratio_)
        )
        return real_xy, {name: (real_xy, pca.transform(x)) for name, x in others.items()}, labels
    if method == "tsne":
        panels = {}
        for name, x in others.items():
            both = np.vstack([real, x])
            xy = TSNE(
                n_components=2, init="pca", random_state=seed, perplexity=min(30.0, (len(both) - 1) / 3)
            ).fit_transform(both)
            panels[name] = (xy[: len(real)], xy[len(real) :])
        labels = ("t-SNE 1 (fitted per panel)", "t-SNE 2 (fitted per panel)")
        return PCA(n_components=2, random_state=seed).fit_transform(real), panels, labels
    raise ValueError(f"measure.map_method = {method!r}: expected pca or tsne")


def draw_maps(path: Path, panels: Panels, title: str, axis_labels: tuple[str, str]) -> None:
    """One scatter panel per set (orange) over the real sample (blue), one legend, saved as PNG."""
    names = list(panels)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(max(3.4 * cols, 5.0) + 2.4, 3.0 * rows + 1.0), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        real_xy, set_xy = panels[name]
        ax.scatter(real_xy[:, 0], real_xy[:, 1], s=6, alpha=0.5, c="tab:blue")
        ax.scatter(set_xy[:, 0], set_xy[:, 1], s=6, alpha=0.6, c="tab:orange")
        ax.set_title(f"{name} ({len(set_xy)} points)", fontsize=9)
        ax.tick_params(labelsize=7)
    n_real = len(next(iter(panels.values()))[0])
    handles = [
        Line2D([], [], marker="o", linestyle="", color="tab:blue", label=f"real training sample\n({n_real} points)"),
        Line2D([], [], marker="o", linestyle="", color="tab:orange", label="the panel's set\n(count in its title)"),
    ]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.supxlabel(axis_labels[0], fontsize=8)
    fig.supylabel(axis_labels[1], fontsize=8)
    points = {"real": n_real, **{name: len(panels[name][1]) for name in names}}
    save_png(fig, path, {"points": points, "axes": list(axis_labels)})
