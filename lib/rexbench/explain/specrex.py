"""SpecReX: the published ReX for spectra, rule for rule as its authors' code runs it.

The authors' public code (``OfficialAC18/SpecReX``, MIT; command-line path with the
published ``srex.toml``: 20 iterations, tree depth 10, search limit 200, minimum size 25,
seed 42, linear interpolation) differs from rex-xai, which :class:`~rexbench.explain.rex.ReX`
follows, in every rule that shapes a map. Per input ``x`` with target ``t``, per iteration
``i``:

1. **Partition first.** The whole tree is drawn before any model query, in depth-first
   pre-order, from ``numpy.random.RandomState(seed + i)`` (with keys: from
   ``RandomState([seed + i, *key])``): a box ``[a, b)`` of at least ``min_size`` points is
   cut at ``mid`` uniform on ``{a+1..b-1}``, its halves at ``lt`` uniform on ``{a+1..mid-2}``
   and ``gt`` on ``{mid+2..b-1}`` (no draw where the range has one value; no cut, and that
   half belongs to no child, where it is empty), giving up to 4 children; boxes down to
   depth ``tree_depth`` are split.
2. **Short children dropped.** Children shorter than ``min_size`` are never kept: they are
   occluded in every mutant of their parent and below.
3. **Mutants.** Each box ``P`` of the current job gets exactly 14 queries, the combinations
   ``[0], [1], [2], [3], [0,1], ..., [1,2,3]`` indexed into its kept children (an index past
   their number is skipped, so with fewer than 4 kept children the 14 include repeats, the
   empty set and the full set, all queried, as the authors do). A mutant keeps
   ``[0, P.start]`` (the box's first point is always kept), ``[P.stop, L)`` and its
   children, taken from ``P``'s own mutant (occlusions of earlier levels are inherited),
   fills every other point by linear interpolation (``np.interp``) between the nearest
   kept points (constant beyond the outermost), then pastes back the other boxes of the
   job from their mutants. ``noise="gaussian"`` adds Gaussian noise at the interpolated
   points, as the paper's text says (the code adds none; default).
4. **Pass and credit.** A mutant passes if the model's top class is ``t`` (ties to the
   highest class index, as the authors' ``argsort`` picks it). Scanning the
   level's mutants in query order, a passing non-empty set is credited unless a set
   already credited is a subset of it (minimal passing sets). Each child of a credited
   set earns ``1 / |set|`` over all its points, pooled by the child's position among its
   parent's children across the boxes of a job (the authors' indexing).
5. **Refine** the credited set of smallest total length (the first on ties) as the next
   job; stop when nothing is credited, when the job's first box has no kept child (the
   remaining boxes are then skipped too), or, checked before each level, when the
   iteration has used more than ``search_limit`` queries or reached below ``tree_depth``.
6. **Combine** by adding every credit into one ``float32`` map, in place, iteration after
   iteration, and dividing by the maximum.
7. ``min_work`` > 0: an iteration that used fewer than ``min_work * search_limit``
   queries is run again on the next partition of its stream (up to ``max_restarts``
   times), and the map gathered so far is discarded, as the authors' Python API does
   (their command line crashes instead; ``srex.toml`` sets 0, which never restarts). Their
   API also hard-codes 0.2 for a restarted attempt and skips the depth and search-limit
   checks; here the caller's ``min_work`` and the command line's checks apply throughout.

Spectra are taken as sampled on an evenly spaced axis (the authors interpolate over the
wavenumbers, the same thing for an even axis). The caller normalises and puts the model in
eval mode (the authors' command line applies SNV and ``.eval()`` itself).

All searches of a call advance level by level together, so every level's mutants go to
the model in batches of ``max_batch_size`` (the authors send one mutant per call); no
rule depends on the batch.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ._checks import check_checkpoints, check_inputs, check_keys, check_scores, warn_if_training
from .base import Explainer, Explanation
from .occlusion import noise_sigma
from .rex import batch_size_for

# The authors' 14 combinations, as indices into a box's kept children.
COMBINATIONS = ([0], [1], [2], [3], [0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3],
                [0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3])


class _Box:
    """A half-open interval of the spectrum, a node of an iteration's tree."""

    __slots__ = ("start", "stop", "depth", "digit", "children", "mutant")

    def __init__(self, start: int, stop: int, depth: int, digit: int):
        self.start, self.stop, self.depth, self.digit = start, stop, depth, digit
        self.children: list[_Box] = []
        self.mutant: np.ndarray | None = None

    def __len__(self) -> int:
        return self.stop - self.start


