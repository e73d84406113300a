"""ReX: causal-responsibility explanations of a black-box classifier (N-D inputs).

Algorithm (Chockler et al.; SpecReX for spectra, 3D ReX for volumes), per input ``x``
classified as ``t``, repeated for ``iters`` independently seeded iterations:

1. Start with the whole input as the active box. Split the active box into 4 children
   (:mod:`rexbench.explain.partition`) and query the model on the 14 mutants that keep a
   non-empty proper subset of the children visible, the other children occluded, and
   everything outside the active box as in the parent mutant.
2. A mutant *passes* if the model still predicts ``t`` (optionally with confidence at
   least ``confidence_filter`` times the original). Every kept child of a passing mutant
   earns responsibility ``1 / |kept children|`` over all its points.
3. Refine the smallest passing mutant(s): each of its kept children becomes an active box
   in turn, the other kept children staying visible. Boxes deeper than ``tree_depth``
   (the whole input has depth 0) or shorter than ``min_box_size`` along the axes to cut
   are not split; the iteration stops when nothing passes, or when it has used more than
   ``search_limit`` queries (checked before each level, as the reference implementation does).
4. Combine the iteration maps: ``combine="multiply"`` as the reference implementation
   does (the product over iterations of 1 + the iteration's responsibility, scaled to
   [0, 1] by its minimum and maximum), or ``"add"`` (the sum, divided by its maximum).

The minimal sufficient explanation (:meth:`ReX.sufficient_explanation`) keeps the top-k
points by responsibility, k growing in steps, and returns the first set the model still
classifies as ``t``.

All iterations of all inputs advance level by level together, so each level's mutants go
to the model in batched forward passes of at most ``max_batch_size``. Every random draw
(partitions, occlusion noise) comes from a generator per input seeded by ``seed``, the
iteration and the input's key, so batching never changes a map.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import check_checkpoints, check_inputs, check_keys, check_scores, warn_if_training
from .base import Explainer, Explanation
from .occlusion import Occlusion, make_occlusion
from .partition import COMBINATIONS, Box, box_slices, split

# ReX's published search settings (REFERENCES.md): iterations, and model queries per
# iteration after which no new level of the search starts.
PUBLISHED_REX_ITERS = 20
PUBLISHED_REX_SEARCH_LIMIT = 200


# Which of the 4 children each of the 14 combinations keeps (a 0/1 matrix), and each kept
# child's share of the responsibility in sixths (6 / |kept|).
_COMBO_MEMBERS = np.array([[k in c for k in range(4)] for c in COMBINATIONS], dtype=np.int64)
_COMBO_SIXTHS = (_COMBO_MEMBERS * (6 // _COMBO_MEMBERS.sum(axis=1, keepdims=True))).astype(np.int32)
# Masks as bit tests: a point of child c carries bit c, a point outside the node's box bit
# 4, a point of the node's always-visible base bit 5; combination j keeps the points whose
# bit is in _COMBO_BITS[j] (its children and the base).
_BASE_BIT = 32
_COMBO_BITS = (_COMBO_MEMBERS @ (1 << np.arange(4)) | _BASE_BIT).astype(np.uint8)


@dataclass
class _Level:
    """One level of the search: its expanded nodes and their 14 mutants each.

    ``inside[c, k]``: the points of child c of node k; ``bits[k]``: each point's bit (see
    ``_COMBO_BITS``); ``sizes[k]``: the children's number of points; ``pair_*``: the
    mutants as (sample, node, combination), each sample's together, in node order;
    ``order``: each of them's position in node-major order."""

    group: np.ndarray
    bits: np.ndarray
    inside: np.ndarray
    sizes: np.ndarray
    pair_sample: np.ndarray
    pair_node: np.ndarray
    pair_combo: np.ndarray
    order: np.ndarray

    @classmethod
    def build(cls, group, bases, children, spatial, iters) -> "_Level":
        K, P = len(group), int(np.prod(spatial))
        lo, hi = children[..., 0], children[..., 1]  # (K, 4, D)
        # Child c's points: the outer product of its per-axis intervals (cheap for volumes).
        inside = np.empty((4, K, P), dtype=bool)
        for c in range(4):
            box = None
            for d, n_d in enumerate(spatial):
                ar = np.arange(n_d)
                along = ((ar >= lo[:, c, d, None]) & (ar < hi[:, c, d, None])).reshape(
                    K, *(n_d if i == d else 1 for i in range(len(spatial))))
                box = along if box is None else box & along
            inside[c] = box.reshape(K, P)
        bits = np.zeros((K, P), dtype=np.uint8)
        for c in range(4):
            bits |= inside[c].view(np.uint8) << np.uint8(c)
        bits[bits == 0] = 16  # outside the node's box
        bits[bases] = _BASE_BIT
        sizes = np.prod(hi - lo, axis=2)
        n_combo = len(COMBINATIONS)
        pair_node = np.repeat(np.arange(K), n_combo)
        pair_combo = np.tile(np.arange(n_combo), K)
        # Each sample's mutants together, in node order (stable): the order its noise is drawn in.
        order = np.argsort(group[pair_node] // iters, kind="stable")
        return cls(group, bits, inside, sizes, group[pair_node[order]] // iters, pair_node[order],
                   pair_combo[order], order)


def default_batch_size(n_points: int) -> int:
    """ReX's default batch of mutants for inputs of ``n_points`` spatial points: the
    largest power of 2 of at most 512 with at most 2**19 points per batch (512 for an
    852-point spectrum or a 28x28 image, 256 for a 1,752-point spectrum, 4 for a 48^3
    volume), measured on the Raman LRCN: past that, activations outgrow the cache.

    Parameters
    ----------
    n_points : int
        Spatial points per input (at least 1).

    Returns
    -------
    int
        The batch size, from 1 to 512.
    """
    if n_points < 1:
        raise ValueError(f"n_points must be at least 1, got {n_points}")
    return int(min(512, 2 ** int(np.log2(max(1, 2**19 // n_points)))))


def batch_size_for(max_batch_size: int | None, x: np.ndarray) -> int:
    """An explainer's batch for inputs ``x`` ``(N, C, *spatial)``: ``max_batch_size``, or
    :func:`default_batch_size` of their spatial points where it is None."""
    return default_batch_size(int(np.prod(x.shape[2:]))) if max_batch_size is None else max_batch_size


class DegenerateSearchError(ValueError):
    """The model predicts the target even when the whole input is occluded, so no part of
    the input can be responsible for the prediction."""


@dataclass
class SufficientExplanation:
    """Minimal sufficient explanations of a batch.

    ``masks``: bool tensor shaped like the inputs (True = kept); ``sizes``: number of kept
    spatial points per input; ``fractions``: ``sizes`` over the number of spatial points;
    ``queries``: model queries spent per input.
    """

    masks: torch.Tensor
    sizes: np.ndarray
    fractions: np.ndarray
    queries: np.ndarray


@dataclass
class _Run:
    """Counters of one call (never kept on the explainer)."""

    queries: np.ndarray
    forward_seconds: float = 0.0


def overhead_fraction(explanation: Explanation) -> float:
    """Share of a call's wall time spent outside the model's forward passes.

    Parameters
    ----------
    explanation : Explanation
        The result of a call that measured its forward passes (:class:`ReX`).

    Returns
    -------
    float
        ``1 - forward_seconds / seconds``; NaN if ``seconds`` is not positive or
        ``forward_seconds`` is NaN (not measured).
    """
    if explanation.seconds <= 0:
        return float("nan")
    return 1.0 - explanation.forward_seconds / explanation.seconds


class ReX(Explainer):
    """Causal-responsibility explanations, in captum's style: the model goes to the
    constructor, the data to :meth:`attribute`, which returns an
    :class:`~rexbench.explain.base.Explanation` with per-input ``queries``,
    ``empty_iterations``, ``degenerate`` and ``status`` ("ok", "degenerate", "not_predicted").

    ``ReX.version`` changes whenever a change to this class changes its results at equal
    settings; it is part of :attr:`params`, so cached maps made by an earlier version are
    recomputed, never reused. Version 2: ``min_box_size`` bounds the box that is split (not
    its children), boxes down to depth ``tree_depth`` are split, and "multiply" multiplies
    1 + responsibility, as the reference implementation does. Version 3: the degeneracy
    check and the sufficient-explanation scan draw occlusion noise from a generator per
    input (they shared one across the batch, so with a noisy occlusion an input's result
    depended on its position); maps are unchanged. Version 4: the occlusion noise has its own
    stream (it was seeded ``[seed, 1]``, which numpy's SeedSequence, ignoring trailing zeros,
    makes the partition stream of iteration 1); partitions are unchanged, so maps change only
    with a noisy occlusion. Version 5: the search runs level by level as array operations
    (the same partitions, drawn in the same order: with a noise-free occlusion the maps and
    query counts equal version 4's bit for bit, ``tests/explain/test_rex.py``), and the
    interpolation occlusions draw noise only at occluded points, so maps change with a
    noisy occlusion.

    Parameters
    ----------
    forward_func : torch.nn.Module or callable
        Maps a batch ``(N, C, *S)`` to class scores ``(N, n_classes)``.
    iters : int
        Independently seeded iterations (SpecReX: 20).
    tree_depth : int
        Boxes deeper than this are not split (10).
    min_box_size : int
        Boxes shorter than this along the axes they would be cut on are not split (25
        points); their children may be smaller (``rexbench.explain.partition.split``).
    search_limit : int or None
        Once an iteration has used more model queries than this, no new level starts (200).
    occlusion : str or Occlusion
        A name from ``rexbench.explain.OCCLUSIONS`` or an ``Occlusion``
        ("interp_gaussian" for spectra).
    combine : {"multiply", "add"}
        How iteration maps combine ("multiply": the reference implementation).
    queue_len : int
        How many of the smallest passing mutants are refined per level (1).
    null_class : int or None
        The contrastive pass rule: a mutant passes if the model's score margin of the
        target over this class (e.g. the Raman null class 2) exceeds ``contrast_fraction``
        times the original input's margin, whatever else it predicts (None: the
        predicted class decides). With a fraction above 0, a search whose fully occluded
        input is still the target can become informative: that input passes only if it
        keeps that much of the original's evidence against the null class.
    contrast_fraction : float
        See ``null_class`` (0: the target above the null class).
    confidence_filter : float
        A mutant passes only with target confidence at least this fraction of the
        original's (0: the predicted class alone decides).
    max_batch_size : int
        Most mutants per forward pass; it does not change maps. None (the default):
        :func:`default_batch_size` of the input's number of points (512 for an 852-point
        spectrum, 256 for 1,752 points). A level's mutants of every iteration (and input)
        go together, so a bigger batch means fewer, fuller forward passes (the Raman LRCN:
        about 1.3x faster per explanation at 512 than at 128), up to where a batch's
        activations outgrow the cache and each query costs more (the 852-point LRCN at
        1,024, the 1,752-point one at 512; the 3D CNN past 16); ``benchmarks/bench_batch.py``
        measures a model's cost per query by batch size.
    seed : int
        Seeds every partition and every occlusion noise draw, with the input's key.
    on_degenerate : {"raise", "flag", "nan"}
        When the fully occluded input is still classified as the target: raise
        ``DegenerateSearchError``; "flag" (warn, record it in ``stats["degenerate"]`` and
        search anyway, for studies that report such cases); or "nan" (no search: a NaN map,
        status "degenerate").
    on_mispredicted : {"raise", "nan"}
        An input the model does not classify as its target: raise, or "nan" (a NaN map,
        status "not_predicted"; for metrics that re-explain perturbed inputs or randomised
        models).
    """

    name = "rex"
    version = 5
    stochastic = True

    def __init__(
        self,
        forward_func,
        *,
        iters: int = PUBLISHED_REX_ITERS,
        tree_depth: int = 10,
        min_box_size: int = 25,
        search_limit: int | None = PUBLISHED_REX_SEARCH_LIMIT,
        occlusion: str | Occlusion = "interp_gaussian",
        combine: str = "multiply",
        queue_len: int = 1,
        confidence_filter: float = 0.0,
        null_class: int | None = None,
        contrast_fraction: float = 0.0,
        max_batch_size: int | None = None,
        seed: int = 0,
        on_degenerate: str = "raise",
        on_mispredicted: str = "raise",
    ):
        super().__init__(forward_func)
        checks = {
            "iters": iters >= 1,
            "tree_depth": tree_depth >= 1,
            "min_box_size": min_box_size >= 1,
            "search_limit": search_limit is None or search_limit >= 14,
            "queue_len": queue_len >= 1,
            "max_batch_size": max_batch_size is None or max_batch_size >= 1,
            "confidence_filter": 0.0 <= confidence_filter <= 1.0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            name = bad[0]
            raise ValueError(f"ReX parameter {name}={locals()[name]!r} is out of range")
        if on_degenerate not in ("raise", "flag", "nan"):
            raise ValueError(f"on_degenerate must be 'raise', 'flag' or 'nan', got {on_degenerate!r}")
        if on_mispredicted not in ("raise", "nan"):
            raise ValueError(f"on_mispredicted must be 'raise' or 'nan', got {on_mispredicted!r}")
        self.on_degenerate, self.on_mispredicted = on_degenerate, on_mispredicted
        if combine not in ("multiply", "add"):
            raise ValueError(f"combine must be 'multiply' or 'add', got {combine!r}")
        self.forward_func = forward_func
        self.iters, self.tree_depth, self.min_box_size = int(iters), int(tree_depth), int(min_box_size)
        self.search_limit = search_limit
        self.occlusion = make_occlusion(occlusion)
        self.combine, self.queue_len = combine, int(queue_len)
        self.confidence_filter = float(confidence_filter)
        if null_class is not None and (isinstance(null_class, bool) or not isinstance(null_class, (int, np.integer))
                                       or null_class < 0):
            raise ValueError(f"null_class must be a class index or None, got {null_class!r}")
        self.null_class = None if null_class is None else int(null_class)
        if not 0.0 <= contrast_fraction <= 1.0 or (contrast_fraction > 0 and null_class is None):
            raise ValueError(f"contrast_fraction must be in [0, 1] and needs a null_class, got {contrast_fraction!r}")
        if null_class is not None and confidence_filter > 0:
            raise ValueError("null_class (the contrastive rule) and confidence_filter are two pass rules: choose one")
        self.contrast_fraction = float(contrast_fraction)
        self.max_batch_size = None if max_batch_size is None else int(max_batch_size)
        self.seed = int(seed)

    def _settings(self):
        occ = self.occlusion.params if hasattr(self.occlusion, "params") else repr(self.occlusion)
        return {"iters": self.iters, "tree_depth": self.tree_depth, "min_box_size": self.min_box_size,
                "search_limit": self.search_limit, "occlusion": occ, "combine": self.combine,
                "queue_len": self.queue_len, "confidence_filter": self.confidence_filter, "seed": self.seed,
                "on_degenerate": self.on_degenerate, "on_mispredicted": self.on_mispredicted,
                # Only when set: maps made before the option existed keep their cache key.
                **({"null_class": self.null_class, "contrast_fraction": self.contrast_fraction}
                   if self.null_class is not None else {})}

    # ------------------------------------------------------------------ model access
    def _forward(self, batch: np.ndarray, run: _Run, dtype) -> np.ndarray:
        """Class scores for a numpy batch, checked and timed."""
        t0 = time.perf_counter()
        x = torch.as_tensor(batch, dtype=dtype)
        with torch.no_grad():
            out = check_scores(self.forward_func(x), len(batch), method=self.name)
        run.forward_seconds += time.perf_counter() - t0
        return out

    def _confidence(self, scores: np.ndarray) -> np.ndarray:
        z = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _check_inputs(self, inputs, target, keys, run: _Run, mispredicted: str = "raise"):
        """Validate inputs and keys (before any model query), classify once, and return
        (x, targets, keys, base confidence, predicted ok)."""
        inputs, t = check_inputs(inputs, target, dims=self.dims, method=self.name)
        keys = check_keys(keys, len(inputs), method=self.name)
        warn_if_training(self.forward_func, self.name)
        x = inputs.cpu().numpy()
        scores = self._forward(x, run, inputs.dtype)
        run.queries += 1
        check_scores(torch.as_tensor(scores), len(x), t, method=self.name)
        pred = scores.argmax(axis=1)
        t = pred.copy() if t is None else t.numpy().astype(np.int64)
        ok = pred == t
        if not ok.all() and mispredicted == "raise":
            wrong = np.flatnonzero(~ok)
            raise ValueError(
                f"the model does not classify samples {wrong.tolist()} as their target "
                f"(predicted {pred[wrong].tolist()}, target {t[wrong].tolist()}); ReX explains the predicted class"
            )
        if self.null_class is not None:
            if self.null_class >= scores.shape[1] or (t == self.null_class).any():
                raise ValueError(f"null_class {self.null_class} must be another class of the model's "
                                 f"{scores.shape[1]} than the targets {sorted(set(t.tolist()))}")
            # The contrastive rule compares each mutant's margin with the original's.
            return x, t, keys, scores[np.arange(len(x)), t] - scores[:, self.null_class], ok
        conf = self._confidence(scores)[np.arange(len(x)), t]
        return x, t, keys, conf, ok

    def _passes(self, scores: np.ndarray, targets: np.ndarray, base_conf: np.ndarray) -> np.ndarray:
        rows = np.arange(len(scores))
        if self.null_class is not None:  # base_conf holds the original's margin here (_check_inputs)
            ok = scores[rows, targets] - scores[:, self.null_class] > self.contrast_fraction * np.maximum(base_conf, 0)
        else:
            ok = scores.argmax(axis=1) == targets
        if self.confidence_filter > 0:
            conf = self._confidence(scores)[np.arange(len(scores)), targets]
            ok &= conf >= self.confidence_filter * base_conf
        return ok

    def _evaluate(self, x, targets, base_conf, level: "_Level", rngs, run: _Run):
        """Occlude and classify every mutant of a level (pairs of node and combination,
        grouped by sample), in chunks of ``max_batch_size``; returns a bool array of passes.

        Masks are built per chunk (a chunk's worth of memory, even for volumes)."""
        sample, node, combo = level.pair_sample, level.pair_node, level.pair_combo
        passed = np.zeros(len(sample), dtype=bool)
        spatial = x.shape[2:]
        batch = batch_size_for(self.max_batch_size, x)
        for lo in range(0, len(sample), batch):
            hi = min(lo + batch, len(sample))
            idx, k = sample[lo:hi], node[lo:hi]
            masks = (level.bits[k] & _COMBO_BITS[combo[lo:hi], None]).astype(bool).reshape(hi - lo, *spatial)
            # Each sample's mutants are occluded in one call, with that sample's noise rng.
            bounds = np.flatnonzero(np.diff(idx)) + 1
            mutants = [self.occlusion(x[idx[a]], masks[a:b], rngs[idx[a]])
                       for a, b in zip([0, *bounds], [*bounds, hi - lo])]
            # One sample in the chunk (always, for one input per call): no copy.
            scores = self._forward(mutants[0] if len(mutants) == 1 else np.concatenate(mutants), run,
                                   self._dtype_of(x))
            passed[lo:hi] = self._passes(scores, targets[idx], base_conf[idx])
            run.queries += np.bincount(idx, minlength=len(x))
        return passed

    def _stream(self, a: int, b: int, key: tuple[int, ...]) -> list[int]:
        """Entropy of one generator: ``[seed, a, b, *key]`` with ``(a, b)`` = (iteration, 0)
        for partitions, (1, 1) for occlusion noise, (0, 2) for the degeneracy check and (0, 3)
        for the sufficient-explanation scan. ``b`` tells the purposes apart, so no two
        streams coincide even though numpy's SeedSequence ignores trailing zeros."""
        return [self.seed, a, b, *key]

    @staticmethod
    def _dtype_of(x: np.ndarray):
        return torch.float64 if x.dtype == np.float64 else torch.float32

    # ------------------------------------------------------------------ public API
    def attribute(self, inputs: torch.Tensor, target=None, keys=None, checkpoints=None) -> Explanation:
        """Responsibility maps in [0, 1], shaped like ``inputs`` (the map is shared by all
        channels).

        Parameters
        ----------
        inputs : torch.Tensor
            ``(N, C, *spatial)``.
        target : int, sequence of int or None
            One class per input or one for all; ``None`` explains the predicted class.
        keys : sequence of int, optional
            Each input's key (e.g. its index in its data set): its draws are seeded by
            (``seed``, iteration, key). Without keys every input draws the same streams, as
            the reference implementation does when run on one input at a time.
        checkpoints : sequence of int, optional
            Iteration counts in ``[1, iters]``: the map the first k iterations combine to,
            for each k. Iteration i's partitions do not depend on ``iters``, but the occlusion
            noise is one stream per input shared by all iterations (drawn level by level), so
            checkpoint k is the map ``iters=k`` gives only with a noise-free occlusion (or a
            model its noise does not change); otherwise it is a k-iteration map of the same
            distribution, not the same map.

        Returns
        -------
        Explanation
            ``maps``; ``stats``: ``queries``, ``empty_iterations``, ``degenerate``, ``status``;
            with ``checkpoints``, ``checkpoint_maps`` ``(N, K, *spatial)``, in the sorted
            order of the distinct checkpoints.

        Raises
        ------
        DegenerateSearchError
            With ``on_degenerate="raise"``, if the fully occluded input is still
            classified as the target.
        """
        t_start = time.perf_counter()
        ck = check_checkpoints(checkpoints, self.iters, method=self.name)
        n_all = len(inputs) if isinstance(inputs, torch.Tensor) and inputs.ndim > 0 else 0
        run = _Run(np.zeros(n_all, dtype=np.int64))
        x_all, t_all, key_all, conf_all, ok = self._check_inputs(inputs, target, keys, run, self.on_mispredicted)
        degenerate_all = np.zeros(len(x_all), dtype=bool)
        empty_all = np.zeros(len(x_all), dtype=np.int64)
        status = np.where(ok, "ok", "not_predicted").astype("<U13")
        out = np.full(x_all.shape, np.nan, dtype=x_all.dtype)
        out_ck = np.full((len(x_all), len(ck), *x_all.shape[2:]), np.nan, dtype=x_all.dtype)

        idx = np.flatnonzero(ok)
        if idx.size:
            sub = _Run(np.zeros(idx.size, dtype=np.int64))
            x, targets, base_conf = x_all[idx], t_all[idx], conf_all[idx]
            key = [key_all[i] for i in idx]
            degenerate = self._check_degenerate(x, targets, base_conf, key, sub, labels=idx)
            degenerate_all[idx] = degenerate
            status[idx[degenerate]] = "degenerate"
            search = np.ones(idx.size, dtype=bool) if self.on_degenerate != "nan" else ~degenerate
            s_idx = np.flatnonzero(search)
            if s_idx.size:
                maps, empty, ck_maps = self._search(x[s_idx], targets[s_idx], base_conf[s_idx], [key[i] for i in s_idx],
                                                    sub, s_idx, names=idx[s_idx], checkpoints=ck)
                out[idx[s_idx]] = maps
                out_ck[idx[s_idx]] = ck_maps
                empty_all[idx[s_idx]] = empty
            run.queries[idx] += sub.queries
            run.forward_seconds += sub.forward_seconds
        stats = {"queries": run.queries, "empty_iterations": empty_all, "degenerate": degenerate_all, "status": status}
        if ck:
            stats["checkpoint_maps"] = out_ck
        return Explanation(torch.as_tensor(out, dtype=inputs.dtype), stats, seconds=time.perf_counter() - t_start,
                           forward_seconds=run.forward_seconds)

    def _search(self, x, targets, base_conf, keys, run: _Run, labels, names=None,
                checkpoints=()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The responsibility search for inputs the model classifies as their targets
        (``labels``: their rows in ``run``; ``names``: their positions in the caller's batch,
        for warnings).

        All iterations of all inputs advance one level at a time; a level's masks,
        responsibilities and next nodes are array operations over all its mutants. The
        random draws are made in the same order as a node-by-node search would make them.
        Also returns the maps of the first k iterations for each k in ``checkpoints``."""
        n, spatial = len(x), x.shape[2:]
        n_points = int(np.prod(spatial))
        # One partition rng per (input, iteration) and one noise rng per input, seeded by the
        # input's key, never its position: each input's search draws the same numbers in the
        # same order whatever else is in the batch, so batching does not change maps.
        part_rngs = [[np.random.default_rng(self._stream(it, 0, keys[s])) for it in range(self.iters)] for s in range(n)]
        noise_rngs = [np.random.default_rng(self._stream(1, 1, keys[s])) for s in range(n)]
        # Responsibility in sixths (1, 1/2 and 1/3 are 6, 3 and 2 of them): integer sums are
        # exact, so a map does not depend on the order its contributions arrive in.
        sixths = np.zeros((n * self.iters, n_points), dtype=np.int32)
        work = np.zeros(n * self.iters, dtype=np.int64)
        whole: Box = tuple((0, d) for d in spatial)
        # The frontier: one row per node (group = sample * iters + iteration).
        f_group = np.arange(n * self.iters)
        f_box = [whole] * (n * self.iters)
        f_base = np.zeros((n * self.iters, n_points), dtype=bool)  # other kept boxes, always visible
        f_static = np.zeros(n * self.iters, dtype=np.int64)  # their number of points
        f_depth = np.zeros(n * self.iters, dtype=np.int64)
        queries = np.zeros(n, dtype=np.int64)
        local = _Run(queries)

        while len(f_group):
            # Expand: split each node's box (in frontier order, so each rng draws as before).
            live = f_depth <= self.tree_depth
            if self.search_limit is not None:
                live &= work[f_group] <= self.search_limit
            expanded, children = [], []
            for f in np.flatnonzero(live):
                g = int(f_group[f])
                ch = split(f_box[f], part_rngs[g // self.iters][g % self.iters], self.min_box_size)
                if ch is not None:
                    expanded.append(f)
                    children.append(ch)
            if not expanded:
                break
            e = np.array(expanded)
            level = _Level.build(f_group[e], f_base[e], np.array(children), spatial, self.iters)
            passed = np.empty(len(level.pair_node), dtype=bool)
            passed[level.order] = self._evaluate(x, targets, base_conf, level, noise_rngs, local)
            passed = passed.reshape(len(e), len(COMBINATIONS))
            np.add.at(work, f_group[e], len(COMBINATIONS))  # a group can have several nodes

            # Responsibility: every kept child of a passing mutant earns 1/|kept| (in sixths).
            child_sixths = passed.astype(np.int32) @ _COMBO_SIXTHS  # (K, 4)
            # Added over each child's box only (integers: the same sums in any order).
            credited = np.flatnonzero(child_sixths.any(axis=1))
            for r in credited.tolist():
                view = sixths[level.group[r]].reshape(spatial)
                for c in np.flatnonzero(child_sixths[r]).tolist():
                    view[box_slices(children[r][c])] += child_sixths[r, c]

            # Refine the smallest passing mutant(s) of each (input, iteration): ties by node,
            # then combination; groups in the order of their first passing node.
            k, j = np.nonzero(passed)
            if k.size == 0:
                break
            area = f_static[e][k] + (_COMBO_MEMBERS[j] * level.sizes[k]).sum(axis=1)
            g = level.group[k]
            first = np.full(n * self.iters, len(e), dtype=np.int64)
            np.minimum.at(first, g, k)
            order = np.lexsort((j, k, area, first[g]))
            k, j, g = k[order], j[order], g[order]
            # rank within the group: position since the group's first candidate
            starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
            rank = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
            pick = rank < self.queue_len
            k, j = k[pick], j[pick]
            # Each kept child of a picked mutant becomes a node; the other kept children join
            # its always-visible base.
            members = _COMBO_MEMBERS[j].astype(bool)
            kk, cc = np.nonzero(members)  # row of (k, j), kept child, in order
            rows, child = k[kk], cc
            node = e[rows]
            other_bits = (_COMBO_BITS[j[kk]] & ~np.left_shift(np.uint8(1), child.astype(np.uint8))).astype(np.uint8)
            f_base = (level.bits[rows] & other_bits[:, None]).astype(bool)
            f_static = f_static[node] + (_COMBO_MEMBERS[j[kk]] * level.sizes[rows]).sum(axis=1) - level.sizes[rows, child]
            f_box = [children[r][c] for r, c in zip(rows.tolist(), child.tolist())]
            f_group, f_depth = f_group[node], f_depth[node] + 1

        run.queries[labels] += queries
        run.forward_seconds += local.forward_seconds
        maps = (sixths / 6.0).reshape(n, self.iters, *spatial)
        names = labels if names is None else names
        combined, empty = zip(*(self._combine(maps[s], int(names[s])) for s in range(n)))
        ck_maps = np.zeros((n, len(checkpoints), *spatial))
        with warnings.catch_warnings():  # an all-empty prefix was warned about for the full run, if at all
            warnings.simplefilter("ignore")
            for j, k in enumerate(checkpoints):
                ck_maps[:, j] = [self._combine(maps[s, :k], int(names[s]))[0] for s in range(n)]
        # Same map for every channel, shaped like the inputs.
        return (np.broadcast_to(np.stack(combined)[:, None], x.shape).copy(), np.array(empty, dtype=np.int64),
                ck_maps.astype(x.dtype))

    def _check_degenerate(self, x, targets, base_conf, keys, run: _Run, labels=None) -> np.ndarray:
        empty = np.zeros((1, *x.shape[2:]), dtype=bool)
        batch = np.concatenate([self.occlusion(x[s], empty, np.random.default_rng(self._stream(0, 2, keys[s])))
                                for s in range(len(x))])
        scores = self._forward(batch, run, self._dtype_of(x))
        run.queries += 1
        flags = self._passes(scores, targets, base_conf)
        degenerate = np.flatnonzero(flags)
        if degenerate.size:
            msg = (
                f"samples {(degenerate if labels is None else np.asarray(labels)[degenerate]).tolist()}: the model "
                "predicts the target even with the whole input "
                f"occluded ({self.occlusion!r}), so the responsibility search is degenerate; choose another "
                "occlusion or check the model"
            )
            if self.on_degenerate == "raise":
                raise DegenerateSearchError(msg)
            if self.on_degenerate == "flag":
                warnings.warn(msg, stacklevel=4)
        return flags

    def _combine(self, iteration_maps: np.ndarray, s: int) -> tuple[np.ndarray, int]:
        """The combined map of one input and its number of iterations where nothing passed."""
        nonempty = [m for m in iteration_maps if m.max() > 0]
        n_empty = len(iteration_maps) - len(nonempty)
        if not nonempty:
            warnings.warn(f"sample {s}: no mutant passed in any iteration; its responsibility map is all zero", stacklevel=4)
            return np.zeros(iteration_maps.shape[1:]), n_empty
        if self.combine == "add":
            total = np.sum(nonempty, axis=0)
            return total / total.max(), n_empty
        # As the reference implementation: each iteration's map starts at 1 and gains its
        # responsibilities, and the maps multiply (summed as logs, so it stays finite); an
        # iteration where nothing passed multiplies by 1. Then scaled to [0, 1].
        log_total = np.sum(np.log1p(nonempty), axis=0)
        total = np.exp(log_total - log_total.max())
        lo = total.min()
        if lo == 1.0:  # every point equally responsible
            return np.ones_like(total), n_empty
        return (total - lo) / (1.0 - lo), n_empty

    def sufficient_explanation(
        self,
        inputs: torch.Tensor,
        target=None,
        attributions: torch.Tensor | Explanation | None = None,
        step: float = 0.01,
        keys=None,
    ) -> SufficientExplanation:
        """Minimal sufficient explanations: keep the top-k points by responsibility (ties
        broken by position), occlude the rest, and return the smallest k (growing by
        ``step`` of the points) that the model still classifies as the target.

        Parameters
        ----------
        inputs, target, keys
            As for :meth:`attribute` (the occlusion noise of input i is seeded by its key).
        attributions : torch.Tensor or Explanation, optional
            The maps to rank points by; computed with :meth:`attribute` if not given.
        step : float
            Growth of k, as a share of the points.
        """
        if not 0 < step <= 1:
            raise ValueError(f"step must be in (0, 1], got {step}")
        if attributions is None:
            attributions = self.attribute(inputs, target, keys=keys)
        if isinstance(attributions, Explanation):
            attributions = attributions.maps
        if attributions.shape != inputs.shape:
            raise ValueError(f"attributions shape {tuple(attributions.shape)} differs from inputs {tuple(inputs.shape)}")
        run = _Run(np.zeros(len(inputs), dtype=np.int64))
        x, targets, key, base_conf, _ = self._check_inputs(inputs, target, keys, run)
        run.queries[:] = 0  # the classification is counted by attribute(), not again here
        spatial = x.shape[2:]
        n_points = int(np.prod(spatial))
        resp = attributions.detach().cpu().numpy()[:, 0].reshape(len(x), -1)
        if not np.isfinite(resp).all():
            raise ValueError("attributions contain NaN or inf")
        k_step = max(1, int(round(step * n_points)))
        ks = list(range(k_step, n_points, k_step)) + [n_points]
        masks = np.zeros((len(x), n_points), dtype=bool)
        sizes = np.full(len(x), n_points, dtype=np.int64)
        for s in range(len(x)):
            rng = np.random.default_rng(self._stream(0, 3, key[s]))
            rank = np.argsort(-resp[s], kind="stable")
            found = False
            # Small chunks: the scan stops at the first sufficient set.
            chunk_size = min(batch_size_for(self.max_batch_size, x), 32)
            for lo in range(0, len(ks), chunk_size):
                chunk = ks[lo : lo + chunk_size]
                cand = np.zeros((len(chunk), n_points), dtype=bool)
                for i, k in enumerate(chunk):
                    cand[i, rank[:k]] = True
                mutants = self.occlusion(x[s], cand.reshape(len(chunk), *spatial), rng)
                scores = self._forward(mutants, run, self._dtype_of(x))
                run.queries[s] += len(chunk)
                ok = np.flatnonzero(self._passes(scores, np.full(len(chunk), targets[s]), np.full(len(chunk), base_conf[s])))
                if ok.size:
                    masks[s], sizes[s], found = cand[ok[0]], chunk[ok[0]], True
                    break
            if not found:
                masks[s] = True
        full = np.broadcast_to(masks.reshape(len(x), 1, *spatial), x.shape).copy()
        return SufficientExplanation(
            masks=torch.as_tensor(full), sizes=sizes, fractions=sizes / n_points, queries=run.queries.copy()
        )
