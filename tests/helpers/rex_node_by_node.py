"""ReX's search as version 4 ran it, node by node in Python (masks built box by box,
responsibility added in floats): the vectorised search must give the same maps and query
counts with every noise-free occlusion, since both draw the same partitions."""
from dataclasses import dataclass

import numpy as np

from rexbench.explain.partition import COMBINATIONS, Box, box_size, box_slices, split
from rexbench.explain.rex import ReX, _Run, batch_size_for


@dataclass
class _Node:
    sample: int
    it: int
    box: Box
    static: tuple
    depth: int


class NodeByNodeReX(ReX):
    """ReX with the version-4 search loop."""

    def _evaluate_jobs(self, x, targets, base_conf, jobs, rngs, run: _Run):
        """Occlude and classify every mutant in ``jobs`` (a list of (sample, mask), grouped
        by sample), in chunks of ``max_batch_size``; returns a bool array of passes."""
        passed = np.zeros(len(jobs), dtype=bool)
        batch = batch_size_for(self.max_batch_size, x)
        for lo in range(0, len(jobs), batch):
            chunk = jobs[lo : lo + batch]
            idx = np.array([s for s, _ in chunk])
            # Each sample's mutants are occluded in one call, with that sample's noise rng.
            bounds = np.flatnonzero(np.diff(idx)) + 1
            mutants = [
                self.occlusion(x[idx[a]], np.stack([m for _, m in chunk[a:b]]), rngs[idx[a]])
                for a, b in zip([0, *bounds], [*bounds, len(chunk)])
            ]
            scores = self._forward(np.concatenate(mutants), run, self._dtype_of(x))
            passed[lo : lo + len(chunk)] = self._passes(scores, targets[idx], base_conf[idx])
            run.queries += np.bincount(idx, minlength=len(x))
        return passed

    def _search(self, x, targets, base_conf, keys, run: _Run, labels, names=None, checkpoints=()):
        """The responsibility search for inputs the model classifies as their targets."""
        n, spatial = len(x), x.shape[2:]
        # One partition rng per (input, iteration) and one noise rng per input, seeded by the
        # input's key, never its position: each input's search draws the same numbers in the
        # same order whatever else is in the batch, so batching does not change maps.
        part_rngs = [[np.random.default_rng(self._stream(it, 0, keys[s])) for it in range(self.iters)] for s in range(n)]
        noise_rngs = [np.random.default_rng(self._stream(1, 1, keys[s])) for s in range(n)]
        maps = np.zeros((n, self.iters, *spatial), dtype=np.float64)
        work = np.zeros((n, self.iters), dtype=np.int64)
        whole: Box = tuple((0, d) for d in spatial)
        frontier = [_Node(s, it, whole, (), 0) for s in range(n) for it in range(self.iters)]
        queries = np.zeros(n, dtype=np.int64)
        local = _Run(queries)

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
            passed_sorted = self._evaluate_jobs(x, targets, base_conf, [jobs[j] for j in order], noise_rngs, local)
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

        run.queries[labels] += queries
        run.forward_seconds += local.forward_seconds
        combined, empty = zip(*(self._combine(maps[s], int(labels[s])) for s in range(n)))
        ck = np.stack([[self._combine(maps[s][:k], int(labels[s]))[0] for k in checkpoints] for s in range(n)])
        # Same map for every channel, shaped like the inputs.
        return (np.broadcast_to(np.stack(combined)[:, None], x.shape).copy(), np.array(empty, dtype=np.int64),
                ck.reshape(n, len(checkpoints), *x.shape[2:]))

