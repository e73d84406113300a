"""ReX (rexbench.explain.rex): where responsibility goes, seeding and batching, query
counts, sufficient explanations, N-D inputs, NaN maps where there is no explanation, and
clear errors."""
import numpy as np
import pytest
import torch

from helpers.models import RegionModel, TwoChannelPeak
from rexbench.explain import Explanation, ReX
from rexbench.explain.rex import DegenerateSearchError, overhead_fraction


@pytest.mark.parametrize("occlusion", ["interp_gaussian", "zero", "mean", "pchip_gaussian", "interp_poisson"])
def test_responsibility_concentrates_on_causal_region(spectrum_and_model, occlusion):
    x, model = spectrum_and_model
    rex = ReX(model, min_box_size=10, occlusion=occlusion, seed=3)
    e = rex.attribute(x, target=1)
    assert isinstance(e, Explanation)
    a = e.maps
    assert a.shape == x.shape
    assert float(a.min()) >= 0 and float(a.max()) == pytest.approx(1.0)
    m = a[0, 0].numpy()
    region = np.zeros(300, bool)
    region[120:150] = True
    # Responsibility per point is much higher inside the region than outside it.
    assert m[region].mean() > 3 * m[~region].mean()
    assert region[m == m.max()].mean() > 0.5
    assert e.stats["status"].tolist() == ["ok", "ok"] and not e.stats["degenerate"].any()


def test_seed_reproduces_and_differs(spectrum_and_model):
    x, model = spectrum_and_model
    a1 = ReX(model, min_box_size=10, seed=1).attribute(x, 1).maps
    a2 = ReX(model, min_box_size=10, seed=1).attribute(x, 1).maps
    a3 = ReX(model, min_box_size=10, seed=2).attribute(x, 1).maps
    assert torch.equal(a1, a2)
    assert not torch.equal(a1, a3)


def test_batched_equals_unbatched(spectrum_and_model):
    x, model = spectrum_and_model
    rex = ReX(model, min_box_size=10, seed=5, max_batch_size=7)
    batched = rex.attribute(x, 1).maps
    single = torch.cat([ReX(model, min_box_size=10, seed=5).attribute(x[i : i + 1], 1).maps for i in range(len(x))])
    assert torch.equal(batched, single)


def test_keys_seed_each_input_whatever_the_batch(spectrum_and_model):
    """An input's draws come from (seed, its key), not its position: explained alone with
    its key, or second in a batch, it gets the same map; another key, another map."""
    x, model = spectrum_and_model
    rex = ReX(model, min_box_size=10, seed=5, max_batch_size=7)
    batched = rex.attribute(x, 1, keys=[10, 11]).maps
    alone = rex.attribute(x[1:], 1, keys=[11]).maps
    assert torch.equal(batched[1], alone[0])
    assert not torch.equal(rex.attribute(x[1:], 1, keys=[12]).maps, alone)
    with pytest.raises(ValueError, match="1 keys for 2 inputs"):
        rex.attribute(x, 1, keys=[3])
    with pytest.raises(ValueError, match="keys must be non-negative integers"):
        rex.attribute(x, 1, keys=[-1, 2])


def test_queries_are_counted_and_bounded(spectrum_and_model):
    x, model = spectrum_and_model
    calls = []

    def f(batch):
        calls.append(len(batch))
        return model(batch)

    rex = ReX(f, iters=4, min_box_size=10, search_limit=28, seed=0)
    e = rex.attribute(x, 1)
    queries = e.stats["queries"]
    assert queries.shape == (2,) and queries.sum() == sum(calls)
    # One level may overshoot the budget; never more than budget + one level's worth.
    per_iter = (queries - 2) / 4  # less the classification and the degeneracy check
    assert (per_iter <= 28 + 14 * 4).all()
    assert not hasattr(rex, "stats")  # nothing is left on the explainer


