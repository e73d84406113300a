"""SpecReX (rexbench.explain.specrex): each rule of the authors' search, pinned on small
hand-checked cases (the partition draws, dropped children, the 14 combinations, the
interpolation and its inheritance, minimal-set credit pooled by child digit, the next job,
the additive combination, restarts), then the whole search on a toy model."""
import numpy as np
import pytest
import torch

from helpers.models import RegionModel
from rexbench.explain import SpecReX
from rexbench.explain.specrex import COMBINATIONS, _Box, _random_pos, _Search, build_tree


def boxes(parent: _Box, *bounds):
    parent.children = [_Box(a, b, parent.depth + 1, k) for k, (a, b) in enumerate(bounds)]
    return parent.children


def test_the_partition_is_the_authors_draws_in_pre_order():
    rs = np.random.RandomState(42)
    assert [rs.randint(1, 852), rs.randint(1, 102), rs.randint(105, 852), rs.randint(1, 52)] == [103, 52, 375, 43]
    root = build_tree(852, np.random.RandomState(42), 25, 10)
    assert [(c.start, c.stop) for c in root.children] == [(0, 52), (52, 103), (103, 375), (375, 852)]
    assert [(c.start, c.stop) for c in root.children[0].children] == [(0, 8), (8, 43), (43, 49), (49, 52)]
    assert [(c.start, c.stop) for c in root.children[2].children] == [(103, 127), (127, 191), (191, 323), (323, 375)]
    seed43 = build_tree(852, np.random.RandomState(43), 25, 10)
    assert [(c.start, c.stop) for c in seed43.children] == [(0, 321), (321, 837), (837, 840), (840, 852)]


def test_random_pos_draws_only_when_there_is_a_choice():
    rs = np.random.RandomState(0)
    state = rs.get_state()[1].copy()
    assert _random_pos(rs, 10, 12) is None  # {11} has no room for a cut
    assert _random_pos(rs, 10, 13) == 12  # one value: no draw
    assert np.array_equal(rs.get_state()[1], state)
    assert 11 <= _random_pos(rs, 10, 20) <= 19


def test_boxes_deeper_than_tree_depth_are_not_split():
    root = build_tree(4000, np.random.RandomState(1), 4, 2)
    depths, stack = [], [root]
    while stack:
        node = stack.pop()
        depths.append(node.depth)
        stack += node.children
    assert max(depths) == 3  # boxes of depth <= 2 split, their children are leaves


def _explainer(**kw):
    return SpecReX(RegionModel((slice(0, 1),)), min_size=5, **kw)


def test_short_children_are_never_kept_and_fewer_than_four_repeat_combinations():
    x = np.linspace(0, 1, 100, dtype=np.float32)[None] ** 2
    root = _Box(0, 100, 0, 0)
    boxes(root, (0, 30), (30, 33), (33, 70), (70, 100))  # the 3-point child is dropped
    search = _Search(0, root, np.zeros(100, np.float32))
    mutants = _explainer()._mutants(x, search, None, 0.0)
    chosen = [[c.start for c in s] for _, s in mutants]
    assert len(mutants) == 14
    # Combinations index the 3 kept children: [3] is empty, [0, 3] is [0], [0, 1, 2] the full set.
    assert chosen[3] == [] and chosen[6] == [0] and chosen[10] == [0, 33, 70]
    assert chosen == [[0], [33], [70], [], [0, 33], [0, 70], [0], [33, 70], [33], [70], [0, 33, 70], [0, 33], [0, 70],
                      [33, 70]]
    for m, _ in mutants:  # the dropped child is interpolated in every mutant
        assert not np.allclose(m[0, 31:33], x[0, 31:33])


