"""Inference without gradients, a little cheaper and bit for bit the same.

A ReLU followed by a max-pool gives the same numbers as the max-pool followed by the ReLU
(the ReLU is monotone, so ``relu(max(a, b)) == max(relu(a), relu(b))`` exactly), and the
ReLU then runs on the pool's output, 2 to 8 times smaller. Only where no gradient is
recorded: captum's DeepLIFT and guided backpropagation attach rules to the ReLU modules
and their order, and training keeps the modules' own order. Never where a module of the
block carries a hook (e.g. captum's layer methods or Quantus' randomisation reading an
activation), nor for a pool that returns its indices."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules import module as _module

_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
#: False: every model runs its modules in their own order (benchmarks/bench_inference.py).
POOL_FIRST = True


def _hooked(seq: nn.Module) -> bool:
    if _module._global_forward_hooks or _module._global_forward_pre_hooks:
        return True
    return any(m._forward_hooks or m._forward_pre_hooks for m in seq.modules())


def run_blocks(seq: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``seq(x)``; without gradients, each ReLU directly before a max-pool runs after it.

    Parameters
    ----------
    seq : torch.nn.Sequential
        The feature blocks.
    x : torch.Tensor
        Their input.

    Returns
    -------
    torch.Tensor
        Exactly ``seq(x)``.
    """
    if not POOL_FIRST or torch.is_grad_enabled() or _hooked(seq):
        return seq(x)
    mods = list(seq)
    i = 0
    while i < len(mods):
        m = mods[i]
        nxt = mods[i + 1] if i + 1 < len(mods) else None
        if type(m) is nn.ReLU and isinstance(nxt, _POOLS) and not nxt.return_indices:
            x = torch.relu_(nxt(x))
            i += 2
        else:
            x = m(x)
            i += 1
    return x
