"""Localisation of N-D maps against ground-truth masks (rexbench.metrics.localisation)."""
import numpy as np
import pytest

from rexbench.metrics import LOCALISATION_SPECS, dice_iou, pointing_game_ties, quantus_localisation


@pytest.mark.parametrize(
    "make_map, good",
    [(lambda s, r: s + 0.01 * r, True), (lambda s, r: r, False), (lambda s, r: 1 - s + 0.01 * r, False)],
)
def test_localisation_metrics_rank_good_above_bad(make_map, good):
    rng = np.random.default_rng(0)
    s = np.zeros((3, 1, 10, 10, 10), bool)
    s[:, :, 2:5, 2:5, 2:5] = True
    a = make_map(s.astype(np.float32), rng.random(s.shape).astype(np.float32))
    q = quantus_localisation(np.zeros(s.shape, np.float32), a, s)
    if good:
        assert q["pointing_game"].mean() == 1 and q["mass_accuracy"].mean() > 0.5 and q["rank_accuracy"].mean() > 0.9
    else:
        assert q["mass_accuracy"].mean() < 0.1 and q["rank_accuracy"].mean() < 0.2


def test_ties_dice_and_errors():
    s = np.zeros((1, 1, 4, 4, 4), bool)
    s[0, 0, :2] = True
    plateau = np.zeros(s.shape, np.float32)
    plateau[0, 0, 1:3] = 1  # 16 of 32 tied maxima in the mask
    assert pointing_game_ties(plateau, s)[0] == pytest.approx(0.5)
    dice, iou = dice_iou(plateau > 0, s)
    assert dice[0] == pytest.approx(0.5) and iou[0] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="differ in shape"):
        pointing_game_ties(plateau[:, :, :2], s)
    with pytest.raises(ValueError, match="at least one voxel"):
        pointing_game_ties(plateau, np.zeros_like(s))
    with pytest.raises(ValueError, match="NaN"):
        quantus_localisation(plateau, np.full(s.shape, np.nan, np.float32), s)
    # A constant map localises nothing: NaN for every metric, not a crash or a number.
    q = quantus_localisation(plateau, np.ones(s.shape, np.float32), s)
    assert all(np.isnan(v[0]) for v in q.values())
    # Empty masks on both sides: Dice and IoU are undefined, not 0 or 1.
    dice, iou = dice_iou(np.zeros((1, 4), bool), np.zeros((1, 4), bool))
    assert np.isnan(dice[0]) and np.isnan(iou[0])


def test_specs_cover_the_scores_the_stroke_chapters_report():
    q = quantus_localisation(np.zeros((1, 1, 4, 4, 4), np.float32), np.random.default_rng(0).random((1, 1, 4, 4, 4)),
                             np.ones((1, 1, 4, 4, 4), bool))
    assert set(q) <= set(LOCALISATION_SPECS)
    assert {"pointing_game_ties", "dice", "iou"} <= set(LOCALISATION_SPECS)
    assert all(spec.higher_is_better for spec in LOCALISATION_SPECS.values())
    assert LOCALISATION_SPECS["mass_accuracy"].range == (-1, 1)
