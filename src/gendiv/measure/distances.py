"""Embedding-based distribution distances and diversity scores.

Distances between a set X and the real training set Y (paper table 2 names none):
  mmd2_rbf   unbiased estimate of the squared maximum mean discrepancy (Gretton et al.,
             2012) with a Gaussian kernel whose bandwidth is the median pairwise distance
             of the pooled samples (median heuristic); 0 in expectation when X ~ Y.
  frechet    Frechet (2-Wasserstein) distance between Gaussians fitted to X and Y,
             |mu_x - mu_y|^2 + Tr(S_x + S_y - 2 (S_x S_y)^1/2), as in FID.
Diversity of one set (embeddings L2-normalised, so the kernel is the cosine similarity):
  dcscore    DCScore (Zhu et al., ICML 2025): each sample is its own class; the trace of
             the row-wise softmax of the similarity matrix (divided by a temperature),
             between 1 (all samples alike) and n (all distinguishable).
  vendi      Vendi score (Friedman & Dieng, 2023): exp of the Shannon entropy of the
             eigenvalues of K/n; the effective number of distinct samples, 1..n.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.spatial.distance import pdist
from scipy.special import logsumexp


def _as_matrix(x: np.ndarray, name: str, min_rows: int) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] < min_rows:
        raise ValueError(f"{name}: needs a 2-D array of at least {min_rows} rows, got shape {x.shape}")
    return x


def median_bandwidth(z: np.ndarray) -> float:
    """Median pairwise Euclidean distance (the median heuristic); 1.0 if all points coincide."""
    distances = pdist(_as_matrix(z, "median_bandwidth", 2))
    median = float(np.median(distances))
    return median if median > 0 else 1.0


def mmd2_rbf(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None) -> tuple[float, float]:
    """(unbiased squared MMD with k(a, b) = exp(-|a-b|^2 / (2 s^2)), the bandwidth s used)."""
    x, y = _as_matrix(x, "mmd2_rbf x", 2), _as_matrix(y, "mmd2_rbf y", 2)
    s = median_bandwidth(np.vstack([x, y])) if bandwidth is None else float(bandwidth)

    def kernel(a, b):
        sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.exp(-np.maximum(sq, 0.0) / (2.0 * s * s))

    n, m = len(x), len(y)
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    within_x = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * kxy.mean()), s


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Frechet distance between the Gaussians N(mean, covariance) of x and of y."""
    x, y = _as_matrix(x, "frechet x", 2), _as_matrix(y, "frechet y", 2)
    mu_x, mu_y = x.mean(0), y.mean(0)
    cov_x, cov_y = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    root = linalg.sqrtm(cov_x @ cov_y)
    if not np.isfinite(root).all():  # singular product: nudge both covariances
        eps = 1e-6 * np.eye(len(cov_x))
        root = linalg.sqrtm((cov_x + eps) @ (cov_y + eps))
    root = np.real(root)
    value = float(((mu_x - mu_y) ** 2).sum() + np.trace(cov_x) + np.trace(cov_y) - 2.0 * np.trace(root))
    return max(value, 0.0)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def dcscore(x: np.ndarray, temperature: float = 1.0, chunk: int = 2048) -> float:
    """DCScore: sum over samples of the softmax probability of classifying a sample as itself."""
    x = _unit_rows(_as_matrix(x, "dcscore", 1))
    total = 0.0
    for start in range(0, len(x), chunk):
        logits = x[start:start + chunk] @ x.T / temperature
        rows = np.arange(len(logits))
        total += float(np.exp(logits[rows, start + rows] - logsumexp(logits, axis=1)).sum())
    return total


def vendi_score(x: np.ndarray) -> float:
    """Vendi score with the cosine kernel; eigenvalues of X^T X / n equal those of K / n."""
    x = _unit_rows(_as_matrix(x, "vendi_score", 1))
    eigenvalues = np.linalg.eigvalsh(x.T @ x / len(x))  # they sum to 1: unit rows
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    return float(np.exp(-(eigenvalues * np.log(eigenvalues)).sum()))


def subsample(n_rows: int, size: int, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded draw of `size` rows without replacement (all rows if fewer)."""
    if n_rows <= size:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size, replace=False))
