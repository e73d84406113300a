"""Inference without gradients (rexbench.models._inference): the ReLU after the max-pool
gives every model's outputs bit for bit, and hooks and gradients keep the modules' order."""
import pytest
import torch
from torch import nn

from rexbench.models import CNN3D, LRCN, DigitCNN
from rexbench.models._inference import run_blocks


def _eval_model(model):
    # Non-trivial batch-norm statistics, so a wrong order would show.
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model.eval()


CASES = [
    (lambda: LRCN(300), (64, 1, 300)),
    (lambda: DigitCNN(), (32, 1, 28, 28)),
    (lambda: CNN3D(), (2, 1, 24, 24, 24)),
]


@pytest.mark.parametrize("build,shape", CASES)
def test_outputs_are_bit_identical_with_and_without_gradients(build, shape):
    torch.manual_seed(1)
    model = _eval_model(build())
    x = torch.randn(shape)
    with torch.no_grad():
        fast = model(x)
    slow = model(x).detach()  # gradients recorded: the modules in their own order
    assert torch.equal(fast, slow)


def test_the_cheaper_order_is_taken_without_gradients_only():
    seq = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool1d(5))
    seen = []
    relu_forward = nn.ReLU.forward
    try:
        nn.ReLU.forward = lambda self, x: seen.append(x.shape[-1]) or relu_forward(self, x)
        x = torch.randn(2, 1, 50)
        with torch.no_grad():
            run_blocks(seq, x)
        assert seen == []  # the module's ReLU was not run: torch.relu_ on the pooled output
        run_blocks(seq, x)
        assert seen == [50]
    finally:
        nn.ReLU.forward = relu_forward


def test_a_hook_on_a_block_keeps_the_modules_order():
    seq = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool1d(5))
    acts = []
    handle = seq[1].register_forward_hook(lambda m, i, o: acts.append(o.shape[-1]))
    try:
        with torch.no_grad():
            out = run_blocks(seq, torch.randn(2, 1, 50))
    finally:
        handle.remove()
    assert acts == [50] and out.shape == (2, 4, 10)
    # A pool that returns indices is run as it is (its argmax among zeros would differ).
    seq2 = nn.Sequential(nn.ReLU(), nn.MaxPool1d(2, return_indices=True))
    with torch.no_grad():
        out, idx = run_blocks(seq2, torch.randn(1, 1, 8))
    assert idx.shape == (1, 1, 4)


def test_the_switch_runs_the_modules_in_their_order():
    import rexbench.models._inference as inference

    seq = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool1d(5))
    seen = []
    relu_forward = nn.ReLU.forward
    try:
        inference.POOL_FIRST = False
        nn.ReLU.forward = lambda self, x: seen.append(x.shape[-1]) or relu_forward(self, x)
        with torch.no_grad():
            run_blocks(seq, torch.randn(2, 1, 50))
        assert seen == [50]
    finally:
        inference.POOL_FIRST = True
        nn.ReLU.forward = relu_forward