def _random_pos(rs: np.random.RandomState, start: int, stop: int) -> int | None:
    """The authors' ``random_pos``: uniform on ``{start+1 .. stop-1}``, no draw for one value."""
    start += 1
    if stop - start < 2:
        return None
    if stop - start == 2:
        return start + 1
    return int(rs.randint(start, stop))


def spawn_children(box: _Box, rs: np.random.RandomState, min_size: int) -> list[_Box]:
    """Split ``box`` hierarchically (a middle cut, then one cut in each half): 0, 2 or 4
    children, numbered in the order made.

    Parameters
    ----------
    box : _Box
        The box to split (nothing happens below ``min_size`` points).
    rs : numpy.random.RandomState
        The iteration's stream.
    min_size : int
        Boxes shorter than this are not split.

    Returns
    -------
    list of _Box
        The children, possibly shorter than ``min_size`` (the search drops those).
    """
    a, b = box.start, box.stop
    if b - a < min_size:
        return []
    mid = _random_pos(rs, a, b)
    lt = _random_pos(rs, a, mid - 1)
    gt = _random_pos(rs, mid + 1, b)
    bounds = ([(a, lt), (lt, mid)] if lt is not None else []) + ([(mid, gt), (gt, b)] if gt is not None else [])
    return [_Box(s, e, box.depth + 1, k) for k, (s, e) in enumerate(bounds)]


def build_tree(length: int, rs: np.random.RandomState, min_size: int, tree_depth: int) -> _Box:
    """An iteration's whole partition tree, drawn in depth-first pre-order before any query.

    Parameters
    ----------
    length : int
        Points of the spectrum.
    rs : numpy.random.RandomState
        The iteration's stream (the authors: ``RandomState(seed + iteration)``).
    min_size : int
        Boxes shorter than this are not split.
    tree_depth : int
        Boxes deeper than this are not split (the whole spectrum has depth 0).

    Returns
    -------
    _Box
        The root ``[0, length)``.
    """
    root = _Box(0, length, 0, 0)
    stack = [root]
    while stack:
        node = stack.pop()
        if node.depth <= tree_depth:
            node.children = spawn_children(node, rs, min_size)
        stack.extend(reversed(node.children))  # child 0's subtree first
    return root


def _scaled(total: np.ndarray) -> np.ndarray:
    """A map divided by its maximum (the authors' normalisation), unchanged if not positive."""
    peak = total.max()
    return total / peak if peak > 0 else total


def top_class(scores: np.ndarray) -> np.ndarray:
    """The top class of each row, ties to the highest index, as the authors'
    ``np.argsort(scores)[-1:]`` picks it."""
    return scores.shape[1] - 1 - np.argmax(scores[:, ::-1], axis=1)


class _Search:
    """One (input, iteration) search: its job, the map it adds into, its queries."""

    def __init__(self, sample: int, root: _Box, into: np.ndarray):
        self.sample, self.job, self.queries, self.depth = sample, [root], 0, 0
        self.map = into  # the input's running total (float32, as the authors' map), added to in place
        self.credited = self.done = False


