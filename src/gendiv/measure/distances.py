"""Embedding-based distribution distances and diversity scores.

Distances between a set X and the real training set Y (paper table 2 names none):
  mmd2_rbf   unbiased estimate of the squared maximum mean discrepancy (Gretton et al.,
             2012) with a Gaussian kernel whose bandwidth is the median pairwise distance
             of the pooled samples (median heuristic); 0 in expectation when X ~ Y.
  frechet    Frechet (2-Wasserstein) distance between Gaussians fitted to X and Y,
             |mu_x - mu_y|^2 + Tr(S_x + S_y - 2 (S_x S_y)^1/2), as in FID.
  mmd2_null  the unbiased MMD^2 of random relabelings of the pooled rows: the null
             distribution of a permutation test of "X and Y come from one distribution".
Diversity of one set (embeddings L2-normalised, so the kernel is the cosine similarity):
  dcscore    DCScore (Zhu et al., ICML 2025): each sample is its own class; the trace of
             the row-wise softmax of the similarity matrix (divided by a temperature),
             between 1 (all samples alike) and n (all distinguishable).
  vendi      Vendi score (Friedman & Dieng, 2023): exp of the Shannon entropy of the
             eigenvalues of K/n; the effective number of distinct samples, 1..n.
  mean_pairwise_distance  mean cosine distance 1 - cos(a, b) over all pairs of samples.
"""

from __future__ import annotations

import numpy as np
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


def _rbf(a: np.ndarray, b: np.ndarray, s: float) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.exp(-np.maximum(sq, 0.0) / (2.0 * s * s))


def mmd2_rbf(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None) -> tuple[float, float]:
    """(unbiased squared MMD with k(a, b) = exp(-|a-b|^2 / (2 s^2)), the bandwidth s used)."""
    x, y = _as_matrix(x, "mmd2_rbf x", 2), _as_matrix(y, "mmd2_rbf y", 2)
    s = median_bandwidth(np.vstack([x, y])) if bandwidth is None else float(bandwidth)
    n, m = len(x), len(y)
    kxx, kyy, kxy = _rbf(x, x, s), _rbf(y, y, s), _rbf(x, y, s)
    within_x = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * kxy.mean()), s


def mmd2_null(
    x: np.ndarray, y: np.ndarray, bandwidth: float, permutations: int, rng: np.random.Generator
) -> np.ndarray:
    """Unbiased MMD^2 (as `mmd2_rbf`) of `permutations` random splits of the pooled rows into
    groups of len(x) and len(y): one pooled kernel, every split at once as 0/1 weights."""
    x, y = _as_matrix(x, "mmd2_null x", 2), _as_matrix(y, "mmd2_null y", 2)
    z = np.vstack([x, y])
    n, m = len(x), len(y)
    k = _rbf(z, z, float(bandwidth))
    in_x = np.zeros((permutations, n + m))
    for row in in_x:
        row[rng.permutation(n + m)[:n]] = 1.0
    # with in_y = 1 - in_x, every sum follows from the one product in_x @ k (k symmetric)
    kx, total, diag = in_x @ k, k.sum(), np.diag(k)
    xx = (kx * in_x).sum(1)
    xy = kx.sum(1) - xx
    yy = total - xx - 2.0 * xy  # all pairs = x-x + 2 x-y + y-y
    within_x = (xx - in_x @ diag) / (n * (n - 1))
    within_y = (yy - (diag.sum() - in_x @ diag)) / (m * (m - 1))
    return within_x + within_y - 2.0 * xy / (n * m)


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Frechet distance between the Gaussians N(mean, covariance) of x and of y.

    Tr (S_x S_y)^1/2 is the nuclear norm of A B^T (S_x = A^T A, S_y = B^T B with A, B the
    centred rows over sqrt(n - 1)), taken through QR factors: exact and fast even when
    there are fewer samples than dimensions (singular covariances), with no matrix root.
    """
    x, y = _as_matrix(x, "frechet x", 2), _as_matrix(y, "frechet y", 2)
    a = (x - x.mean(0)) / np.sqrt(len(x) - 1)
    b = (y - y.mean(0)) / np.sqrt(len(y) - 1)
    cross = np.linalg.qr(a, mode="r") @ np.linalg.qr(b, mode="r").T
    root_trace = np.linalg.svd(cross, compute_uv=False).sum()
    value = float(((x.mean(0) - y.mean(0)) ** 2).sum() + (a * a).sum() + (b * b).sum() - 2.0 * root_trace)
    return max(value, 0.0)


def unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def dcscore(x: np.ndarray, temperature: float = 1.0, chunk: int = 2048) -> float:
    """DCScore: sum over samples of the softmax probability of classifying a sample as itself."""
    x = unit_rows(_as_matrix(x, "dcscore", 1))
    total = 0.0
    for start in range(0, len(x), chunk):
        logits = x[start : start + chunk] @ x.T / temperature
        rows = np.arange(len(logits))
        total += float(np.exp(logits[rows, start + rows] - logsumexp(logits, axis=1)).sum())
    return total


def vendi_score(x: np.ndarray) -> float:
    """Vendi score with the cosine kernel; K / n = X X^T / n and X^T X / n share their nonzero
    eigenvalues, so the smaller of the two is decomposed."""
    x = unit_rows(_as_matrix(x, "vendi_score", 1))
    gram = x @ x.T if len(x) < x.shape[1] else x.T @ x
    eigenvalues = np.linalg.eigvalsh(gram / len(x))  # they sum to 1: unit rows
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    return float(np.exp(-(eigenvalues * np.log(eigenvalues)).sum()))


def mean_pairwise_distance(x: np.ndarray) -> float:
    """Mean of 1 - cos(a, b) over all pairs a != b, from the sum of the unit rows:
    |sum x|^2 = n + 2 * (sum of the pairs' cosines)."""
    x = unit_rows(_as_matrix(x, "mean_pairwise_distance", 2))
    n, total = len(x), x.sum(0)
    return float(1.0 - (total @ total - (x * x).sum()) / (n * (n - 1)))


def subsample(n_rows: int, size: int, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded draw of `size` rows without replacement (all rows if fewer)."""
    if n_rows <= size:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size, replace=False))
