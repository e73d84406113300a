"""Shared test helpers: toy models (:mod:`helpers.models`) and the repository root.

``tests/conftest.py`` puts ``tests/`` on ``sys.path``, so test files anywhere under
``tests/`` import these as ``from helpers.models import ...``."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
