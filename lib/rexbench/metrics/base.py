"""A metric that carries its direction: what the number means, which way is better, and
the range it lives in (as Quantus' ``score_direction``, for Parts I-III alike)."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    """One metric of the book.

    Attributes
    ----------
    name : str
        The name tables and figures use.
    fn : callable
        The function that scores (see its own docstring for its arguments).
    higher_is_better : bool or None
        Which way is better; ``None`` where neither is (a description, such as a size).
    range : tuple of float
        The values it can take (``math.inf`` for an open end).
    description : str
        One line on what it measures.
    """

    name: str
    fn: Callable
    higher_is_better: bool | None
    range: tuple[float, float] = (-math.inf, math.inf)
    description: str = ""

    @property
    def arrow(self) -> str:
        """str: "↑", "↓" or "" for table headers."""
        return {True: "↑", False: "↓", None: ""}[self.higher_is_better]

    @property
    def direction(self) -> str:
        """str: "higher is better", "lower is better" or "no better direction"."""
        return {True: "higher is better", False: "lower is better", None: "no better direction"}[self.higher_is_better]

    def improvement(self, change: float) -> float:
        """Return ``change`` signed so that a positive value is an improvement.

        Parameters
        ----------
        change : float
            A difference of two values of the metric (new minus old).

        Returns
        -------
        float
            ``change`` if higher is better, ``-change`` if lower is better.

        Raises
        ------
        ValueError
            If the metric has no better direction (``higher_is_better is None``).
        """
        if self.higher_is_better is None:
            raise ValueError(f"metric {self.name!r} has no better direction")
        return change if self.higher_is_better else -change
