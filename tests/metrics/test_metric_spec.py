"""A metric that carries its direction (rexbench.metrics.base.MetricSpec)."""
import math

import pytest

from rexbench.metrics import MetricSpec


def test_direction_arrow_and_improvement():
    up = MetricSpec("acc", len, True, (0, 1), "accuracy")
    down = MetricSpec("err", len, False)
    none = MetricSpec("size", len, None)
    assert (up.arrow, down.arrow, none.arrow) == ("↑", "↓", "")
    assert up.direction == "higher is better" and down.direction == "lower is better"
    assert none.direction == "no better direction"
    assert up.improvement(0.2) == 0.2 and down.improvement(0.2) == -0.2
    with pytest.raises(ValueError, match="metric 'size' has no better direction"):
        none.improvement(1.0)
    assert down.range == (-math.inf, math.inf) and down.description == ""
    with pytest.raises(AttributeError, match="cannot assign"):
        up.higher_is_better = False  # frozen: a table cannot flip a direction by accident
