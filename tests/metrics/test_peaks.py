"""Peak counts and ground-truth localisation of 1-D maps (rexbench.metrics.peaks)."""
import numpy as np
import pytest

from rexbench.metrics import PEAK_SPECS, argmax_hit, count_peaks, mask_hits_window, mass_in_windows, window_mask


def gaussians(centres, length=500, sigma=5.0):
    x = np.arange(length)
    return sum(np.exp(-0.5 * ((x - c) / sigma) ** 2) for c in centres)


@pytest.mark.parametrize("centres", [[100], [100, 300], [50, 200, 350, 450]])
def test_counts_on_known_signals(centres):
    a = gaussians(centres)
    assert count_peaks(a).tolist() == [len(centres)]
    assert count_peaks(a, rule="prominence").tolist() == [len(centres)]


def test_white_noise_has_a_maximum_every_three_points():
    noise = np.random.default_rng(0).normal(size=(20, 852))
    mean = count_peaks(noise).mean()
    assert 852 / 3 * 0.95 < mean < 852 / 3 * 1.05  # the published SHAP figures (~284)
    assert count_peaks(noise, rule="prominence").mean() < mean


def test_flat_and_step_maps():
    assert count_peaks(np.zeros((2, 100))).tolist() == [0, 0]
    assert count_peaks(np.zeros(100), rule="prominence").tolist() == [0]
    assert count_peaks(np.ones((1, 50)), rule="prominence").tolist() == [0]  # flat: zero, not an error
    step = np.zeros(100)
    step[40:60] = 1  # a plateau is one peak for scipy
    assert count_peaks(step).tolist() == [1]


def test_localisation():
    a = gaussians([100])
    assert argmax_hit(a, [(90, 110)]) == 1.0 and argmax_hit(a, [(200, 210)]) == 0.0
    plateau = np.zeros(100)
    plateau[10:20] = 1
    assert argmax_hit(plateau, [(10, 14)]) == pytest.approx(0.5)  # 5 of 10 tied maxima
    assert mass_in_windows(a, [(80, 120)]) > 0.99
    assert np.isnan(mass_in_windows(-a, [(80, 120)]))  # no positive relevance
    assert np.isnan(argmax_hit(a, []))
    assert mask_hits_window(np.arange(500) == 95, [(90, 110)])
    assert not mask_hits_window(np.arange(500) == 5, [(90, 110)])


def test_bad_inputs():
    with pytest.raises(ValueError, match="NaN"):
        count_peaks(np.array([0, np.nan, 1]))
    with pytest.raises(ValueError, match="unknown peak-count rule"):
        count_peaks(np.zeros(5), rule="cwt")
    with pytest.raises(ValueError, match="rel_prominence must be in"):
        count_peaks(np.zeros(5), rule="prominence", rel_prominence=0)


def test_specs_name_their_functions_and_directions():
    assert set(PEAK_SPECS) == {"peak_count", "argmax_hit", "mass_in_peaks", "sufficient_hits_peak"}
    assert all(spec.name == name for name, spec in PEAK_SPECS.items())
    assert PEAK_SPECS["peak_count"].fn is count_peaks and not PEAK_SPECS["peak_count"].higher_is_better
    assert PEAK_SPECS["argmax_hit"].fn is argmax_hit and PEAK_SPECS["argmax_hit"].range == (0, 1)
    assert PEAK_SPECS["mass_in_peaks"].fn is mass_in_windows and PEAK_SPECS["sufficient_hits_peak"].fn is mask_hits_window
    assert window_mask(10, [(2, 4)]).tolist() == [False, False, True, True, True] + [False] * 5
