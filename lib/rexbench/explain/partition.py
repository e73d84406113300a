"""Random 4-way partitions of an N-D box (the ReX search tree).

A box is a tuple of ``(start, stop)`` per spatial axis. ``split`` returns 4 non-empty
children that tile the box exactly, or ``None`` if the box is too small to split. As in
the published algorithm (and the reference implementation), ``min_size`` bounds the box
that is split, not its children: a box is not split if it is shorter than ``min_size``
along the axes it would be cut on; its children may be smaller.

- 1 spatial axis: 3 distinct random cut positions (SpecReX), if the box has at least
  ``max(min_size, 4)`` points;
- 2 or more axes: 2 axes chosen at random among those of at least ``max(min_size, 2)``
  points, one random cut each, giving 2 x 2 children (ReX in 2D: one random point and 4
  quadrants; 3D ReX: 2 of the 3 axes); if only one axis is long enough, 3 cuts along the
  longest axis of at least ``max(min_size, 4)`` points.

Cut positions are uniform over the interior points of the axis.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

Box = tuple[tuple[int, int], ...]

# The 14 non-empty proper subsets of 4 children, smallest first.
COMBINATIONS: tuple[tuple[int, ...], ...] = tuple(c for r in (1, 2, 3) for c in combinations(range(4), r))


def box_size(box: Box) -> int:
    """Return the number of points in a box.

    Parameters
    ----------
    box : Box
        ``(start, stop)`` per spatial axis.

    Returns
    -------
    int
        The product of the extents ``stop - start``.
    """
    return int(np.prod([b - a for a, b in box]))


def box_slices(box: Box) -> tuple[slice, ...]:
    """Return the slices that index a box's points in an array.

    Parameters
    ----------
    box : Box
        ``(start, stop)`` per spatial axis.

    Returns
    -------
    tuple of slice
        ``slice(start, stop)`` per axis.
    """
    return tuple(slice(a, b) for a, b in box)


def _cuts(rng: np.random.Generator, start: int, stop: int, n_cuts: int) -> list[int]:
    """``n_cuts`` distinct sorted cut positions, uniform over the interior points
    ``start + 1 .. stop - 1`` (every piece keeps at least one point)."""
    return sorted(int(c) for c in rng.choice(np.arange(start + 1, stop), size=n_cuts, replace=False))


def split(box: Box, rng: np.random.Generator, min_size: int = 1) -> list[Box] | None:
    """Split a box at random into 4 non-empty children that tile it exactly.

    See the module docstring for the rule: 3 cuts along one axis for 1 spatial axis (or
    when only one axis has at least ``max(min_size, 2)`` points; the longest eligible
    axis, the first on ties), otherwise one cut on each of 2 randomly chosen axes.

    Parameters
    ----------
    box : Box
        ``(start, stop)`` per spatial axis.
    rng : numpy.random.Generator
        Source of the random axes and cut positions.
    min_size : int, optional
        Smallest extent an axis needs to be cut (default 1); bounds the box split, not
        its children.

    Returns
    -------
    list of Box or None
        The 4 children (for two cut axes ``ax0 < ax1``: low/low, low/high, high/low,
        high/high), or None if the box is too small to split.

    Raises
    ------
    ValueError
        If ``min_size`` is below 1.
    """
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1, got {min_size}")
    extents = [b - a for a, b in box]
    one_cut = [i for i, e in enumerate(extents) if e >= max(min_size, 2)]
    if len(box) == 1 or len(one_cut) < 2:
        # Three cuts along one axis (the longest that allows it).
        axes = [i for i, e in enumerate(extents) if e >= max(min_size, 4)]
        if not axes:
            return None
        ax = max(axes, key=lambda i: (extents[i], -i))
        a, b = box[ax]
        edges = [a, *_cuts(rng, a, b, 3), b]
        return [tuple((edges[k], edges[k + 1]) if i == ax else box[i] for i in range(len(box))) for k in range(4)]
    ax0, ax1 = sorted(rng.choice(one_cut, size=2, replace=False).tolist())
    c0 = _cuts(rng, *box[ax0], 1)[0]
    c1 = _cuts(rng, *box[ax1], 1)[0]
    children = []
    for r0 in ((box[ax0][0], c0), (c0, box[ax0][1])):
        for r1 in ((box[ax1][0], c1), (c1, box[ax1][1])):
            children.append(tuple(r0 if i == ax0 else r1 if i == ax1 else box[i] for i in range(len(box))))
    return children
