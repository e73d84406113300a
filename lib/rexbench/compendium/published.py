"""Numbers reported by the published work, for side-by-side comparison (never used as
results). Source: SpecReX (arXiv 2503.14567), as summarised in the compendium's
REFERENCES.md, section 2, and ReX's published search settings."""

# ReX's published settings (iterations, queries per iteration) are ReX's own defaults.
from ..explain.rex import PUBLISHED_REX_ITERS, PUBLISHED_REX_SEARCH_LIMIT  # noqa: F401

# Mean number of peaks in an explanation (find_peaks with default arguments, inferred).
SPECREX_PEAK_COUNTS = {
    # dataset: {target_class: SpecReX mean}
    "single": {0: 2.20, 1: 1.78},
    "double": {0: 22.62, 1: 5.46},
    "complex": {0: 1.06, 1: 10.66},
}
# The range over the three SHAP variants (not reported per variant or class).
SHAP_PEAK_COUNT_RANGE = {
    "single": (276, 285),
    "double": (279, 282),
    "complex": (582, 600),
}
SHAP_METHODS = ("kernel_shap", "gradient_shap", "deeplift_shap")


def published_peaks(dataset: str, method: str, target_class: int) -> tuple[float, float] | tuple[None, None]:
    """(low, high) published mean peak count for a row of the peak-count table.

    Parameters
    ----------
    dataset : str
        The data set: ``"single"``, ``"double"`` or ``"complex"``.
    method : str
        The explainer's name.
    target_class : int
        The explained class (ReX only: the SHAP range is not reported per class).

    Returns
    -------
    tuple of float, or (None, None)
        For ReX and SpecReX, SpecReX's mean as ``(mean, mean)``; for a method of :data:`SHAP_METHODS`,
        the range over the three SHAP variants; ``(None, None)`` where nothing was published.
    """
    if method in ("rex", "specrex"):
        v = SPECREX_PEAK_COUNTS.get(dataset, {}).get(target_class)
        return (v, v) if v is not None else (None, None)
    if method in SHAP_METHODS and dataset in SHAP_PEAK_COUNT_RANGE:
        return SHAP_PEAK_COUNT_RANGE[dataset]
    return (None, None)
# Validation accuracy of the published single-peak LRCN: about this much, the ceiling the
# label noise of the authors' data allows (half their single-peak class 2 carries a peak).
LRCN_SINGLE_VAL_ACCURACY = 0.83