def test_seconds_and_overhead(spectrum_and_model):
    x, model = spectrum_and_model
    e = ReX(model, iters=2, min_box_size=10).attribute(x, 1)
    assert 0 < e.forward_seconds <= e.seconds
    assert 0 <= overhead_fraction(e) < 1
    assert np.isnan(overhead_fraction(Explanation(e.maps, seconds=0.0)))


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


def test_sufficient_explanation_takes_an_explanation_or_its_maps(spectrum_and_model):
    x, model = spectrum_and_model
    rex = ReX(model, min_box_size=10, occlusion="zero", seed=0)
    e = rex.attribute(x, 1)
    from_explanation = rex.sufficient_explanation(x, 1, attributions=e)
    from_maps = rex.sufficient_explanation(x, 1, attributions=e.maps)
    computed = rex.sufficient_explanation(x, 1)
    assert torch.equal(from_explanation.masks, from_maps.masks) and torch.equal(from_maps.masks, computed.masks)
    with pytest.raises(ValueError, match="attributions shape"):
        rex.sufficient_explanation(x, 1, attributions=e.maps[:, :, :10])
    with pytest.raises(ValueError, match="attributions contain NaN"):
        rex.sufficient_explanation(x, 1, attributions=torch.full_like(x, float("nan")))
    with pytest.raises(ValueError, match="step must be in"):
        rex.sufficient_explanation(x, 1, attributions=e, step=0)


def test_2d_and_3d_inputs():
    x2 = torch.zeros(1, 1, 40, 40)
    x2[0, 0, 10:20, 25:35] = 1
    a2 = ReX(RegionModel((slice(10, 20), slice(25, 35))), min_box_size=4, occlusion="zero", seed=0).attribute(x2, 1).maps
    assert a2.shape == x2.shape
    m = a2[0, 0].numpy()
    assert m[10:20, 25:35].mean() > 3 * m.mean() / 2
    x3 = torch.zeros(1, 1, 24, 24, 24)
    x3[0, 0, 4:10, 14:20, 8:14] = 1
    model3 = RegionModel((slice(4, 10), slice(14, 20), slice(8, 14)))
    a3 = ReX(model3, min_box_size=3, occlusion="zero", seed=0, iters=10).attribute(x3, 1).maps
    m3 = a3[0, 0].numpy()
    inside = np.zeros(m3.shape, bool)
    inside[4:10, 14:20, 8:14] = True
    assert m3[inside].mean() > 3 * m3[~inside].mean()


