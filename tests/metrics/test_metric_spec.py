"""A metric that carries its direction (rexbench.metrics.base.MetricSpec)."""
import math

import numpy as np

import pytest

from rexbench.metrics import MetricSpec


def test_direction_arrow_and_improvement():
    up = MetricSpec("acc", len, True, (0, 1), "accuracy")
    down = MetricSpec("err", len, False)
    none = MetricSpec("size", len, None)
    assert (up.arrow, down.arrow, none.arrow) == ("↑", "↓", "")
    assert up.direction == "higher is better" and down.direction == "lower is better"
    assert none.direction == "no better direction"
    assert up.improvement(0.2) == 0.2 and down.improvement(0.2) == -0.2
    with pytest.raises(ValueError, match="metric 'size' has no better direction"):
        none.improvement(1.0)
    assert down.range == (-math.inf, math.inf) and down.description == ""
    with pytest.raises(AttributeError, match="cannot assign"):
        up.higher_is_better = False  # frozen: a table cannot flip a direction by accident


def test_each_localisation_spec_computes_the_score_it_names():
    from rexbench.metrics import LOCALISATION_SPECS, dice_iou, quantus_localisation

    rng = np.random.default_rng(0)
    a = rng.random((3, 1, 6, 6, 6)).astype(np.float32)
    s = np.zeros((3, 1, 6, 6, 6), dtype=bool)
    s[:, :, 2:4, 2:4, 2:4] = True
    q = quantus_localisation(a, a, s)
    for name in ("pointing_game", "mass_accuracy", "rank_accuracy", "sparseness"):
        assert np.allclose(LOCALISATION_SPECS[name].fn(a, a, s), q[name], equal_nan=True)
    masks = a[:, 0] > 0.5
    dice, iou = dice_iou(masks, s[:, 0])
    assert np.allclose(LOCALISATION_SPECS["dice"].fn(masks, s[:, 0]), dice)
    assert np.allclose(LOCALISATION_SPECS["iou"].fn(masks, s[:, 0]), iou)