def test_a_mutant_keeps_the_first_point_interpolates_between_kept_neighbours_and_inherits():
    L = 80
    x = np.sin(np.arange(L) / 5.0).astype(np.float32)[None]
    root = _Box(0, L, 0, 0)
    a, b = boxes(root, (0, 40), (40, L))
    a.mutant, b.mutant = x + 10.0, x - 10.0  # their mutants from the level before
    boxes(a, (0, 10), (10, 20), (20, 30), (30, 40))
    search = _Search(0, root, np.zeros(L, np.float32))
    search.job = [a, b]
    mutants = _explainer()._mutants(x, search, None, 0.0)
    m, chosen = mutants[1]  # box a, combination [1]: keeps child [10, 20)
    assert [(c.start, c.stop) for c in chosen] == [(10, 20)]
    base = a.mutant[0]
    keep = np.zeros(L, bool)
    keep[:1] = keep[10:20] = keep[40:] = True
    expected = base.copy()
    expected[~keep] = np.interp(np.flatnonzero(~keep), np.flatnonzero(keep), base[keep])
    expected[40:] = b.mutant[0, 40:]  # the held box is pasted back from its own mutant
    np.testing.assert_allclose(m[0], expected, rtol=1e-6)
    assert m[0, 0] == base[0]  # the box's first point is kept even though child 0 is occluded
    assert len(mutants) == 14  # box b has no children: the loop ends after box a


def test_noise_is_added_at_interpolated_points_only():
    x = np.cos(np.arange(60) / 4.0).astype(np.float32)[None]
    root = _Box(0, 60, 0, 0)
    boxes(root, (0, 15), (15, 30), (30, 45), (45, 60))
    search = _Search(0, root, np.zeros(60, np.float32))
    quiet = _explainer()._mutants(x, search, None, 0.0)
    loud = _explainer(noise="gaussian")._mutants(x, _Search(0, root, np.zeros(60, np.float32)), np.random.default_rng(0), 0.3)
    for (q, s), (n, _) in zip(quiet, loud):
        keep = np.zeros(60, bool)
        keep[:1] = True
        for c in s:
            keep[c.start : c.stop] = True
        np.testing.assert_array_equal(n[0, keep], q[0, keep])
        assert not np.allclose(n[0, ~keep], q[0, ~keep])


