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
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from gendiv.io import atomic_open  # noqa: E402


def project(
    real: np.ndarray, others: dict[str, np.ndarray], method: str, seed: int
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """2-D points: (real projected alone, {name: (real, set)} per panel)."""
    if method == "pca":
        pca = PCA(n_components=2, random_state=seed).fit(real)
        real_xy = pca.transform(real)
        return real_xy, {name: (real_xy, pca.transform(x)) for name, x in others.items()}
    if method == "tsne":
        panels = {}
        for name, x in others.items():
            both = np.vstack([real, x])
            xy = TSNE(
                n_components=2, init="pca", random_state=seed, perplexity=min(30.0, (len(both) - 1) / 3)
            ).fit_transform(both)
            panels[name] = (xy[: len(real)], xy[len(real) :])
        return PCA(n_components=2, random_state=seed).fit_transform(real), panels
    raise ValueError(f"measure.map_method = {method!r}: expected pca or tsne")


def draw_maps(path: Path, panels: dict[str, tuple[np.ndarray, np.ndarray]], title: str) -> None:
    """One scatter panel per set (orange) over the real sample (blue), saved as PNG."""
    names = list(panels)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        real_xy, set_xy = panels[name]
        ax.scatter(real_xy[:, 0], real_xy[:, 1], s=4, alpha=0.5, c="tab:blue", label="real")
        ax.scatter(set_xy[:, 0], set_xy[:, 1], s=4, alpha=0.5, c="tab:orange", label=name)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes.flat[0].legend(loc="best", fontsize=7, markerscale=3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
