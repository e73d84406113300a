"""Sanity checks before trusting an occlusion (rexbench.metrics.sanity)."""
import numpy as np
import pytest
import torch

from helpers.models import RegionModel
from rexbench.explain.occlusion import BaselineOcclusion
from rexbench.metrics.sanity import occlusion_in_class_rate, random_window_masks


def test_random_window_masks_keep_one_box_of_the_fraction(rng):
    m = random_window_masks((200,), 0.05, 30, rng)
    assert m.shape == (30, 200) and (m.sum(axis=1) == 10).all()
    assert (np.diff(m.astype(int), axis=1) != 0).sum(axis=1).max() <= 2  # one contiguous run
    m3 = random_window_masks((8, 8, 8), 0.1, 5, rng)
    assert (m3.sum(axis=(1, 2, 3)) == 4**3).all()  # round(8 * 0.1 ** (1/3)) = 4 per axis
    with pytest.raises(ValueError, match="keep_fraction must be in"):
        random_window_masks((10,), 1.0, 3, rng)


def test_an_occlusion_that_creates_the_class_scores_high_and_a_neutral_one_low():
    model = RegionModel((slice(40, 60),))  # class 1 iff the region's mean exceeds 0.5
    x = torch.zeros(3, 1, 100)
    x[:, 0, 40:60] = 1.0  # class 1
    bright = BaselineOcclusion(np.ones((1, 100), dtype=np.float32))  # fills the region: class 1 by itself
    assert (occlusion_in_class_rate(model, x, 1, bright, keep_fraction=0.03) == 1).all()
    assert (occlusion_in_class_rate(model, x, 1, "zero", keep_fraction=0.03) == 0).all()
    # Zero fill keeps class 1 only when the kept window covers most of the region (never at 3%).
    assert (occlusion_in_class_rate(model, x, 0, "zero", keep_fraction=0.03) == 1).all()


def test_rates_depend_on_the_key_not_the_batch():
    model = RegionModel((slice(40, 60),))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 100, generator=g)
    x[:, 0, 40:60] += 0.4
    t = model(x).argmax(1).numpy()
    kw = dict(keep_fraction=0.2, n_masks=40, seed=3)
    whole = occlusion_in_class_rate(model, x, t, "interp_gaussian", keys=[5, 6, 7, 8], **kw)
    alone = [occlusion_in_class_rate(model, x[i : i + 1], t[i], "interp_gaussian", keys=[k], **kw)[0]
             for i, k in zip(range(4), [5, 6, 7, 8])]
    np.testing.assert_array_equal(whole, alone)
    with pytest.raises(ValueError, match="inputs must be a tensor"):
        occlusion_in_class_rate(model, x.numpy(), t, "zero")


def test_blank_in_class_rate_is_the_degeneracy_check():
    from rexbench.explain.occlusion import BaselineOcclusion
    from rexbench.metrics.sanity import blank_in_class_rate

    model = RegionModel((slice(40, 60),))
    x = torch.zeros(2, 1, 100)
    x[:, 0, 40:60] = 1.0
    assert blank_in_class_rate(model, x, 1, "zero").tolist() == [0.0, 0.0]  # a blank input is class 0
    bright = BaselineOcclusion(np.ones((1, 100), dtype=np.float32))
    assert blank_in_class_rate(model, x, 1, bright, keys=[3, 4]).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="inputs must be a tensor"):
        blank_in_class_rate(model, x.numpy(), 1, "zero")


def test_random_maps_are_seeded_per_key_and_uniform():
    from rexbench.metrics.sanity import random_maps

    a = random_maps((400,), [3, 8], seed=1)
    assert a.shape == (2, 400) and a.min() >= 0 and a.max() < 1
    np.testing.assert_array_equal(random_maps((400,), [8], seed=1)[0], a[1])  # whatever the batch
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(random_maps((400,), [3], seed=2)[0], a[0])
    assert abs(a.mean() - 0.5) < 0.05
    assert random_maps((4,), []).shape == (0, 4)
    with pytest.raises(ValueError):
        random_maps((4,), [-1])


def test_randomised_copy_resets_every_layer_and_leaves_the_model():
    from helpers.models import small_lrcn

    from rexbench.metrics.sanity import randomised_copy

    model = small_lrcn(120).eval()
    before = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(5)
    expected_next = torch.rand(1)
    torch.manual_seed(5)
    twin = randomised_copy(model, seed=3)
    assert torch.equal(torch.rand(1), expected_next)  # torch's global generator given back
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the trained model untouched
    changed = [not torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters())
               if a.numel() > 1 and a.std() > 0]  # constant inits (biases, norms' weights) may coincide
    assert all(changed) and not twin.training
    again = randomised_copy(model, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(twin.parameters(), again.parameters()))
    with pytest.raises(ValueError, match="no submodule of Identity has reset_parameters"):
        randomised_copy(torch.nn.Identity())


def test_randomised_copy_is_not_the_initialisation_of_a_model_built_under_the_same_seed():
    from helpers.models import small_lrcn

    from rexbench.metrics.sanity import randomised_copy

    model = small_lrcn(120)  # built under torch.manual_seed(0)
    twin = randomised_copy(model, seed=0)
    assert not torch.equal(next(model.parameters()), next(twin.parameters()))


def test_random_maps_streams_separate_inputs_that_share_keys():
    from rexbench.metrics.sanity import random_maps

    a, b = random_maps((50,), [0, 1], stream=0), random_maps((50,), [0, 1], stream=1)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, random_maps((50,), [0, 1]))  # stream 0 is the default


def test_map_rank_correlation_ranks_and_refuses_missing_or_constant_maps():
    from rexbench.metrics.sanity import map_rank_correlation

    a = np.arange(10.0)
    assert map_rank_correlation(a, a ** 3) == pytest.approx(1.0)  # monotone: rank correlation 1
    assert map_rank_correlation(a, -a) == pytest.approx(-1.0)
    assert np.isnan(map_rank_correlation(a, np.ones(10)))
    assert np.isnan(map_rank_correlation(np.r_[a[:-1], np.nan], a))
