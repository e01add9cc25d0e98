"""MMD, Frechet distance, DCScore and Vendi score against closed forms and brute force."""

import numpy as np
import pytest
from scipy.special import softmax

from gendiv.measure.distances import (
    dcscore,
    frechet_distance,
    mean_pairwise_distance,
    median_bandwidth,
    mmd2_null,
    mmd2_rbf,
    subsample,
    vendi_score,
)


def brute_mmd2(x, y, s):
    def k(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * s * s))

    n, m = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    return (kxx.sum() - n) / (n * (n - 1)) + (kyy.sum() - m) / (m * (m - 1)) - 2 * k(x, y).mean()


def test_mmd_matches_brute_force_and_median_heuristic():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), rng.normal(0.5, 1.0, size=(25, 4))
    value, s = mmd2_rbf(x, y)
    z = np.vstack([x, y])
    pairs = [np.linalg.norm(z[i] - z[j]) for i in range(len(z)) for j in range(i + 1, len(z))]
    assert s == pytest.approx(np.median(pairs))
    assert value == pytest.approx(brute_mmd2(x, y, s), rel=1e-9)


def test_mmd_separates_shifted_from_same_distribution():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(200, 8)), rng.normal(size=(200, 8))
    shifted = rng.normal(1.0, 1.0, size=(200, 8))
    same, _ = mmd2_rbf(a, b)
    far, _ = mmd2_rbf(a, shifted)
    assert abs(same) < 0.01
    assert far > 10 * max(abs(same), 1e-3)
    assert median_bandwidth(np.ones((3, 2))) == 1.0  # coincident points: a usable bandwidth


def test_frechet_closed_forms():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 3))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    # 1-D: (mu1 - mu2)^2 + (sigma1 - sigma2)^2 with the sample statistics
    a, b = rng.normal(0, 1, size=(400, 1)), rng.normal(3, 2, size=(400, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    # a shifted copy: only the mean term remains
    assert frechet_distance(x, x + [1.0, 2.0, 0.0]) == pytest.approx(5.0, rel=1e-6)
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(x[:1], x)


class _Identity:
    """A generator whose 'permutation' keeps the order: the unpermuted split."""

    def permutation(self, n):
        return np.arange(n)


def test_mmd_null_relabels_the_pooled_rows():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(9, 3))
    value, s = mmd2_rbf(x, y)
    assert mmd2_null(x, y, s, 2, _Identity()) == pytest.approx([value, value], rel=1e-12)
    null = mmd2_null(x, y, s, 300, np.random.default_rng(0))
    assert null.shape == (300,) and null.min() < 0 < null.max()  # unbiased: scatters around 0
    shifted = rng.normal(2.0, 1.0, size=(9, 3))
    far, s_far = mmd2_rbf(x, shifted)
    assert (mmd2_null(x, shifted, s_far, 300, np.random.default_rng(0)) >= far).sum() == 0


def test_frechet_with_fewer_samples_than_dimensions():
    """Singular covariances: Tr (S_x S_y)^1/2 from the eigenvalues of S_x^1/2 S_y S_x^1/2."""
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(8, 20)), rng.normal(0.5, 2.0, size=(11, 20))
    cx, cy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    w, v = np.linalg.eigh(cx)
    root_x = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = np.clip(np.linalg.eigvalsh(root_x @ cy @ root_x), 0, None)
    expected = ((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(cx) + np.trace(cy) - 2 * np.sqrt(middle).sum()
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-7)  # the reference clips round-off


def test_mean_pairwise_distance_matches_all_pairs():
    x = _unit(np.random.default_rng(7).normal(size=(9, 4)))
    pairs = [1 - x[i] @ x[j] for i in range(9) for j in range(i + 1, 9)]
    assert mean_pairwise_distance(x) == pytest.approx(np.mean(pairs), rel=1e-12)
    assert mean_pairwise_distance(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-12)


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_dcscore_is_the_trace_of_the_row_softmax():
    x = _unit(np.random.default_rng(3).normal(size=(50, 6)))
    for t in (1.0, 0.1):
        expected = np.trace(softmax(x @ x.T / t, axis=1))
        assert dcscore(x, t, chunk=7) == pytest.approx(expected, rel=1e-10)
    assert dcscore(np.ones((10, 4))) == pytest.approx(1.0)  # identical samples: one class
    assert dcscore(np.eye(10), temperature=0.01) == pytest.approx(10.0, rel=1e-6)  # all distinct


def test_vendi_matches_kernel_eigenvalues_and_bounds():
    x = _unit(np.random.default_rng(4).normal(size=(40, 5)))
    eig = np.linalg.eigvalsh(x @ x.T / len(x))
    eig = eig[eig > 1e-12]
    assert vendi_score(x) == pytest.approx(np.exp(-(eig * np.log(eig)).sum()), rel=1e-9)
    assert vendi_score(np.ones((7, 3))) == pytest.approx(1.0)
    assert vendi_score(np.eye(6)) == pytest.approx(6.0)
    wide = _unit(np.random.default_rng(8).normal(size=(5, 30)))  # fewer samples than dimensions
    eig = np.clip(np.linalg.eigvalsh(wide.T @ wide / 5), 1e-300, None)
    assert vendi_score(wide) == pytest.approx(np.exp(-(eig * np.log(eig))[eig > 1e-12].sum()), rel=1e-9)
    # scaling rows does not change a cosine-kernel score
    assert vendi_score(3 * x) == pytest.approx(vendi_score(x))


def test_subsample_is_seeded_sorted_and_capped():
    a, b = subsample(100, 10, 5), subsample(100, 10, 5)
    np.testing.assert_array_equal(a, b)
    assert len(set(a)) == 10 and list(a) == sorted(a)
    assert not np.array_equal(a, subsample(100, 10, 6))
    np.testing.assert_array_equal(subsample(4, 10, 0), np.arange(4))
