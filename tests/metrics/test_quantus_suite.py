"""The cross-modality metric suite (rexbench.metrics.quantus_suite): each metric ranks a
good map above a bad one, undefined maps score NaN, directions, and ExplainFunc (the
Quantus explain_func from an explainer)."""
import numpy as np
import pandas as pd
import pytest

from helpers.models import Fixed, QuadrantModel, quadrant_data, three_scores
from rexbench.metrics import MetricSpec
from rexbench.metrics.quantus_suite import METRICS, ExplainFunc, SuiteSettings, rank_methods, score

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks:UserWarning")


def _fixed(maps):
    """A Quantus explain_func returning fixed maps (perturbations do not change them)."""
    def f(model, inputs, targets, **kw):
        return np.asarray(maps[: len(inputs)], dtype=np.float32)
    return f


def _identity(model, inputs, targets, **kw):
    return np.asarray(inputs, dtype=np.float32)


@pytest.fixture
def good_and_bad():
    x, y = quadrant_data(8)
    good = np.zeros(x.shape, dtype=np.float32)
    good[:, :, :8, :8] = x[:, :, :8, :8].numpy()  # the quadrant the model reads
    bad = np.zeros(x.shape, dtype=np.float32)
    bad[:, :, 8:, 8:] = 1.0  # a quadrant the model ignores
    return QuadrantModel(), x.numpy(), y, good, bad


def test_faithfulness_ranks_good_above_bad(good_and_bad):
    model, x, y, good, bad = good_and_bad
    settings = SuiteSettings(subset_fraction=0.2, faithfulness_runs=30)
    s_good = score("faithfulness_correlation", model, x, y, good, _fixed(good), settings)
    s_bad = score("faithfulness_correlation", model, x, y, bad, _fixed(bad), settings)
    assert np.nanmean(s_good) > 0.5 and np.nanmean(s_good) > np.nanmean(s_bad) + 0.3


def test_sparseness_ranks_concentrated_above_spread(good_and_bad):
    model, x, y, good, _ = good_and_bad
    spread = 1.0 + 0.01 * np.random.default_rng(0).random(good.shape).astype(np.float32)
    s_good = score("sparseness", model, x, y, good, _fixed(good))
    s_spread = score("sparseness", model, x, y, spread, _fixed(spread))
    assert np.all(s_good > 0.6) and np.all(s_spread < 0.05)


def test_sensitivity_ranks_stable_above_noisy(good_and_bad):
    model, x, y, good, _ = good_and_bad
    settings = SuiteSettings(sensitivity_samples=3)
    rng = np.random.default_rng(0)

    def noisy(model, inputs, targets, **kw):
        return rng.random(np.shape(inputs)).astype(np.float32)

    stable = score("avg_sensitivity", model, x, y, good, _fixed(good), settings)
    jumpy = score("avg_sensitivity", model, x, y, good, noisy, settings)
    assert np.nanmean(stable) < 1e-6 < np.nanmean(jumpy)
    assert METRICS["avg_sensitivity"].higher_is_better is False


def test_random_logit_and_mprt_run_and_skip_missing_maps(good_and_bad):
    model, x, y, good, _ = good_and_bad
    explain_func = ExplainFunc("saliency")
    a = explain_func(model, x, y)
    assert a.dtype == np.float32 and a.shape == x.shape
    a[0] = np.nan  # an input without a map scores NaN, the others are scored
    for metric in ("random_logit", "mprt"):
        s = score(metric, model, x, y, a, explain_func)
        assert s.shape == (len(x),) and np.isnan(s[0]) and np.isfinite(s[1:]).all()


def test_explain_func_uses_its_settings_and_the_model_it_is_given(good_and_bad):
    model, x, y, _, _ = good_and_bad
    f = ExplainFunc("integrated_gradients", {"baseline": 0.5, "n_steps": 4})
    assert not np.array_equal(f(model, x[:2], y[:2]), ExplainFunc("integrated_gradients")(model, x[:2], y[:2]))
    other = QuadrantModel(size=8)  # reads another quadrant: another map
    assert not np.array_equal(f(other, x[:2], y[:2]), f(model, x[:2], y[:2]))
    model.train()
    f(model, x[:2], y[:2])
    assert not model.training  # Quantus' randomised copies are explained in eval mode
    with pytest.raises(ValueError, match="unknown method 'lime'"):
        ExplainFunc("lime")


