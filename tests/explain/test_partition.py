"""Partitions of ReX's search (rexbench.explain.partition): four children that tile their
parent, the minimum box size, and the 14 mutants of a split."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rexbench.explain.partition import COMBINATIONS, box_size, split


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