def test_credit_goes_to_minimal_passing_sets_pooled_by_child_digit():
    root = _Box(0, 400, 0, 0)
    c = boxes(root, (0, 50), (50, 100), (100, 300), (300, 400))
    search = _Search(0, root, np.zeros(400, np.float32))
    sets = [[c[j] for j in combo] for combo in COMBINATIONS]
    passing = [[2], [0, 2], [0, 3], [1, 2], [2, 3], [0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]
    ok = np.array([list(combo) in passing for combo in COMBINATIONS])
    _explainer()._credit(search, [(None, s) for s in sets], ok)
    # Credited: [2] and [0, 3] (every other passing set contains one of them).
    expected = np.zeros(400)
    expected[100:300] += 1.0
    expected[0:50] += 0.5
    expected[300:400] += 0.5
    np.testing.assert_array_equal(search.map, expected)
    assert search.job == [c[0], c[3]]  # the credited set of least total length: 150 points against 200
    assert search.depth == 1 and not search.done


def test_the_next_job_is_the_smallest_credited_set_and_ties_go_to_the_first():
    root = _Box(0, 100, 0, 0)
    c = boxes(root, (0, 20), (20, 40), (40, 70), (70, 100))
    search = _Search(0, root, np.zeros(100, np.float32))
    ok = np.array([combo in ([1], [0], [2, 3]) for combo in map(list, COMBINATIONS)])
    _explainer()._credit(search, [(None, [c[j] for j in combo]) for combo in COMBINATIONS], ok)
    assert search.job == [c[0]]  # [0] and [1] tie at 20 points; [0] was queried first


def test_a_multi_box_job_pools_credit_by_digit():
    root = _Box(0, 200, 0, 0)
    A, B = boxes(root, (0, 100), (100, 200))
    a = boxes(A, (0, 30), (30, 60), (60, 80), (80, 100))
    b = boxes(B, (100, 130), (130, 160), (160, 180), (180, 200))
    search = _Search(0, root, np.zeros(200, np.float32))
    mutants = [(None, [a[0]]), (None, [b[0], b[2]]), (None, [b[0]] + [b[1]])]
    _explainer()._credit(search, mutants, np.array([True, True, False]))
    # rp[0] = 1 + 1/2, rp[2] = 1/2: A:0 and B:0 get 1.5, B:2 gets 0.5 (the authors' pooling).
    assert search.map[0] == 1.5 and search.map[100] == 1.5 and search.map[160] == 0.5
    assert search.map[30] == 0 and search.map[130] == 0


def test_nothing_credited_ends_the_search():
    root = _Box(0, 100, 0, 0)
    c = boxes(root, (0, 25), (25, 50), (50, 75), (75, 100))
    search = _Search(0, root, np.zeros(100, np.float32))
    _explainer()._credit(search, [(None, [c[0]]), (None, [])], np.array([False, True]))  # only the empty set passed
    assert search.done and not search.map.any()


def toy():
    """Class 1 iff points 120-150 stay bright: interpolation over them breaks it."""
    x = torch.zeros(2, 1, 300)
    x[:, 0, 120:150] = 1.0
    x[1, 0] += 0.01 * torch.randn(300, generator=torch.Generator().manual_seed(0))
    return x, RegionModel((slice(120, 150),))


def test_the_search_finds_the_region_and_maps_are_added_then_scaled_by_the_maximum():
    x, model = toy()
    e = SpecReX(model, iters=6, min_size=10).attribute(x, target=1)
    maps = e.maps[:, 0].numpy()
    assert (maps.max(axis=1) == 1.0).all()
    assert all(m[120:150].mean() > 2 * m[np.r_[0:100, 170:300]].mean() for m in maps)
    assert (e.stats["queries"] > 1).all() and (e.stats["status"] == "ok").all()
    # Without keys every input shares the authors' partitions; keys give each its own.
    same_tree = SpecReX(model, iters=2, min_size=10).attribute(x[[0, 0]], target=1).maps
    assert torch.equal(same_tree[0], same_tree[1])
    keyed = SpecReX(model, iters=2, min_size=10).attribute(x[[0, 0]], target=1, keys=[3, 4]).maps
    assert not torch.equal(keyed[0], keyed[1])


def test_min_work_restarts_short_iterations_and_zero_never_does():
    x, model = toy()
    never = SpecReX(model, iters=4, min_size=10).attribute(x, target=1)
    assert (never.stats["restarts"] == 0).all()
    eager = SpecReX(model, iters=4, min_size=10, min_work=1.0, max_restarts=2).attribute(x, target=1)
    assert (eager.stats["restarts"] > 0).all() and (eager.stats["restarts"] <= 4 * 2).all()
    assert (eager.stats["queries"] > never.stats["queries"]).all()


def test_bad_settings_are_named():
    _, model = toy()
    with pytest.raises(ValueError, match="min_size=1"):
        SpecReX(model, min_size=1)
    with pytest.raises(ValueError, match="noise must be None or 'gaussian'"):
        SpecReX(model, noise="poisson")
    with pytest.raises(ValueError, match="spatial axes"):
        SpecReX(model).attribute(torch.zeros(1, 1, 8, 8))


# ------------------------------------------------------------------ rules a referee's mutants slipped past
def test_a_passing_duplicate_is_not_credited_twice_and_a_passing_empty_set_neither_counts_nor_blocks():
    root = _Box(0, 90, 0, 0)
    c = boxes(root, (0, 30), (30, 60), (60, 90))
    search = _Search(0, root, np.zeros(90, np.float32))
    mutants = [(None, []), (None, [c[0]]), (None, [c[0]]), (None, [c[0], c[1]]), (None, [c[1], c[2]])]
    _explainer()._credit(search, mutants, np.array([True, True, True, True, True]))
    # Credited: [0] once (the duplicate and [0, 1] are supersets of it) and [1, 2].
    assert search.map[0] == 1.0 and search.map[30] == 0.5 and search.map[60] == 0.5


def test_a_job_whose_first_box_has_no_kept_child_makes_no_mutant_at_all():
    x = np.zeros((1, 100), np.float32)
    root = _Box(0, 100, 0, 0)
    a, b = boxes(root, (0, 50), (50, 100))
    a.mutant, b.mutant = x.copy(), x.copy()
    boxes(b, (50, 62), (62, 75), (75, 88), (88, 100))  # a has no children, b has four
    search = _Search(0, root, np.zeros(100, np.float32))
    search.job = [a, b]
    assert _explainer()._mutants(x, search, None, 0.0) == []  # the authors' loop breaks, skipping b


def test_the_first_point_kept_is_the_active_boxs_and_singletons_store_the_pasted_mutant():
    L = 90
    x = np.linspace(-1, 1, L, dtype=np.float32)[None] ** 3
    root = _Box(0, L, 0, 0)
    a, b = boxes(root, (0, 30), (30, 90))
    a.mutant, b.mutant = x + 5.0, x - 5.0
    kids = boxes(b, (30, 45), (45, 60), (60, 75), (75, 90))
    search = _Search(0, root, np.zeros(L, np.float32))
    search.job = [b, a]  # b is processed first, a held
    m, chosen = _explainer()._mutants(x, search, None, 0.0)[2]  # combination [2]: keeps [60, 75)
    assert chosen == [kids[2]]
    assert m[0, 30] == b.mutant[0, 30] and m[0, 31] != b.mutant[0, 31]  # point 30, not 0, is the kept first point
    np.testing.assert_array_equal(m[0, :30], a.mutant[0, :30])  # the held box pasted back
    assert kids[2].mutant is m  # stored with the paste, for the next level


def test_min_size_boundaries():
    rs = np.random.RandomState(0)
    from rexbench.explain.specrex import spawn_children

    assert spawn_children(_Box(0, 24, 0, 0), rs, 25) == []  # shorter than min_size: not split
    assert len(spawn_children(_Box(0, 25, 0, 0), rs, 25)) in (2, 4)  # exactly min_size: split
    root = _Box(0, 20, 0, 0)
    boxes(root, (0, 5), (5, 9), (9, 15), (15, 20))
    chosen = [[c.start for c in s] for _, s in _explainer()._mutants(np.zeros((1, 20), np.float32),
                                                                      _Search(0, root, np.zeros(20, np.float32)), None, 0.0)]
    assert chosen[:4] == [[0], [9], [15], []]  # the 4-point child is dropped, the 5-point ones kept (min_size 5)


class _Always(torch.nn.Module):
    """Class 1 whatever the input: every mutant passes."""

    def __init__(self):
        super().__init__()
        self.eval()

    def forward(self, x):
        return torch.tensor([[0.0, 1.0]]).repeat(len(x), 1)


def test_the_search_limit_is_checked_before_each_level():
    x = torch.zeros(1, 1, 400)
    e = SpecReX(_Always(), iters=1, min_size=3, search_limit=14, seed=42).attribute(x, target=1)
    # Level 1 uses 14 queries (not over 14), level 2 another 14, then the check stops it; plus the first prediction.
    assert e.stats["queries"].tolist() == [1 + 28]
    deeper = SpecReX(_Always(), iters=1, min_size=3, search_limit=None, seed=42).attribute(x, target=1)
    assert deeper.stats["queries"].tolist() == [1 + 42]  # this partition runs three levels without the limit


def test_iterations_add_into_one_map_before_one_division():
    x = torch.zeros(1, 1, 300)
    xs, t = x.numpy(), np.array([1])
    explainer = SpecReX(_Always(), iters=2, min_size=10, seed=42)
    both = explainer._responsibility(xs, t, [()], np.array([0]), torch.float32)[0]
    first = SpecReX(_Always(), iters=1, min_size=10, seed=42)._responsibility(xs, t, [()], np.array([0]), torch.float32)[0]
    second = SpecReX(_Always(), iters=1, min_size=10, seed=43)._responsibility(xs, t, [()], np.array([0]), torch.float32)[0]
    np.testing.assert_array_equal(both, first + second)  # iteration i draws from seed + i
    assert both.dtype == np.float32 and not np.array_equal(first, second)
    np.testing.assert_array_equal(explainer.attribute(x, target=1).maps[0, 0].numpy(), both[0] / both[0].max())


def test_a_restart_discards_the_map_and_draws_the_next_partition_of_the_stream():
    x = torch.zeros(1, 1, 300)
    xs, t, one = x.numpy(), np.array([1]), np.array([0])
    kw = dict(min_size=10, search_limit=200, min_work=1.0, max_restarts=1)  # every attempt is short: restart once
    two = SpecReX(_Always(), iters=2, seed=42, **kw)._responsibility(xs, t, [()], one, torch.float32)
    last = SpecReX(_Always(), iters=1, seed=43, **kw)._responsibility(xs, t, [()], one, torch.float32)
    plain = SpecReX(_Always(), iters=1, seed=43, min_size=10)._responsibility(xs, t, [()], one, torch.float32)
    # Iteration 1's restart wiped everything before it: what is left is its second partition alone.
    np.testing.assert_array_equal(two[0], last[0])
    assert not np.array_equal(last[0], plain[0])
    assert two[2].tolist() == [2] and last[2].tolist() == [1]


def test_ties_in_the_top_score_go_to_the_highest_class():
    from rexbench.explain.specrex import top_class

    assert top_class(np.array([[1.0, 3.0, 3.0], [2.0, 1.0, 2.0], [0.0, 5.0, 1.0]])).tolist() == [2, 2, 1]


# ------------------------------------------------------------------ against the authors' own code
def test_maps_and_queries_equal_the_authors_code_bit_for_bit():
    """``data/specrex_authors_maps.npz`` holds maps and query counts that the authors' own
    ``causal_explanation`` (OfficialAC18/SpecReX @41ab3dd, MIT, as its command line runs it,
    wavenumbers ``arange(L)``) returned for toy models this test rebuilds: the published
    settings (case a) and three others that reach multi-box jobs, boxes without kept
    children, repeated combinations, the search limit and the depth limit."""
    import json
    from pathlib import Path

    from helpers.models import RegionConvNet

    d = np.load(Path(__file__).parent / "data" / "specrex_authors_maps.npz")
    assert json.loads(str(d["meta"]))["source"].startswith("OfficialAC18/SpecReX")
    for case in d["cases"]:
        a, b = d[f"{case}_region"].tolist()
        model = RegionConvNet(1, region=(slice(a, b),), seed=int(d[f"{case}_model_seed"])).eval()
        explainer = SpecReX(model, iters=int(d[f"{case}_iters"]), tree_depth=int(d[f"{case}_tree_depth"]),
                            min_size=int(d[f"{case}_min_size"]), search_limit=int(d[f"{case}_search_limit"]),
                            seed=int(d[f"{case}_seed"]))
        e = explainer.attribute(torch.as_tensor(d[f"{case}_x"]), target=torch.as_tensor(d[f"{case}_target"]))
        np.testing.assert_array_equal(e.maps.numpy(), d[f"{case}_maps"], err_msg=f"case {case}")
        np.testing.assert_array_equal(e.stats["queries"] - 1, d[f"{case}_queries"], err_msg=f"case {case}")


def test_checkpoints_are_the_maps_of_fewer_iterations():
    # Iteration i's partition and restarts do not depend on `iters`: one run gives the sweep.
    x, model = toy()
    e = SpecReX(model, iters=8, min_size=10, min_work=0.2).attribute(x, target=1, keys=[3, 4], checkpoints=[1, 4, 8])
    ck = e.stats["checkpoint_maps"]
    assert ck.shape == (2, 3, 300) and e.stats["restarts"].sum() > 0  # restarts happened
    for j, k in enumerate([1, 4, 8]):
        fewer = SpecReX(model, iters=k, min_size=10, min_work=0.2).attribute(x, target=1, keys=[3, 4])
        np.testing.assert_array_equal(ck[:, j], fewer.maps[:, 0].numpy())
    np.testing.assert_array_equal(ck[:, 2], e.maps[:, 0].numpy())
    with pytest.raises(ValueError, match="checkpoints must be integers"):
        SpecReX(model, iters=8, min_size=10).attribute(x, target=1, checkpoints=[9])
