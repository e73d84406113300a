import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import RegionModel
from rexbench.explain import ReX
from rexbench.explain.partition import COMBINATIONS, box_size, split
from rexbench.explain.rex import DegenerateSearchError


@pytest.mark.parametrize("occlusion", ["interp_gaussian", "zero", "mean", "pchip_gaussian", "interp_poisson"])
def test_responsibility_concentrates_on_causal_region(spectrum_and_model, occlusion):
    x, model = spectrum_and_model
    rex = ReX(model, min_box_size=10, occlusion=occlusion, seed=3)
    a = rex.attribute(x, target=1)
    assert a.shape == x.shape
    assert float(a.min()) >= 0 and float(a.max()) == pytest.approx(1.0)
    m = a[0, 0].numpy()
    region = np.zeros(300, bool)
    region[120:150] = True
    # Responsibility per point is much higher inside the region than outside it.
    assert m[region].mean() > 3 * m[~region].mean()
    assert region[m == m.max()].mean() > 0.5


def test_seed_reproduces_and_differs(spectrum_and_model):
    x, model = spectrum_and_model
    a1 = ReX(model, min_box_size=10, seed=1).attribute(x, 1)
    a2 = ReX(model, min_box_size=10, seed=1).attribute(x, 1)
    a3 = ReX(model, min_box_size=10, seed=2).attribute(x, 1)
    assert torch.equal(a1, a2)
    assert not torch.equal(a1, a3)


def test_batched_equals_unbatched(spectrum_and_model):
    x, model = spectrum_and_model
    rex = ReX(model, min_box_size=10, seed=5, max_batch_size=7)
    batched = rex.attribute(x, 1)
    single = torch.cat([ReX(model, min_box_size=10, seed=5).attribute(x[i : i + 1], 1) for i in range(len(x))])
    assert torch.equal(batched, single)


def test_queries_are_counted_and_bounded(spectrum_and_model):
    x, model = spectrum_and_model
    calls = []

    def f(batch):
        calls.append(len(batch))
        return model(batch)

    rex = ReX(f, iters=4, min_box_size=10, search_limit=28, seed=0)
    rex.attribute(x, 1)
    assert rex.stats.queries.sum() == sum(calls)
    # One level may overshoot the budget; never more than budget + one level's worth.
    per_iter = (rex.stats.queries - 2) / 4
    assert (per_iter <= 28 + 14 * 4).all()


def test_sufficient_explanation_is_small_and_inside(spectrum_and_model):
    x, model = spectrum_and_model
    rex = ReX(model, min_box_size=10, occlusion="zero", seed=0)
    suff = rex.sufficient_explanation(x, target=1)
    assert suff.masks.shape == x.shape and suff.masks.dtype == torch.bool
    assert (suff.fractions < 0.2).all()
    kept = suff.masks[0, 0].numpy()
    assert kept[120:150].sum() == kept.sum()  # with zero occlusion only region points help
    # The explanation is sufficient: the model still predicts the target on it alone.
    assert model(x * suff.masks).argmax(1).tolist() == [1, 1]


def test_2d_and_3d_inputs():
    x2 = torch.zeros(1, 1, 40, 40)
    x2[0, 0, 10:20, 25:35] = 1
    a2 = ReX(RegionModel((slice(10, 20), slice(25, 35))), min_box_size=4, occlusion="zero", seed=0).attribute(x2, 1)
    assert a2.shape == x2.shape
    m = a2[0, 0].numpy()
    assert m[10:20, 25:35].mean() > 3 * m.mean() / 2
    x3 = torch.zeros(1, 1, 24, 24, 24)
    x3[0, 0, 4:10, 14:20, 8:14] = 1
    model3 = RegionModel((slice(4, 10), slice(14, 20), slice(8, 14)))
    a3 = ReX(model3, min_box_size=3, occlusion="zero", seed=0, iters=10).attribute(x3, 1)
    m3 = a3[0, 0].numpy()
    inside = np.zeros(m3.shape, bool)
    inside[4:10, 14:20, 8:14] = True
    assert m3[inside].mean() > 3 * m3[~inside].mean()


@settings(max_examples=60, deadline=None)
@given(
    extents=st.lists(st.integers(1, 60), min_size=1, max_size=3),
    min_size=st.integers(1, 10),
    seed=st.integers(0, 10_000),
)
def test_partition_tiles_parent(extents, min_size, seed):
    box = tuple((0, e) for e in extents)
    children = split(box, np.random.default_rng(seed), min_size)
    if children is None:
        return
    assert len(children) == 4
    cover = np.zeros(extents, dtype=int)
    for c in children:
        assert box_size(c) > 0
        cover[tuple(slice(a, b) for a, b in c)] += 1
        for (a, b), (pa, pb) in zip(c, box):
            assert pa <= a < b <= pb
    assert (cover == 1).all()  # exactly tiles the parent, no overlap