def test_no_map_where_the_model_disagrees_or_the_search_is_degenerate(spectrum_and_model):
    """on_mispredicted="nan" and on_degenerate="nan" (what the removed rex_or_nan did): NaN
    maps with their status, and the other inputs explained as usual."""
    x, model = spectrum_and_model
    x = torch.cat([x, torch.zeros(1, 1, 300)])  # a dark input: class 0, and so is its occlusion
    rex = ReX(model, iters=2, min_box_size=10, occlusion="zero", on_mispredicted="nan", on_degenerate="nan")
    e = rex.attribute(x, [1, 0, 0])
    assert e.stats["status"].tolist() == ["ok", "not_predicted", "degenerate"]
    assert e.stats["degenerate"].tolist() == [False, False, True]
    assert torch.isfinite(e.maps[0]).all() and torch.isnan(e.maps[1:]).all()
    assert not e.stats["constant"][1:].any()  # a NaN map is not a constant one
    alone = ReX(model, iters=2, min_box_size=10, occlusion="zero").attribute(x[:1], 1)
    assert torch.equal(alone.maps[0], e.maps[0])


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
        with pytest.raises(ValueError, match="spatial axes, got shape \\(2, 300\\)"):
            ReX(model).attribute(x[:, 0], 1)
        with pytest.raises(ValueError, match="empty batch"):
            ReX(model).attribute(x[:0], 1)
        with pytest.raises(TypeError, match="floating-point"):
            ReX(model).attribute(x.long(), 1)

    @pytest.mark.parametrize("kw, message", [
        ({"iters": 0}, "iters=0 is out of range"),
        ({"min_box_size": 0}, "min_box_size=0 is out of range"),
        ({"search_limit": 5}, "search_limit=5 is out of range"),
        ({"confidence_filter": 2.0}, "confidence_filter=2.0 is out of range"),
        ({"combine": "max"}, "combine must be 'multiply' or 'add'"),
        ({"occlusion": "blur"}, "unknown occlusion 'blur'"),
        ({"on_degenerate": "skip"}, "on_degenerate must be"),
        ({"on_mispredicted": "flag"}, "on_mispredicted must be"),
    ])
    def test_parameters_out_of_range(self, spectrum_and_model, kw, message):
        _, model = spectrum_and_model
        with pytest.raises(ValueError, match=message):
            ReX(model, **kw)

    def test_degenerate_model(self, spectrum_and_model):
        x, _ = spectrum_and_model
        always_one = lambda b: torch.tensor([[0.0, 1.0, 0.0]]).repeat(len(b), 1)
        with pytest.raises(DegenerateSearchError, match="whole input occluded"):
            ReX(always_one).attribute(x, 1)
        rex = ReX(always_one, on_degenerate="flag", min_box_size=10)
        with pytest.warns(UserWarning, match="degenerate"):
            e = rex.attribute(x, 1)
        assert e.stats["degenerate"].tolist() == [True, True]
        assert e.stats["status"].tolist() == ["degenerate", "degenerate"]
        assert torch.isfinite(e.maps).all()  # "flag" searches anyway


def test_multiply_combines_as_the_reference_implementation(spectrum_and_model):
    """Each iteration's map is 1 + its responsibilities, the maps multiply, and the product
    is scaled to [0, 1]; an iteration where nothing passed changes nothing."""
    _, model = spectrum_and_model
    maps = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    combined, empty = ReX(model)._combine(maps, 0)
    np.testing.assert_allclose(combined, [0.0, 1.0, 0.5])  # (2, 4, 3) scaled
    assert empty == 1
    combined, empty = ReX(model, combine="add")._combine(maps, 0)
    np.testing.assert_allclose(combined, [0.5, 1.0, 1.0])  # (1, 2, 2) / 2
    assert empty == 1


@pytest.mark.parametrize("occlusion", ["interp_gaussian", "interp_poisson", "pchip_gaussian"])
def test_noisy_occlusion_maps_do_not_depend_on_batching(occlusion):
    """Noise is drawn mutant by mutant for all channels at once, so how a sample's mutants
    are split over forward batches, and which samples share the call, change nothing."""
    g = torch.Generator().manual_seed(0)
    x = 0.05 * torch.randn(3, 2, 300, generator=g)
    x[:, :, 100:130] += 1
    model = TwoChannelPeak().eval()

    def run(xs, batch, keys):
        return ReX(model, iters=3, occlusion=occlusion, max_batch_size=batch, seed=0).attribute(xs, 0, keys=keys)

    together = run(x, 128, [5, 6, 7])
    alone = run(x[1:2], 7, [6])
    reordered = run(x[[2, 1]], 16, [7, 6])
    assert torch.equal(together.maps[1], alone.maps[0]) and torch.equal(together.maps[1], reordered.maps[1])
    rex = ReX(model, iters=3, occlusion=occlusion, seed=0)
    s_all = rex.sufficient_explanation(x, 0, attributions=together, keys=[5, 6, 7])
    s_one = rex.sufficient_explanation(x[1:2], 0, attributions=together.maps[1:2], keys=[6])
    assert torch.equal(s_all.masks[1], s_one.masks[0])