class SpecReX(Explainer):
    """The published SpecReX search for spectra ``(N, C, L)`` (see the module's docstring
    for its rules), in captum's style; returns an
    :class:`~rexbench.explain.base.Explanation` with per-input ``queries``, ``restarts``,
    ``empty_iterations`` and ``status`` ("ok", "not_predicted").

    Parameters
    ----------
    forward_func : torch.nn.Module or callable
        Maps a batch ``(N, C, L)`` to class scores ``(N, n_classes)``.
    iters : int
        Iterations (published: 20).
    tree_depth : int
        Boxes deeper than this are not split (10).
    min_size : int
        Shorter boxes are not split and shorter children never kept (25).
    search_limit : int or None
        Once an iteration has used more queries than this, no new level starts (200).
    noise : {None, "gaussian"}
        None: the authors' code (interpolation only); "gaussian": plus Gaussian noise at the
        interpolated points with the input's own noise level (the paper's text).
    min_work : float
        Restart an iteration that used fewer than ``min_work * search_limit`` queries (0:
        never, the published config; the authors' Python API: 0.2).
    max_restarts : int
        Restarts allowed per iteration (5).
    max_batch_size : int
        Most mutants per forward pass (None: :func:`~rexbench.explain.rex.default_batch_size`,
        as :class:`~rexbench.explain.ReX`); it does not change maps.
    seed : int
        Iteration ``i`` draws its partition from ``RandomState(seed + i)`` (published: 42);
        with keys, from ``RandomState([seed + i, *key])``.
    on_mispredicted : {"raise", "nan"}
        An input the model does not classify as its target: raise, or a NaN map.
    """

    name = "specrex"
    # Version 2: each child digit's share is summed in float32, as the authors' code does
    # (version 1 summed in float64; maps differed in the last bit).
    version = 2
    dims = (1,)
    stochastic = True

    def __init__(self, forward_func, *, iters: int = 20, tree_depth: int = 10, min_size: int = 25,
                 search_limit: int | None = 200, noise: str | None = None, min_work: float = 0.0,
                 max_restarts: int = 5, max_batch_size: int | None = None, seed: int = 42, on_mispredicted: str = "raise"):
        super().__init__(forward_func)
        checks = {"iters": iters >= 1, "tree_depth": tree_depth >= 0, "min_size": min_size >= 3,
                  "search_limit": search_limit is None or search_limit >= 14, "min_work": 0.0 <= min_work <= 1.0,
                  "max_restarts": max_restarts >= 0, "max_batch_size": max_batch_size is None or max_batch_size >= 1}
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"SpecReX parameter {bad[0]}={locals()[bad[0]]!r} is out of range")
        if noise not in (None, "gaussian"):
            raise ValueError(f"noise must be None or 'gaussian', got {noise!r}")
        if on_mispredicted not in ("raise", "nan"):
            raise ValueError(f"on_mispredicted must be 'raise' or 'nan', got {on_mispredicted!r}")
        self.iters, self.tree_depth, self.min_size = int(iters), int(tree_depth), int(min_size)
        self.search_limit, self.noise, self.min_work = search_limit, noise, float(min_work)
        self.max_restarts, self.seed = int(max_restarts), int(seed)
        self.max_batch_size = None if max_batch_size is None else int(max_batch_size)
        self.on_mispredicted = on_mispredicted
        self._forward_seconds = 0.0

    def _settings(self):
        return {"iters": self.iters, "tree_depth": self.tree_depth, "min_size": self.min_size,
                "search_limit": self.search_limit, "noise": self.noise, "min_work": self.min_work,
                "max_restarts": self.max_restarts, "seed": self.seed, "on_mispredicted": self.on_mispredicted}

    # ------------------------------------------------------------------ public API
    def attribute(self, inputs: torch.Tensor, target=None, keys=None, checkpoints=None) -> Explanation:
        """Responsibility maps in [0, 1], shaped like ``inputs`` (one map for all channels).

        Parameters
        ----------
        inputs : torch.Tensor
            Spectra ``(N, C, L)``.
        target : int, sequence of int or None
            One class per input or one for all; ``None`` explains the predicted class.
        keys : sequence of int, optional
            Each input's key; without keys every input gets the authors' partitions
            (``RandomState(seed + i)``), so all inputs share them.
        checkpoints : sequence of int, optional
            Iteration counts in ``[1, iters]``: the map after the first k iterations, for
            each k. Iteration i's draws (and restarts) do not depend on ``iters``, so
            checkpoint k is the map ``iters=k`` gives.

        Returns
        -------
        Explanation
            ``maps``; ``stats``: ``queries``, ``restarts``, ``empty_iterations``, ``status``;
            with ``checkpoints``, ``checkpoint_maps`` ``(N, K, L)``, in the sorted order of the
            distinct checkpoints.

        Raises
        ------
        ValueError
            On bad inputs, targets or keys (before any query), or with
            ``on_mispredicted="raise"`` for an input not classified as its target.
        """
        t0 = time.perf_counter()
        ck = check_checkpoints(checkpoints, self.iters, method=self.name)
        inputs, t = check_inputs(inputs, target, dims=self.dims, method=self.name)
        keys = check_keys(keys, len(inputs), method=self.name)
        warn_if_training(self.forward_func, self.name)
        x = inputs.detach().cpu().numpy()
        self._forward_seconds = 0.0
        scores = self._forward(x, inputs.dtype)
        check_scores(torch.as_tensor(scores), len(x), t, method=self.name)  # targets in range
        pred = top_class(scores)
        t = pred.copy() if t is None else t.numpy().astype(np.int64)
        ok = pred == t
        if not ok.all() and self.on_mispredicted == "raise":
            wrong = np.flatnonzero(~ok)
            raise ValueError(f"the model does not classify samples {wrong.tolist()} as their target (predicted "
                             f"{pred[wrong].tolist()}, target {t[wrong].tolist()}); SpecReX explains the predicted class")
        idx = np.flatnonzero(ok)
        total, queries, restarts, empty, snaps = self._responsibility(x, t, keys, idx, inputs.dtype, ck)
        queries += 1  # the first prediction
        maps = np.full(x.shape, np.nan, dtype=x.dtype)
        ck_maps = np.full((len(x), len(ck), x.shape[-1]), np.nan, dtype=x.dtype)
        for s in idx:
            maps[s] = _scaled(total[s]).astype(x.dtype)[None]
            for j, k in enumerate(ck):
                ck_maps[s, j] = _scaled(snaps[k][s])
        status = np.where(ok, "ok", "not_predicted").astype("<U13")
        stats = {"queries": queries, "restarts": restarts, "empty_iterations": empty, "status": status}
        if ck:
            stats["checkpoint_maps"] = ck_maps
        return Explanation(torch.as_tensor(maps, dtype=inputs.dtype), stats, seconds=time.perf_counter() - t0,
                           forward_seconds=self._forward_seconds)

    # ------------------------------------------------------------------ the search
    def _responsibility(self, x: np.ndarray, t: np.ndarray, keys, idx: np.ndarray, dtype, checkpoints=()):
        """The unnormalised ``float32`` maps of inputs ``idx`` and their searches' queries,
        restarts and iterations where nothing was credited; and the maps after each of
        ``checkpoints`` iterations, keyed by the checkpoint."""
        n, L = len(x), x.shape[-1]
        queries = np.zeros(n, dtype=np.int64)
        restarts = np.zeros(n, dtype=np.int64)
        empty = np.zeros(n, dtype=np.int64)
        total = np.zeros((n, L), dtype=np.float32)
        streams = {s: [np.random.RandomState(self._entropy(i, keys[s])) for i in range(self.iters)] for s in idx}
        noise = {s: [np.random.default_rng([self.seed, i, 1, *keys[s]]) for i in range(self.iters)] for s in idx}
        sigma = {s: noise_sigma(x[s]) for s in idx}
        pending = {(s, i): self.max_restarts for s in idx for i in range(self.iters)}
        snaps = {}
        # Iterations run in order per input (a restart discards what came before it), all
        # inputs' iteration i together; within one, all levels of all inputs advance together.
        for i in range(self.iters):
            todo = list(idx)
            while todo:
                searches = [_Search(s, build_tree(L, streams[s][i], self.min_size, self.tree_depth), total[s])
                            for s in todo]
                self._run(x, t, searches, {s: (noise[s][i], sigma[s]) for s in todo}, dtype)
                again = []
                for search in searches:
                    s = search.sample
                    queries[s] += search.queries
                    limit = (self.search_limit or 0) * self.min_work
                    if search.queries < limit and pending[s, i] > 0:
                        pending[s, i] -= 1
                        restarts[s] += 1
                        total[s] = 0.0  # the authors' API: a restart starts from an empty map
                        again.append(s)
                        continue
                    empty[s] += not search.credited
                todo = again
            if i + 1 in checkpoints:
                snaps[i + 1] = total.copy()
        return total, queries, restarts, empty, snaps

    def _entropy(self, iteration: int, key: tuple[int, ...]):
        return self.seed + iteration if not key else [self.seed + iteration, *key]

    def _forward(self, batch: np.ndarray, dtype) -> np.ndarray:
        t0 = time.perf_counter()
        with torch.no_grad():
            out = check_scores(self.forward_func(torch.as_tensor(batch, dtype=dtype)), len(batch), method=self.name)
        self._forward_seconds += time.perf_counter() - t0
        return out

    def _mutants(self, x: np.ndarray, search: _Search, rng, sigma: float):
        """The level's mutants of one search: ``(mutant, kept children, box)`` in query order."""
        L = x.shape[-1]
        grid = np.arange(L)
        out = []
        for box in search.job:
            held = [h for h in search.job if h is not box]
            base = x if box.mutant is None else box.mutant
            kept = [c for c in box.children if len(c) >= self.min_size]
            if not kept:
                break  # the authors' loop ends here, skipping the job's later boxes
            for combo in COMBINATIONS:
                chosen = [kept[j] for j in combo if j < len(kept)]
                keep = np.zeros(L, dtype=bool)
                keep[: box.start + 1] = True
                keep[box.stop :] = True
                for c in chosen:
                    keep[c.start : c.stop] = True
                mutant = base.copy()
                hidden = ~keep
                if hidden.any():
                    for ch in range(len(mutant)):
                        mutant[ch, hidden] = np.interp(grid[hidden], grid[keep], base[ch, keep])
                    if self.noise == "gaussian":
                        mutant[:, hidden] += rng.normal(0.0, sigma, size=(len(mutant), int(hidden.sum())))
                for h in held:
                    mutant[:, h.start : h.stop] = h.mutant[:, h.start : h.stop]
                out.append((mutant, chosen))
                if len(chosen) == 1:
                    chosen[0].mutant = mutant
        return out

    def _run(self, x, targets, searches: list[_Search], noise: dict, dtype) -> None:
        """Advance every search level by level until each stops."""
        active = searches
        while active:
            level = []
            for search in active:
                over = self.search_limit is not None and search.queries > self.search_limit
                if search.depth > self.tree_depth or over:
                    search.done = True
                    continue
                rng, sigma = noise[search.sample]
                mutants = self._mutants(x[search.sample], search, rng, sigma)
                if not mutants:
                    search.done = True
                    continue
                level.append((search, mutants))
            if not level:
                return
            batch = np.stack([m for _, mutants in level for m, _ in mutants]).astype(x.dtype, copy=False)
            owner = np.concatenate([[search.sample] * len(mutants) for search, mutants in level])
            passed = np.empty(len(batch), dtype=bool)
            size = batch_size_for(self.max_batch_size, batch)
            for lo in range(0, len(batch), size):
                scores = self._forward(batch[lo : lo + size], dtype)
                passed[lo : lo + len(scores)] = top_class(scores) == targets[owner[lo : lo + len(scores)]]
            at = 0
            for search, mutants in level:
                ok = passed[at : at + len(mutants)]
                at += len(mutants)
                search.queries += len(mutants)
                self._credit(search, mutants, ok)
            active = [s for s, _ in level if not s.done]

    def _credit(self, search: _Search, mutants, ok) -> None:
        """Credit the level's minimal passing sets and choose the next job."""
        credited: list[list[_Box]] = []
        for (_, chosen), passed in zip(mutants, ok):
            if passed and chosen and not any(set(map(id, c)) <= set(map(id, chosen)) for c in credited):
                credited.append(chosen)
        share = np.zeros(4, dtype=np.float32)  # the authors sum each digit's share in float32
        for chosen in credited:
            for c in chosen:
                share[c.digit] += 1.0 / len(chosen)
        if share.sum() == 0:
            search.done = True
            return
        search.credited = True
        boxes = {id(c): c for chosen in credited for c in chosen}
        for c in boxes.values():
            search.map[c.start : c.stop] += share[c.digit]
        search.depth = max(search.depth, max(c.depth for c in boxes.values()))
        areas = [sum(len(c) for c in chosen) for chosen in credited]
        search.job = credited[int(np.argmin(areas))]  # the first of the smallest
