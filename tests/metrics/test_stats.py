"""Intervals and paired tests (rexbench.metrics.stats)."""
import numpy as np
import pytest

from rexbench.metrics.stats import bootstrap_ci, crossed_bootstrap_ci, holm, mcnemar, paired_wilcoxon


def test_the_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    covered = 0
    for r in range(100):
        est, lo, hi, n = bootstrap_ci(rng.normal(1.0, 2.0, size=60), n_boot=400, seed=r)
        covered += lo <= 1.0 <= hi
        assert lo <= est <= hi and n == 60
    assert 85 <= covered <= 100


def test_groups_widen_the_interval_when_seeds_disagree():
    rng = np.random.default_rng(1)
    seeds = np.repeat(np.arange(5), 40)
    values = rng.normal(0, 0.1, size=200) + rng.normal(0, 1.0, size=5)[seeds]  # seed effects dominate
    _, lo1, hi1, _ = bootstrap_ci(values, n_boot=500)
    _, lo2, hi2, _ = bootstrap_ci(values, seeds, n_boot=500)
    assert hi2 - lo2 > 3 * (hi1 - lo1)


def test_nans_are_left_out_and_counted_and_bad_input_is_named():
    est, lo, hi, n = bootstrap_ci([1.0, np.nan, 3.0, 2.0], n_boot=200)
    assert n == 3 and est == 2.0 and 1.0 <= lo <= hi <= 3.0
    assert np.isnan(bootstrap_ci([np.nan, np.nan])[0]) and bootstrap_ci([np.nan])[3] == 0
    assert bootstrap_ci([1.0, 9.0, 2.0], statistic=np.median, n_boot=50)[0] == 2.0
    with pytest.raises(ValueError, match="2 groups for 3 values"):
        bootstrap_ci([1.0, 2.0, 3.0], [0, 1])
    with pytest.raises(ValueError, match="values must be 1-D"):
        bootstrap_ci(np.zeros((2, 2)))


def _crossed(rng, n_models=5, n_inputs=20, input_sd=1.0, model_sd=0.3):
    """Scores of models that all explain the same inputs: an input effect shared by all."""
    value = (rng.normal(0, input_sd, size=n_inputs)[None, :] + rng.normal(0, model_sd, size=n_models)[:, None]
             + rng.normal(0, 0.2, size=(n_models, n_inputs)))
    rows, cols = np.meshgrid(np.arange(n_models), np.arange(n_inputs), indexing="ij")
    return value.ravel(), rows.ravel(), cols.ravel()


def test_the_crossed_interval_covers_where_the_nested_one_does_not():
    # Shared inputs: the nested bootstrap treats each model's inputs as new ones, so its
    # interval is too narrow for the population mean (0); the crossed one covers it.
    rng = np.random.default_rng(3)
    crossed = nested = 0
    for r in range(60):
        v, rows, cols = _crossed(rng)
        est, lo, hi, n, p = crossed_bootstrap_ci(v, rows, cols, n_boot=300, seed=r)
        crossed += lo <= 0.0 <= hi
        _, lo2, hi2, _ = bootstrap_ci(v, rows, n_boot=300, seed=r)
        nested += lo2 <= 0.0 <= hi2
        assert lo <= est <= hi and n == 100 and 0 <= p <= 1
    assert crossed >= 51 and nested <= crossed - 8


def test_the_crossed_bootstrap_with_one_model_is_over_inputs_and_its_p_value_reads_the_mean():
    rng = np.random.default_rng(4)
    v = rng.normal(1.0, 1.0, size=80)
    est, lo, hi, n, p = crossed_bootstrap_ci(v, np.zeros(80), np.arange(80), n_boot=1000)
    _, lo2, hi2, _ = bootstrap_ci(v, n_boot=1000)
    assert est == pytest.approx(v.mean()) and abs((hi - lo) - (hi2 - lo2)) < 0.1 * (hi2 - lo2)
    assert p < 1e-6  # a mean 8 standard errors from 0, t with 79 degrees of freedom
    assert crossed_bootstrap_ci(v - v.mean(), np.zeros(80), np.arange(80), n_boot=500)[4] > 0.9
    assert np.isnan(crossed_bootstrap_ci(np.ones(10), np.zeros(10), np.arange(10), n_boot=50)[4])  # no spread


def test_the_crossed_p_value_holds_its_level_with_five_models():
    # A true zero mean, model effects dominating: a normal reference rejects far more often
    # than 5% with five models; t with 4 degrees of freedom stays near or below it.
    rng = np.random.default_rng(6)
    rejected = 0
    for r in range(80):
        v, rows, cols = _crossed(rng, n_models=5, n_inputs=10, input_sd=0.3, model_sd=1.0)
        rejected += crossed_bootstrap_ci(v, rows, cols, n_boot=300, seed=r)[4] < 0.05
    assert rejected <= 6


def test_the_crossed_bootstrap_skips_missing_cells_and_names_bad_input():
    est, lo, hi, n, p = crossed_bootstrap_ci([1.0, np.nan, 3.0, 5.0], ["a", "a", "b", "b"], [0, 1, 0, 1], n_boot=200)
    assert n == 3 and est == 3.0 and 1.0 <= lo <= hi <= 5.0
    assert crossed_bootstrap_ci([np.nan], [0], [0])[3] == 0
    with pytest.raises(ValueError, match="more than once"):
        crossed_bootstrap_ci([1.0, 2.0], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="one length"):
        crossed_bootstrap_ci([1.0, 2.0], [0], [0, 1])


def test_holm_by_hand():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]


def test_mcnemar_counts_only_discordant_pairs():
    assert mcnemar([1] * 10, [0] * 10) == pytest.approx(2 * 0.5**10)
    assert mcnemar([1, 0, 1, np.nan], [1, 0, 1, 0]) == 1.0
    assert mcnemar([1, 1, 0, 0] * 5, [1, 0, 1, 0] * 5) == 1.0  # 5 against 5
    with pytest.raises(ValueError, match="paired hits differ in shape"):
        mcnemar([1, 0], [1])


def test_paired_wilcoxon():
    rng = np.random.default_rng(2)
    a = rng.normal(size=40)
    assert paired_wilcoxon(a, a) == 1.0
    assert paired_wilcoxon(a + 1.0, a) < 1e-6
    assert paired_wilcoxon(np.r_[a, np.nan], np.r_[a + rng.normal(0, 1, 40), 5.0]) > 0.01
    with pytest.raises(ValueError, match="paired scores differ in shape"):
        paired_wilcoxon([1.0, 2.0], [1.0])


def test_proportion_ci_is_exact_and_does_not_collapse_at_the_ends():
    from rexbench.metrics.stats import proportion_ci

    p, lo, hi = proportion_ci(100, 100)
    assert p == 1 and hi == 1 and lo == pytest.approx(0.9638, abs=1e-4)  # Clopper-Pearson, (0.025)^(1/100)
    p, lo, hi = proportion_ci(0, 20)
    assert p == 0 and lo == 0 and hi == pytest.approx(1 - 0.025 ** (1 / 20))
    p, lo, hi = proportion_ci(5, 10)
    assert lo < 0.5 < hi and lo == pytest.approx(1 - hi)  # symmetric at one half
    assert all(np.isnan(proportion_ci(0, 0)))
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        proportion_ci(3, 2)
