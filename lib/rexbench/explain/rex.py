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
to the model in batched forward passes of at most ``max_batch_size``.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ..published import PUBLISHED_REX_ITERS, PUBLISHED_REX_SEARCH_LIMIT
from .occlusion import Occlusion, make_occlusion
from .partition import COMBINATIONS, Box, box_size, box_slices, split


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
class _Node:
    sample: int
    it: int
    box: Box
    static: tuple[Box, ...]  # other kept boxes, visible in every mutant of this node
    depth: int


@dataclass
class RunStats:
    """What the last :meth:`ReX.attribute` call cost: per-input model queries, seconds in
    the model's forward passes and in total, and per-input counts of iterations that found
    no passing mutant."""

    queries: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    forward_seconds: float = 0.0
    total_seconds: float = 0.0
    empty_iterations: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    degenerate: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def overhead_fraction(self) -> float:
        """Share of wall time spent outside the model's forward passes."""
        if self.total_seconds <= 0:
            return float("nan")
        return 1.0 - self.forward_seconds / self.total_seconds


class ReX:
    """Causal-responsibility explanations, in captum's style: the model goes to the
    constructor, the data to :meth:`attribute`.

    ``ReX.version`` changes whenever a change to this class changes its maps at equal
    settings; the chapters put it in their artifacts' parameters, so cached maps made by
    an earlier version are recomputed, never reused. Version 2: ``min_box_size`` bounds
    the box that is split (not its children), boxes down to depth ``tree_depth`` are
    split, and "multiply" multiplies 1 + responsibility, as the reference implementation does.

    Parameters (SpecReX defaults):
        forward_func: a torch module or callable mapping a batch ``(N, C, *S)`` to class
            scores ``(N, n_classes)``.
        iters: number of independently seeded iterations (20).
        tree_depth: boxes deeper than this are not split (10).
        min_box_size: boxes shorter than this along the axes they would be cut on are not
            split (25 points); their children may be smaller (:func:`~rexbench.explain.partition.split`).
        search_limit: once an iteration has used more model queries than this, no new
            level starts (200).
        occlusion: a name from :data:`rexbench.explain.occlusion.OCCLUSIONS` or an
            :class:`~rexbench.explain.occlusion.Occlusion` ("interp_gaussian" for spectra).
        combine: "multiply" (reference implementation) or "add".
        queue_len: how many of the smallest passing mutants are refined per level (1).
        confidence_filter: a mutant passes only with target confidence at least this
            fraction of the original's (0 = the predicted class alone decides).
        max_batch_size: most mutants per forward pass (128). Bigger is not faster on a
            CPU: once a batch's activations outgrow the cache, each query costs more (the
            Raman LRCN: about 3x per query at 1,024 than at 128; the 3D CNN: best at 16).
            ``benchmarks/bench_batch.py`` measures a model's cost per query by batch size.
        seed: seeds every partition and every occlusion noise draw.
        on_degenerate: what to do when the fully occluded input is still classified as the
            target: "raise" (:class:`DegenerateSearchError`) or "flag" (warn, record it in
            ``stats.degenerate`` and search anyway, for studies that report such cases).
    """

    version = 2

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
        max_batch_size: int = 128,
        seed: int = 0,
        on_degenerate: str = "raise",
    ):
        if not callable(forward_func):
            raise TypeError(f"forward_func must be callable, got {type(forward_func).__name__}")
        checks = {
            "iters": iters >= 1,
            "tree_depth": tree_depth >= 1,
            "min_box_size": min_box_size >= 1,
            "search_limit": search_limit is None or search_limit >= 14,
            "queue_len": queue_len >= 1,
            "max_batch_size": max_batch_size >= 1,
            "confidence_filter": 0.0 <= confidence_filter <= 1.0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            name = bad[0]
            raise ValueError(f"ReX parameter {name}={locals()[name]!r} is out of range")
        if on_degenerate not in ("raise", "flag"):
            raise ValueError(f"on_degenerate must be 'raise' or 'flag', got {on_degenerate!r}")
        self.on_degenerate = on_degenerate
        if combine not in ("multiply", "add"):
            raise ValueError(f"combine must be 'multiply' or 'add', got {combine!r}")
        self.forward_func = forward_func
        self.iters, self.tree_depth, self.min_box_size = int(iters), int(tree_depth), int(min_box_size)
        self.search_limit = search_limit
        self.occlusion = make_occlusion(occlusion)
        self.combine, self.queue_len = combine, int(queue_len)
        self.confidence_filter = float(confidence_filter)
        self.max_batch_size = int(max_batch_size)
        self.seed = int(seed)
        self.stats = RunStats()

    # ------------------------------------------------------------------ model access
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """Class scores for a numpy batch, checked, counted and timed."""
        t0 = time.perf_counter()
        x = torch.as_tensor(batch, dtype=self._dtype)
        with torch.no_grad():
            out = self.forward_func(x)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"model returned {type(out).__name__}, expected a tensor of class scores (N, classes)")
        if out.ndim != 2 or out.shape[0] != len(batch):
            raise ValueError(f"model returned shape {tuple(out.shape)} for a batch of {len(batch)}; expected ({len(batch)}, classes)")
        out = out.detach().float().cpu().numpy()
        if not np.isfinite(out).all():
            raise ValueError("model returned NaN or inf scores")
        self.stats.forward_seconds += time.perf_counter() - t0
        return out

    def _confidence(self, scores: np.ndarray) -> np.ndarray:
        z = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _check_inputs(self, inputs, target):
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")
        if inputs.ndim < 3:
            raise ValueError(f"inputs must be (N, C, *spatial) with at least one spatial axis, got shape {tuple(inputs.shape)}")
        if inputs.shape[0] == 0:
            raise ValueError("inputs is an empty batch")
        if not torch.is_floating_point(inputs):
            raise TypeError(f"inputs must be a floating-point tensor, got {inputs.dtype}")
        x = inputs.detach().cpu().numpy()
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if bad.any():
            raise ValueError(f"inputs contain NaN or inf (samples {np.flatnonzero(bad).tolist()})")
        if isinstance(self.forward_func, torch.nn.Module) and self.forward_func.training:
            warnings.warn("the model is in training mode (dropout/batch-norm make its answers random); call model.eval()", stacklevel=3)
        self._dtype = inputs.dtype
        scores = self._forward(x)
        n_classes = scores.shape[1]
        pred = scores.argmax(axis=1)
        if target is None:
            t = pred.copy()
        else:
            t = np.broadcast_to(np.asarray(target.cpu() if isinstance(target, torch.Tensor) else target), (len(x),)).astype(np.int64)
            if ((t < 0) | (t >= n_classes)).any():
                raise ValueError(f"target {t.tolist()} out of range for a model with {n_classes} classes")
            wrong = np.flatnonzero(pred != t)
            if wrong.size:
                raise ValueError(
                    f"the model does not classify samples {wrong.tolist()} as their target "
                    f"(predicted {pred[wrong].tolist()}, target {t[wrong].tolist()}); ReX explains the predicted class"
                )
        conf = self._confidence(scores)[np.arange(len(x)), t]
        return x, t, conf

    def _passes(self, scores: np.ndarray, targets: np.ndarray, base_conf: np.ndarray) -> np.ndarray:
        ok = scores.argmax(axis=1) == targets
        if self.confidence_filter > 0:
            conf = self._confidence(scores)[np.arange(len(scores)), targets]
            ok &= conf >= self.confidence_filter * base_conf
        return ok

    def _evaluate(self, x, targets, base_conf, jobs, rngs):
        """Occlude and classify every mutant in ``jobs`` (a list of (sample, mask), grouped
        by sample), in chunks of ``max_batch_size``; returns a bool array of passes."""
        passed = np.zeros(len(jobs), dtype=bool)
        for lo in range(0, len(jobs), self.max_batch_size):
            chunk = jobs[lo : lo + self.max_batch_size]
            idx = np.array([s for s, _ in chunk])
            # Each sample's mutants are occluded in one call, with that sample's noise rng.
            bounds = np.flatnonzero(np.diff(idx)) + 1
            mutants = [
                self.occlusion(x[idx[a]], np.stack([m for _, m in chunk[a:b]]), rngs[idx[a]])
                for a, b in zip([0, *bounds], [*bounds, len(chunk)])
            ]
            scores = self._forward(np.concatenate(mutants))
            passed[lo : lo + len(chunk)] = self._passes(scores, targets[idx], base_conf[idx])
            self._queries += np.bincount(idx, minlength=len(x))
        return passed

    # ------------------------------------------------------------------ public API
    def attribute(self, inputs: torch.Tensor, target=None) -> torch.Tensor:
        """Responsibility maps in [0, 1], shaped like ``inputs`` (the map is shared by all
        channels). ``target``: an int or one per input; ``None`` explains the predicted
        class. Raises :class:`DegenerateSearchError` if the fully occluded input is still
        classified as the target."""
        t_start = time.perf_counter()
        self.stats = RunStats()
        self._queries = np.zeros(len(inputs), dtype=np.int64)
        x, targets, base_conf = self._check_inputs(inputs, target)
        self._queries += 1
        n, spatial = len(x), x.shape[2:]
        self._check_degenerate(x, targets, base_conf)

        # One partition rng per (input, iteration) and one noise rng per input, seeded
        # without the input's position in the batch: each input's search draws the same
        # numbers in the same order whatever else is in the batch, so batching does not
        # change maps.
        part_rngs = [[np.random.default_rng([self.seed, it, 0]) for it in range(self.iters)] for _ in range(n)]
        noise_rngs = [np.random.default_rng([self.seed, 1]) for _ in range(n)]
        maps = np.zeros((n, self.iters, *spatial), dtype=np.float64)
        work = np.zeros((n, self.iters), dtype=np.int64)
        whole: Box = tuple((0, d) for d in spatial)
        frontier = [_Node(s, it, whole, (), 0) for s in range(n) for it in range(self.iters)]

        while frontier:
            # Expand: split each node's box, 14 mutants per split.
            expanded, jobs = [], []
            for node in frontier:
                if node.depth > self.tree_depth:
                    continue
                if self.search_limit is not None and work[node.sample, node.it] > self.search_limit:
                    continue
                children = split(node.box, part_rngs[node.sample][node.it], self.min_box_size)
                if children is None:
                    continue
                base = np.zeros(spatial, dtype=bool)
                for b in node.static:
                    base[box_slices(b)] = True
                child_masks = []
                for c in children:
                    cm = np.zeros(spatial, dtype=bool)
                    cm[box_slices(c)] = True
                    child_masks.append(cm)
                for combo in COMBINATIONS:
                    mask = base.copy()
                    for k in combo:
                        mask |= child_masks[k]
                    jobs.append((node.sample, mask))
                expanded.append((node, children))
            if not expanded:
                break
            # Keep each sample's mutants together, in node order.
            order = sorted(range(len(jobs)), key=lambda j: (jobs[j][0], j))
            passed_sorted = self._evaluate(x, targets, base_conf, [jobs[j] for j in order], noise_rngs)
            passed = np.empty(len(jobs), dtype=bool)
            passed[order] = passed_sorted

            # Responsibility, and the next level's nodes.
            candidates: dict[tuple[int, int], list] = {}
            for e, (node, children) in enumerate(expanded):
                work[node.sample, node.it] += len(COMBINATIONS)
                static_area = sum(box_size(b) for b in node.static)
                for j, combo in enumerate(COMBINATIONS):
                    if not passed[e * len(COMBINATIONS) + j]:
                        continue
                    r = 1.0 / len(combo)
                    for k in combo:
                        maps[(node.sample, node.it, *box_slices(children[k]))] += r
                    area = static_area + sum(box_size(children[k]) for k in combo)
                    candidates.setdefault((node.sample, node.it), []).append((area, e, combo))
            frontier = []
            for (s, it), cands in candidates.items():
                cands.sort(key=lambda c: (c[0], c[1]))  # smallest area first, stable
                for _, e, combo in cands[: self.queue_len]:
                    node, children = expanded[e]
                    kept = [children[k] for k in combo]
                    for i, box in enumerate(kept):
                        static = node.static + tuple(b for j, b in enumerate(kept) if j != i)
                        frontier.append(_Node(s, it, box, static, node.depth + 1))

        degenerate = self.stats.degenerate
        out = np.stack([self._combine(maps[s], s) for s in range(n)])
        self.stats.degenerate = degenerate
        self.stats.queries = self._queries.copy()
        self.stats.total_seconds = time.perf_counter() - t_start
        # Same map for every channel, shaped like the inputs.
        out = np.broadcast_to(out[:, None], x.shape).copy()
        return torch.as_tensor(out, dtype=inputs.dtype)

    def _check_degenerate(self, x, targets, base_conf):
        empty = np.zeros((1, *x.shape[2:]), dtype=bool)
        rng = np.random.default_rng([self.seed, 0, 2])
        batch = np.concatenate([self.occlusion(x[s], empty, rng) for s in range(len(x))])
        scores = self._forward(batch)
        self._queries += 1
        flags = self._passes(scores, targets, base_conf)
        self.stats.degenerate = flags
        degenerate = np.flatnonzero(flags)
        if degenerate.size:
            msg = (
                f"samples {degenerate.tolist()}: the model predicts the target even with the whole input "
                f"occluded ({self.occlusion!r}), so the responsibility search is degenerate; choose another "
                "occlusion or check the model"
            )
            if self.on_degenerate == "raise":
                raise DegenerateSearchError(msg)
            warnings.warn(msg, stacklevel=3)

    def _combine(self, iteration_maps: np.ndarray, s: int) -> np.ndarray:
        nonempty = [m for m in iteration_maps if m.max() > 0]
        if len(self.stats.empty_iterations) != len(self._queries):
            self.stats.empty_iterations = np.zeros(len(self._queries), dtype=np.int64)
        self.stats.empty_iterations[s] = len(iteration_maps) - len(nonempty)
        if not nonempty:
            warnings.warn(f"sample {s}: no mutant passed in any iteration; its responsibility map is all zero", stacklevel=3)
            return np.zeros(iteration_maps.shape[1:])
        if self.combine == "add":
            total = np.sum(nonempty, axis=0)
            return total / total.max()
        # As the reference implementation: each iteration's map starts at 1 and gains its
        # responsibilities, and the maps multiply (summed as logs, so it stays finite); an
        # iteration where nothing passed multiplies by 1. Then scaled to [0, 1].
        log_total = np.sum(np.log1p(nonempty), axis=0)
        total = np.exp(log_total - log_total.max())
        lo = total.min()
        if lo == 1.0:  # every point equally responsible
            return np.ones_like(total)
        return (total - lo) / (1.0 - lo)

    def sufficient_explanation(
        self,
        inputs: torch.Tensor,
        target=None,
        attributions: torch.Tensor | None = None,
        step: float = 0.01,
    ) -> SufficientExplanation:
        """Minimal sufficient explanations: keep the top-k points by responsibility (ties
        broken by position), occlude the rest, and return the smallest k (growing by
        ``step`` of the points) that the model still classifies as the target."""
        if not 0 < step <= 1:
            raise ValueError(f"step must be in (0, 1], got {step}")
        if attributions is None:
            attributions = self.attribute(inputs, target)
        if attributions.shape != inputs.shape:
            raise ValueError(f"attributions shape {tuple(attributions.shape)} differs from inputs {tuple(inputs.shape)}")
        self._queries = np.zeros(len(inputs), dtype=np.int64)
        x, targets, base_conf = self._check_inputs(inputs, target)
        spatial = x.shape[2:]
        n_points = int(np.prod(spatial))
        resp = attributions.detach().cpu().numpy()[:, 0].reshape(len(x), -1)
        if not np.isfinite(resp).all():
            raise ValueError("attributions contain NaN or inf")
        k_step = max(1, int(round(step * n_points)))
        ks = list(range(k_step, n_points, k_step)) + [n_points]
        rng = np.random.default_rng([self.seed, 0, 3])
        masks = np.zeros((len(x), n_points), dtype=bool)
        sizes = np.full(len(x), n_points, dtype=np.int64)
        for s in range(len(x)):
            rank = np.argsort(-resp[s], kind="stable")
            found = False
            # Small chunks: the scan stops at the first sufficient set.
            chunk_size = min(self.max_batch_size, 32)
            for lo in range(0, len(ks), chunk_size):
                chunk = ks[lo : lo + chunk_size]
                cand = np.zeros((len(chunk), n_points), dtype=bool)
                for i, k in enumerate(chunk):
                    cand[i, rank[:k]] = True
                mutants = self.occlusion(x[s], cand.reshape(len(chunk), *spatial), rng)
                scores = self._forward(mutants)
                self._queries[s] += len(chunk)
                ok = np.flatnonzero(self._passes(scores, np.full(len(chunk), targets[s]), np.full(len(chunk), base_conf[s])))
                if ok.size:
                    masks[s], sizes[s], found = cand[ok[0]], chunk[ok[0]], True
                    break
            if not found:
                masks[s] = True
        full = np.broadcast_to(masks.reshape(len(x), 1, *spatial), x.shape).copy()
        return SufficientExplanation(
            masks=torch.as_tensor(full), sizes=sizes, fractions=sizes / n_points, queries=self._queries.copy()
        )
