import numpy as np
import pytest

from rexbench.explain.occlusion import ConstantOcclusion, InterpolationOcclusion, BaselineOcclusion, make_occlusion, noise_sigma


def test_linear_interpolation_matches_numpy(rng):
    x = rng.normal(size=(1, 50)).cumsum(axis=1)
    masks = rng.random((20, 50)) < 0.4
    masks[0] = False  # nothing kept: the mean
    out = InterpolationOcclusion("linear", noise=None)(x, masks, rng)
    grid = np.arange(50)
    for m, keep in enumerate(masks):
        kept = np.flatnonzero(keep)
        expected = np.interp(grid, kept, x[0, kept]) if kept.size else np.full(50, x.mean())
        np.testing.assert_allclose(out[m, 0], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["interp_gaussian", "pchip_gaussian", "interp_poisson", "zero", "mean", "min"])
def test_kept_points_untouched_and_shape(rng, name):
    x = rng.normal(size=(1, 64)).astype(np.float32)
    masks = rng.random((5, 64)) < 0.5
    out = make_occlusion(name)(x, masks, rng)
    assert out.shape == (5, 1, 64) and out.dtype == x.dtype
    for m in range(5):
        np.testing.assert_array_equal(out[m, 0, masks[m]], x[0, masks[m]])


def test_gaussian_noise_level_follows_the_spectrum(rng):
    for scale in (0.1, 2.0):
        x = scale * rng.normal(size=(1, 4000))
        assert noise_sigma(x) == pytest.approx(scale, rel=0.1)
        masks = np.zeros((1, 4000), bool)
        masks[0, ::400] = True
        out = InterpolationOcclusion("linear", "gaussian")(x, masks, rng)
        resid = out[0, 0] - InterpolationOcclusion("linear", None)(x, masks, rng)[0, 0]
        assert resid[~masks[0]].std() == pytest.approx(scale, rel=0.1)


def test_poisson_noise_grows_with_intensity(rng):
    x = np.concatenate([np.zeros(2000), np.full(2000, 10.0)])[None] + 0.5 * rng.normal(size=(1, 4000))
    masks = np.zeros((1, 4000), bool)
    masks[0, [0, 1999, 2000, 3999]] = True
    out = InterpolationOcclusion("linear", "poisson")(x, masks, rng)[0, 0]
    assert out[2100:3900].std() > 2 * out[100:1900].std()


def test_constant_and_baseline():
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    masks = np.array([[[True, False, True], [False, False, True]]])
    np.testing.assert_array_equal(ConstantOcclusion(0)(x, masks, None)[0, 0], [[0, 0, 2], [0, 0, 5]])
    np.testing.assert_array_equal(ConstantOcclusion("min")(x, masks, None)[0, 0], [[0, 0, 2], [0, 0, 5]])
    base = np.full_like(x, -1)
    np.testing.assert_array_equal(BaselineOcclusion(base)(x, masks, None)[0, 0], [[0, -1, 2], [-1, -1, 5]])
    with pytest.raises(ValueError, match="does not match"):
        BaselineOcclusion(base[:, :1])(x, masks, None)


def test_bad_occlusion_arguments():
    with pytest.raises(ValueError, match="interpolation kind must be 'linear' or 'pchip'"):
        InterpolationOcclusion("cubic")
    with pytest.raises(ValueError, match="noise must be 'gaussian', 'poisson' or None"):
        InterpolationOcclusion("linear", noise="uniform")
    with pytest.raises(ValueError, match="constant occlusion value must be a number, 'mean' or 'min'"):
        ConstantOcclusion("median")
    with pytest.raises(ValueError, match="unknown occlusion 'blur'"):
        make_occlusion("blur")
    with pytest.raises(ValueError, match="1 spatial axis"):
        InterpolationOcclusion()(np.zeros((1, 4, 4)), np.ones((1, 4, 4), bool), None)


def test_params_are_json_and_tell_occlusions_apart():
    """``params`` key ReX's cached maps: JSON-able, equal for equal settings, different for
    settings that change a mutant (a baseline by its content, not its identity)."""
    import json

    names = ["interp_gaussian", "pchip_gaussian", "interp_poisson", "zero", "mean", "min"]
    blobs = [json.dumps(make_occlusion(n).params, sort_keys=True) for n in names]
    assert len(set(blobs)) == len(names)
    base = np.zeros((1, 4))
    assert BaselineOcclusion(base).params == BaselineOcclusion(base.copy()).params
    assert BaselineOcclusion(base).params != BaselineOcclusion(base + 1).params
    json.dumps(BaselineOcclusion(base).params)
    assert InterpolationOcclusion(noise_scale=2.0).params != InterpolationOcclusion().params
