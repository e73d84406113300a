"""Fixtures and markers every test folder shares. Toy models live in ``tests/helpers``."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

# tests/ on the path: ``from helpers.models import ...`` works from every test folder, under
# any import mode.
TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from helpers.models import RegionModel  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: an integration test that takes more than about 5 s (deselect with -m 'not slow')")


@pytest.fixture
def spectrum_and_model():
    g = torch.Generator().manual_seed(0)
    x = 0.01 * torch.randn(2, 1, 300, generator=g)
    x[:, 0, 120:150] += 1.0
    return x, RegionModel((slice(120, 150),))


@pytest.fixture
def rng():
    return np.random.default_rng(0)