@pytest.mark.parametrize("min_size", [1, 4, 25])
def test_min_box_size_bounds_the_box_split_not_its_children(min_size):
    """The published rule: boxes smaller than min_box_size are not split; a box of exactly
    min_box_size points is, into 4 non-empty children smaller than it."""
    rng = np.random.default_rng(0)
    smallest = max(min_size, 4)
    children = split(((0, smallest),), rng, min_size)
    assert children is not None and all(0 < box_size(c) < smallest for c in children)
    assert split(((0, smallest - 1),), rng, min_size) is None
    # 2D: cut on two axes of at least min_size, or three times along the one long axis.
    assert len(split(((0, max(min_size, 2)), (0, max(min_size, 2))), rng, min_size)) == 4
    flat = split(((0, 1), (0, smallest)), rng, min_size)
    assert flat is not None and all(c[0] == (0, 1) for c in flat)
    assert split(((0, 1), (0, smallest - 1)), rng, min_size) is None


def test_combinations_are_the_14_proper_subsets():
    assert len(COMBINATIONS) == 14 and len(set(COMBINATIONS)) == 14
    assert all(0 < len(c) < 4 for c in COMBINATIONS)


class TestErrors:
    def test_nan_input(self, spectrum_and_model):
        x, model = spectrum_and_model
        x = x.clone()
        x[1, 0, 3] = float("nan")
        with pytest.raises(ValueError, match="NaN or inf.*samples \\[1\\]"):
            ReX(model).attribute(x, 1)

    def test_wrong_model_output(self, spectrum_and_model):
        x, _ = spectrum_and_model
        with pytest.raises(ValueError, match="expected \\(2, classes\\)"):
            ReX(lambda b: b[:, 0, :3].sum(1)).attribute(x, 1)
        with pytest.raises(TypeError, match="tensor of class scores"):
            ReX(lambda b: b.numpy()).attribute(x, 1)

    def test_nan_model_output(self, spectrum_and_model):
        x, _ = spectrum_and_model
        with pytest.raises(ValueError, match="NaN or inf scores"):
            ReX(lambda b: torch.full((len(b), 3), float("nan"))).attribute(x, 1)

    def test_target_out_of_range(self, spectrum_and_model):
        x, model = spectrum_and_model
        with pytest.raises(ValueError, match="out of range for a model with 3 classes"):
            ReX(model).attribute(x, 7)

    def test_not_classified_as_target(self, spectrum_and_model):
        x, model = spectrum_and_model
        with pytest.raises(ValueError, match="does not classify samples \\[0, 1\\]"):
            ReX(model).attribute(x, 0)

    def test_shapes_and_dtypes(self, spectrum_and_model):
        x, model = spectrum_and_model
        with pytest.raises(ValueError, match="at least one spatial axis"):
            ReX(model).attribute(x[:, 0], 1)
        with pytest.raises(ValueError, match="empty batch"):
            ReX(model).attribute(x[:0], 1)
        with pytest.raises(TypeError, match="floating-point"):
            ReX(model).attribute(x.long(), 1)

    @pytest.mark.parametrize("kw", [{"iters": 0}, {"min_box_size": 0}, {"search_limit": 5}, {"confidence_filter": 2.0}, {"combine": "max"}, {"occlusion": "blur"}])
    def test_parameters_out_of_range(self, spectrum_and_model, kw):
        _, model = spectrum_and_model
        with pytest.raises(ValueError):
            ReX(model, **kw)

    def test_degenerate_model(self, spectrum_and_model):
        x, _ = spectrum_and_model
        always_one = lambda b: torch.tensor([[0.0, 1.0, 0.0]]).repeat(len(b), 1)
        with pytest.raises(DegenerateSearchError, match="whole input occluded"):
            ReX(always_one).attribute(x, 1)
        rex = ReX(always_one, on_degenerate="flag", min_box_size=10)
        with pytest.warns(UserWarning, match="degenerate"):
            rex.attribute(x, 1)
        assert rex.stats.degenerate.tolist() == [True, True]


def test_multiply_combines_as_the_reference_implementation(spectrum_and_model):
    """Each iteration's map is 1 + its responsibilities, the maps multiply, and the product
    is scaled to [0, 1]; an iteration where nothing passed changes nothing."""
    _, model = spectrum_and_model
    rex = ReX(model)
    rex._queries = np.zeros(1, dtype=np.int64)
    maps = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(rex._combine(maps, 0), [0.0, 1.0, 0.5])  # (2, 4, 3) scaled
    assert rex.stats.empty_iterations[0] == 1
    add = ReX(model, combine="add")
    add._queries = np.zeros(1, dtype=np.int64)
    np.testing.assert_allclose(add._combine(maps, 0), [0.5, 1.0, 1.0])  # (1, 2, 2) / 2