def test_keys_choose_the_draws():
    g = torch.Generator().manual_seed(1)
    x = 0.05 * torch.randn(1, 1, 300, generator=g)
    x[:, :, 100:130] += 1
    model = TwoChannelPeak().eval()
    rex = ReX(model, iters=2, occlusion="interp_gaussian", seed=0)
    a, b, c = (rex.attribute(x, 0, keys=[k]).maps for k in (3, 3, 4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_the_generators_of_one_search_never_share_a_stream():
    """numpy's SeedSequence ignores trailing zeros ([s, 1] and [s, 1, 0] are one stream): the
    purposes are told apart by a non-zero entry, for every iteration and key."""
    rex = ReX(TwoChannelPeak(), iters=5, seed=0)
    for key in [(), (0,), (3,)]:
        entropies = [rex._stream(it, 0, key) for it in range(5)] + [rex._stream(1, 1, key), rex._stream(0, 2, key),
                                                                      rex._stream(0, 3, key)]
        firsts = {tuple(np.random.default_rng(e).integers(0, 2**62, 4)) for e in entropies}
        assert len(firsts) == len(entropies)


@pytest.mark.parametrize("ndim, occlusion", [(1, "interp"), (1, "zero"), (1, "mean"), (2, "zero"), (3, "min")])
@pytest.mark.parametrize("queue_len", [1, 2])
def test_vectorised_search_equals_the_node_by_node_search(ndim, occlusion, queue_len):
    """The level-at-once search (version 5) draws the same partitions in the same order as
    version 4's node-by-node loop, so with a noise-free occlusion the maps and query counts
    are identical, bit for bit."""
    from helpers.models import RegionConvNet, region_batch
    from helpers.rex_node_by_node import NodeByNodeReX

    model = RegionConvNet(ndim, seed=1)
    x = region_batch(ndim, n=2, seed=4)
    settings = dict(occlusion=occlusion, seed=5, iters=4, queue_len=queue_len, min_box_size=3,
                    search_limit=120, on_degenerate="flag")
    new = ReX(model, **settings).attribute(x, target=1, keys=[3, 8])
    old = NodeByNodeReX(model, **settings).attribute(x, target=1, keys=[3, 8])
    assert torch.equal(new.maps, old.maps)
    assert new.stats["queries"].tolist() == old.stats["queries"].tolist()
    assert new.stats["queries"].min() > 14 * 4  # the search went deeper than one level


class _Margin(torch.nn.Module):
    """Class 1 wins even on a blank input (0.5 against the null class's 0.4), by a margin
    that grows with the mean of points 40-60: a degenerate search under the argmax rule."""

    def forward(self, x):
        m = x[:, 0, 40:60].mean(dim=1)
        return torch.stack([torch.zeros_like(m), 0.5 + 2 * m, torch.full_like(m, 0.4)], dim=1)


def test_the_contrastive_rule_makes_a_degenerate_search_informative():
    x = torch.zeros(2, 1, 100)
    x[:, 0, 40:60] = 1.0
    with pytest.raises(DegenerateSearchError):
        ReX(_Margin(), iters=4, min_box_size=5, occlusion="zero").attribute(x, target=1)
    rex = ReX(_Margin(), iters=4, min_box_size=5, occlusion="zero", null_class=2, contrast_fraction=0.5)
    e = rex.attribute(x, target=1)
    assert not e.stats["degenerate"].any()
    maps = e.maps[:, 0].numpy()
    assert (maps[:, 40:60].mean(axis=1) > 2 * np.hstack([maps[:, :30], maps[:, 70:]]).mean(axis=1)).all()
    assert rex.params["null_class"] == 2 and "null_class" not in ReX(_Margin()).params
    with pytest.raises(ValueError, match="null_class 1 must be another class"):
        ReX(_Margin(), occlusion="zero", null_class=1).attribute(x, target=1)
    with pytest.raises(ValueError, match="needs a null_class"):
        ReX(_Margin(), contrast_fraction=0.5)
    with pytest.raises(ValueError, match="choose one"):
        ReX(_Margin(), null_class=2, confidence_filter=0.5)


def test_default_batch_size_caps_points_per_batch():
    from rexbench.explain.rex import default_batch_size

    assert [default_batch_size(n) for n in (1, 784, 852, 1024, 1752, 48**3, 2**20)] == [512, 512, 512, 512, 256, 4, 1]
    sizes = [default_batch_size(n) for n in range(1, 5000, 37)]
    assert all(s * n <= 2**19 or s == 1 for s, n in zip(sizes, range(1, 5000, 37)))
    assert sizes == sorted(sizes, reverse=True)  # never larger for a larger input
    with pytest.raises(ValueError, match="n_points"):
        default_batch_size(0)


@pytest.mark.parametrize("combine", ["multiply", "add"])
def test_checkpoints_are_the_maps_of_fewer_iterations(spectrum_and_model, combine):
    # Partitions are drawn per iteration; the occlusion noise is one stream per input, which
    # this model (a region's mean) does not react to: then one run gives the whole sweep.
    x, model = spectrum_and_model
    kw = {"min_box_size": 10, "seed": 4, "combine": combine}
    e = ReX(model, iters=9, **kw).attribute(x, 1, keys=[7, 8], checkpoints=[9, 2, 5, 5])
    ck = e.stats["checkpoint_maps"]
    assert ck.shape == (2, 3, 300)
    for j, k in enumerate([2, 5, 9]):
        fewer = ReX(model, iters=k, **kw).attribute(x, 1, keys=[7, 8]).maps[:, 0].numpy()
        np.testing.assert_array_equal(ck[:, j], fewer)
    assert not np.array_equal(ck[:, 0], ck[:, 2])  # the maps do change with the iterations
    assert "checkpoint_maps" not in ReX(model, iters=2, **kw).attribute(x, 1).stats


class _Roughness(torch.nn.Module):
    """Class 1 when the signal in 120:150 is high and smooth: its first differences' energy
    (what occlusion noise adds to) lowers the logit."""

    def forward(self, x):
        region = x[:, 0, 120:150]
        rough = region.diff(dim=1).pow(2).sum(dim=1)
        z = region.mean(dim=1) - 0.5 - 4.0 * rough
        return torch.stack([-z, z], dim=1)


def test_checkpoints_with_a_noise_sensitive_model():
    # Noise-free occlusion: checkpoint k is the map of iters=k even when the model reacts
    # to noise. With occlusion noise the stream is shared by the iterations, so only the
    # last checkpoint is guaranteed to be the run's own map (the docstring's claim).
    g = torch.Generator().manual_seed(1)
    x = 0.01 * torch.randn(2, 1, 300, generator=g)
    x[:, 0, 120:150] += 1.0
    model = _Roughness().eval()
    kw = {"min_box_size": 10, "seed": 3}
    e = ReX(model, iters=6, occlusion="interp", **kw).attribute(x, 1, keys=[1, 2], checkpoints=[2, 6])
    for j, k in enumerate([2, 6]):
        fewer = ReX(model, iters=k, occlusion="interp", **kw).attribute(x, 1, keys=[1, 2]).maps[:, 0].numpy()
        np.testing.assert_array_equal(e.stats["checkpoint_maps"][:, j], fewer)
    noisy = ReX(model, iters=6, occlusion="interp_gaussian", **kw).attribute(x, 1, keys=[1, 2], checkpoints=[2, 6])
    np.testing.assert_array_equal(noisy.stats["checkpoint_maps"][:, 1], noisy.maps[:, 0].numpy())
    assert np.isfinite(noisy.stats["checkpoint_maps"]).all()


@pytest.mark.parametrize("bad", [[0], [10], [2.5], [True]])
def test_checkpoints_outside_the_iterations_are_refused(spectrum_and_model, bad):
    x, model = spectrum_and_model
    with pytest.raises(ValueError, match=r"checkpoints must be integers in \[1, iters=9\]"):
        ReX(model, iters=9, min_box_size=10).attribute(x, 1, checkpoints=bad)