def test_score_rejects_mismatched_attributions(good_and_bad):
    model, x, y, good, _ = good_and_bad
    with pytest.raises(ValueError, match="must match inputs"):
        score("sparseness", model, x, y, good[:, :, :4], _fixed(good))
    with pytest.raises(ValueError, match="unknown metric"):
        score("accuracy", model, x, y, good, _fixed(good))
    with pytest.raises(ValueError, match="7 targets for 8 inputs"):
        score("sparseness", model, x, y[:7], good, _fixed(good))


@pytest.mark.parametrize("value", [0.0, 1.0, 0.3])
def test_constant_attributions_score_nan(good_and_bad, value):
    model, x, y, good, _ = good_and_bad
    const = np.full_like(good, value)
    const[0] = good[0]  # one real map in the batch is still scored
    s = score("sparseness", model, x, y, const, _fixed(good))
    assert np.isfinite(s[0]) and np.isnan(s[1:]).all()


@pytest.mark.parametrize("metric", ["faithfulness_correlation", "avg_sensitivity", "sparseness"])
def test_undefined_attributions_score_nan_not_a_made_up_number(metric):
    x = np.random.default_rng(0).random((4, 1, 12, 12)).astype(np.float32)
    a = np.stack([np.zeros_like(x[0]), np.full_like(x[0], 0.3), np.full_like(x[0], np.nan), x[3]])
    s = score(metric, Fixed(three_scores), x, np.zeros(4, dtype=int), a, _identity,
              SuiteSettings(faithfulness_runs=5, sensitivity_samples=2))
    assert s.shape == (4,) and np.isnan(s[:3]).all()


def test_all_attributions_undefined_score_all_nan_without_calling_quantus():
    x = np.random.default_rng(0).random((2, 1, 12, 12)).astype(np.float32)
    s = score("sparseness", Fixed(three_scores), x, [0, 1], np.zeros_like(x), _identity)
    assert np.isnan(s).all()


@pytest.mark.parametrize("kw, message", [
    ({"subset_fraction": 0.0}, "subset_fraction must be in"),
    ({"faithfulness_runs": 0}, "faithfulness_runs must be at least 1"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"n_classes": 1}, "n_classes must be at least 2"),
])
def test_suite_settings_are_checked(kw, message):
    with pytest.raises(ValueError, match=message):
        SuiteSettings(**kw)


def test_rank_methods_honours_direction():
    t = pd.DataFrame({"dataset": "mnist", "resolution": 28, "method": ["a", "b", "c"] * 2,
                      "metric": ["faithfulness_correlation"] * 3 + ["avg_sensitivity"] * 3,
                      "mean": [0.9, 0.1, np.nan, 0.9, 0.1, 0.5]})
    r = rank_methods(t).set_index(["metric", "method"])["rank"]
    assert r["faithfulness_correlation", "a"] == 1 and r["faithfulness_correlation", "b"] == 2
    assert np.isnan(r["faithfulness_correlation", "c"])
    assert r["avg_sensitivity", "b"] == 1 and r["avg_sensitivity", "a"] == 3


def test_every_metric_is_a_spec_with_a_direction():
    """What HIGHER_IS_BETTER held: each metric's direction, now on its MetricSpec (ranking
    needs one, so none may be None)."""
    assert list(METRICS) == ["faithfulness_correlation", "avg_sensitivity", "sparseness", "random_logit", "mprt"]
    for name, spec in METRICS.items():
        assert isinstance(spec, MetricSpec) and spec.name == name and spec.higher_is_better in (True, False)
        assert spec.range[0] < spec.range[1] and spec.description
    assert [m for m in METRICS if METRICS[m].higher_is_better] == ["faithfulness_correlation", "sparseness"]


def test_a_spec_scores_like_score(good_and_bad):
    model, x, y, good, _ = good_and_bad
    np.testing.assert_array_equal(METRICS["sparseness"].fn(model, x, y, good, _fixed(good)),
                                  score("sparseness", model, x, y, good, _fixed(good)))
