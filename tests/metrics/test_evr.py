"""Explained variance ratio: published values (scipy, stored), a direct reference, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from ctmirror.errors import InputError
from ctmirror.metrics.evr import (
    _FullConvolver,
    _next_5_smooth,
    explained_variance,
    explained_variance_ratio,
    fit_kernel_to_length,
    gaussian_kernel,
    spike_times_to_indices,
)
from tests.glif import reference


def _direct_evr(data, model, n, dt, sigma=0.01):
    """The published formula written out with direct (non-FFT) convolution."""
    std = sigma / dt
    m = int(std * 10)
    x = np.arange(m) - (m - 1) / 2
    kernel = np.exp(-0.5 * (x / std) ** 2)
    kernel /= kernel.sum()

    def train(steps):
        t = np.zeros(n)
        t[np.asarray(steps, dtype=int)] = 1.0
        return t

    def ev(a, b):
        vd = np.var(a - b)
        return 1.0 if vd == 0 else (np.var(a) + np.var(b) - vd) / (np.var(a) + np.var(b))

    full = [np.convolve(train(s), kernel, "full") for s in data]
    psth = sum(full) / len(full)
    ev_data = np.mean([ev(c, psth) for c in full])
    start = (m - 1) // 2
    same = [c[start:start + n] for c in full]
    model_same = np.convolve(train(model), kernel, "full")[start:start + n]
    ev_model = np.mean([ev(d, model_same) for d in same])
    return ev_data, ev_model, ev_model / ev_data


@pytest.mark.parametrize("case", reference.evr_cases(), ids=lambda c: c["name"])
def test_matches_published_scipy_computation(case):
    result = explained_variance_ratio(case["data"], case["model"], case["n"], case["dt"])
    assert result.ev_data == pytest.approx(case["ev_data"], abs=1e-9, rel=0)
    assert result.ev_model == pytest.approx(case["ev_model"], abs=1e-9, rel=0)
    assert result.ratio == pytest.approx(case["ratio"], abs=1e-9, rel=0)
    assert 0.2 < result.ratio < 1.2  # a real, non-trivial value


@pytest.mark.parametrize("n_spikes", [40, 3000], ids=["sparse-kernel-copies", "dense-fft"])
def test_matches_direct_convolution(n_spikes):
    rng = np.random.default_rng(3)
    n, dt = 40_000, 5e-5  # 2 s at 20 kHz: kernel of 1999 samples
    base = np.sort(rng.choice(n, n_spikes, replace=False))
    data = [np.unique(np.clip(base + rng.integers(-60, 60, base.size), 0, n - 1))
            for _ in range(3)]
    model = np.unique(np.clip(base + rng.integers(-150, 150, base.size), 0, n - 1))
    expected = _direct_evr(data, model, n, dt)
    got = explained_variance_ratio(data, model, n, dt)
    np.testing.assert_allclose([got.ev_data, got.ev_model, got.ratio], expected, rtol=0,
                               atol=1e-9)


def test_kernel_lengths_match_published_rounding():
    assert gaussian_kernel(0.01, 5e-6).size == 19999  # 10 * 0.01 / 5e-6 rounds down
    assert gaussian_kernel(0.01, 2e-5).size == 4999
    kernel = gaussian_kernel(0.01, 5e-6)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(kernel, kernel[::-1], rtol=0, atol=1e-18)
    assert kernel.argmax() == 9999


def test_explained_variance_basic_values():
    x = np.array([0.0, 1.0, 0.0, 1.0])
    assert explained_variance(x, x) == 1.0
    assert explained_variance(x, x + 3.0) == 1.0  # constant difference
    assert explained_variance(x, np.zeros(4)) == 0.0
    assert explained_variance(x, 1.0 - x) == -1.0


def test_model_without_spikes_scores_zero_and_identical_repeats_score_one():
    n, dt = 20_000, 5e-5
    data = [np.array([1000, 5000, 12000])] * 3
    assert explained_variance_ratio(data, np.array([], dtype=int), n, dt).ratio == 0.0
    same = explained_variance_ratio(data, data[0], n, dt)
    assert same.ev_data == pytest.approx(1.0, abs=1e-12)
    assert same.ratio == pytest.approx(1.0, abs=1e-12)


def test_spike_times_truncate_to_indices():
    # 0.5 / 5e-6 is 99999.99999999999 in floating point: truncation, as published, gives 99999
    np.testing.assert_array_equal(spike_times_to_indices([0.0, 1.9999e-5, 2e-5, 0.5], 5e-6),
                                  [0, 3, 4, 99_999])


def test_out_of_range_spike_is_an_input_error():
    with pytest.raises(InputError, match="outside the 100-sample sweep"):
        explained_variance_ratio([np.array([5, 100])], np.array([5]), 100, 1e-3, sigma_s=0.002)


def test_kernel_longer_than_sweep_is_shortened_and_renormalised():
    kernel = gaussian_kernel(0.01, 1e-3)  # 100 samples
    shortened = fit_kernel_to_length(kernel, 81)
    assert shortened.size == 80
    assert shortened.sum() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(InputError, match="keeps only"):
        fit_kernel_to_length(kernel, 20)


def test_fft_length_is_smallest_5_smooth():
    def smooth(k):
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        return k == 1

    for n in [1, 2, 7, 97, 1000, 4_019_999, 123_457]:
        expected = next(k for k in range(n, 2 * n + 2) if smooth(k))
        assert _next_5_smooth(n) == expected


def test_sparse_and_fft_paths_agree():
    kernel = gaussian_kernel(0.01, 5e-5)
    convolve = _FullConvolver(kernel, 40_000)
    steps = np.array([0, 17, 20_000, 39_999])
    sparse = convolve(steps)
    convolve._COPY_COST_RELATIVE_TO_FFT = 0.0  # force the FFT path
    np.testing.assert_allclose(convolve(steps), sparse, rtol=0, atol=1e-15)
    assert sparse.size == 40_000 + kernel.size - 1
    assert sparse.sum() == pytest.approx(4.0, abs=1e-12)
