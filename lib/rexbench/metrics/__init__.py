"""Metrics of Parts I-III. Each module's ``SPECS`` (and the Quantus suite's ``METRICS``) maps
a metric's name to a :class:`~rexbench.metrics.base.MetricSpec` with its direction and range."""
from .base import MetricSpec
from .localisation import SPECS as LOCALISATION_SPECS
from .localisation import dice_iou, pointing_game_ties, quantus_localisation
from .peaks import SPECS as PEAK_SPECS
from .peaks import COUNT_RULES, argmax_hit, count_peaks, mask_hits_window, mass_in_windows, window_mask
from .sanity import occlusion_in_class_rate

__all__ = [
    "MetricSpec", "PEAK_SPECS", "LOCALISATION_SPECS",
    "COUNT_RULES", "count_peaks", "argmax_hit", "mass_in_windows", "mask_hits_window", "window_mask",
    "quantus_localisation", "pointing_game_ties", "dice_iou", "occlusion_in_class_rate",
]
