"""The cross-modality metric suite: Quantus metrics with settings sized to the input, one
score per input, and each metric's direction.

* ``faithfulness_correlation``: correlation between the attribution summed over a random
  subset of pixels and the drop in the target score when that subset is set to the
  baseline (0: black / silence); the subset is ``subset_fraction`` of the input, not
  Quantus' 224-pixel default, which suits 224x224 images only. Higher is better.
* ``avg_sensitivity``: average change of the explanation under uniform input noise
  (``nr_samples`` draws; perturbations that change the prediction are left out). Lower is better.
* ``sparseness``: Gini index of the absolute attribution. Higher is more concise.
* ``random_logit``: SSIM between the explanation of the target and that of a random other
  class (10 classes). Lower is better.
* ``mprt``: model parameter randomisation test (cascading, top-down); the score is the
  Spearman correlation between the explanation of the trained model and that of the fully
  randomised one. Lower is better (an explanation should depend on the model).

Every Quantus call is seeded (its perturbations draw from numpy's global RNG). Inputs
whose attribution is not finite (ReX where it has no map) or constant (no ordering of the
features) score NaN; nothing is imputed.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .base import MetricSpec


def _score_with(name):
    def fn(model, x, y, a, explain_func, settings=None, seed=0):
        return score(name, model, x, y, a, explain_func, settings or SuiteSettings(), seed)

    fn.__name__ = f"score_{name}"
    fn.__doc__ = f"Per-input {name} scores: :func:`score` with ``name={name!r}``."
    return fn


METRICS: dict[str, MetricSpec] = {
    "faithfulness_correlation": MetricSpec("faithfulness_correlation", _score_with("faithfulness_correlation"), True,
                                           (-1, 1), "correlation of attribution sums with the score drops they predict"),
    "avg_sensitivity": MetricSpec("avg_sensitivity", _score_with("avg_sensitivity"), False, (0, float("inf")),
                                  "change of the explanation under small input noise"),
    "sparseness": MetricSpec("sparseness", _score_with("sparseness"), True, (0, 1), "Gini index of |attribution|"),
    "random_logit": MetricSpec("random_logit", _score_with("random_logit"), False, (-1, 1),
                               "SSIM of the explanations of the target and of a random other class"),
    "mprt": MetricSpec("mprt", _score_with("mprt"), False, (-1, 1),
                       "Spearman correlation of the explanations of the trained and the randomised model"),
}


@dataclass(frozen=True)
class SuiteSettings:
    """Hyper-parameters of the suite (the chapters' parameters).

    Attributes
    ----------
    subset_fraction : float
        Share of the input's pixels in each faithfulness-correlation subset, in (0, 1)
        (default 0.05).
    faithfulness_runs : int
        Random subsets per input for faithfulness correlation (default 100).
    sensitivity_samples : int
        Noise draws per input for average sensitivity (default 5).
    sensitivity_bound : float
        Average sensitivity's noise is uniform in ``[-sensitivity_bound,
        sensitivity_bound]`` (default 0.1).
    n_classes : int
        Number of classes random logit draws the other class from (default 10).
    baseline : float
        Value a perturbed pixel is set to in faithfulness correlation (default 0).
    batch_size : int
        Batch size of Quantus' model calls (default 50).
    version : int
        Class attribute, bumped whenever a change to the suite changes its scores at
        equal settings.

    Raises
    ------
    ValueError
        If ``subset_fraction`` is outside (0, 1), ``faithfulness_runs``,
        ``sensitivity_samples`` or ``batch_size`` is below 1, or ``n_classes`` is below 2.
    """

    subset_fraction: float = 0.05
    faithfulness_runs: int = 100
    sensitivity_samples: int = 5
    sensitivity_bound: float = 0.1
    n_classes: int = 10
    baseline: float = 0.0
    batch_size: int = 50

    version = 1  # bumped whenever a change to the suite changes its scores at equal settings

    @property
    def params(self) -> dict:
        """dict: The suite's settings and version: what cached scores are keyed on."""
        return {"version": self.version, **{k: getattr(self, k) for k in self.__dataclass_fields__}}

    def __post_init__(self):
        if not 0 < self.subset_fraction < 1:
            raise ValueError(f"subset_fraction must be in (0, 1), got {self.subset_fraction}")
        for name in ("faithfulness_runs", "sensitivity_samples", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {self.n_classes}")


def make_metric(name: str, n_features: int, settings: SuiteSettings = SuiteSettings(), seed: int = 0):
    """Return a configured Quantus metric instance for inputs of ``n_features`` pixels.

    Parameters
    ----------
    name : str
        A key of :data:`METRICS`.
    n_features : int
        Pixels per input channel (sizes the faithfulness subset).
    settings : SuiteSettings, optional
        The suite's hyper-parameters.
    seed : int, optional
        Seed for the metrics that take one (random logit, MPRT) (default 0).

    Returns
    -------
    quantus.Metric
        The metric, returning one score per input (MPRT: per layer, last correlation
        only).

    Raises
    ------
    ValueError
        If ``name`` is not a metric of the suite.
    """
    import quantus

    common = dict(disable_warnings=True, display_progressbar=False)
    if name == "faithfulness_correlation":
        subset = max(1, int(round(settings.subset_fraction * n_features)))
        return quantus.FaithfulnessCorrelation(nr_runs=settings.faithfulness_runs, subset_size=subset,
                                               perturb_baseline=settings.baseline, return_aggregate=False, **common)
    if name == "avg_sensitivity":
        from quantus.functions.perturb_func import batch_uniform_noise

        return quantus.AvgSensitivity(nr_samples=settings.sensitivity_samples, lower_bound=settings.sensitivity_bound,
                                      perturb_func=batch_uniform_noise, return_nan_when_prediction_changes=True,
                                      return_aggregate=False, **common)
    if name == "sparseness":
        return quantus.Sparseness(return_aggregate=False, **common)
    if name == "random_logit":
        return quantus.RandomLogit(num_classes=settings.n_classes, seed=seed, return_aggregate=False, **common)
    if name == "mprt":
        return quantus.MPRT(layer_order="top_down", seed=seed, return_last_correlation=True, **common)
    raise ValueError(f"unknown metric {name!r}; choose one of {list(METRICS)}")


def score(name: str, model, x: np.ndarray, y: np.ndarray, a: np.ndarray, explain_func,
          settings: SuiteSettings = SuiteSettings(), seed: int = 0) -> np.ndarray:
    """Return per-input scores of metric ``name`` (NaN where undefined).

    Inputs whose attribution is not finite or is constant are not scored. numpy's global
    RNG is seeded with ``seed`` before the Quantus call, and warnings are silenced.

    Parameters
    ----------
    name : str
        A key of :data:`METRICS`.
    model : torch.nn.Module
        The classifier.
    x : numpy.ndarray
        Inputs, shape ``(N, 1, H, W)``.
    y : numpy.ndarray
        Target class of each input, shape ``(N,)``.
    a : numpy.ndarray
        Their attributions, the same shape as ``x``.
    explain_func : callable
        The Quantus explain function (for metrics that re-explain), e.g. an
        :class:`ExplainFunc`.
    settings : SuiteSettings, optional
        The suite's hyper-parameters.
    seed : int, optional
        Seed of the metric and of numpy's global RNG (default 0).

    Returns
    -------
    numpy.ndarray
        ``float`` scores, shape ``(N,)``; for MPRT, the score of the fully randomised
        model.

    Raises
    ------
    ValueError
        If ``name`` is unknown, ``x`` is not 4-D or ``a`` has another shape, or ``y``
        and ``x`` differ in length.
    """
    x, a = np.asarray(x, dtype=np.float32), np.asarray(a, dtype=np.float32)
    y = np.asarray(y).astype(np.int64)
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose one of {list(METRICS)}")
    if x.ndim != 4 or a.shape != x.shape:
        raise ValueError(f"attributions {a.shape} must match inputs {x.shape} (N, 1, H, W)")
    if len(y) != len(x):
        raise ValueError(f"{len(y)} targets for {len(x)} inputs")
    out = np.full(len(x), np.nan)
    flat = a.reshape(len(a), -1)
    # Undefined attributions (NaN) and constant ones, all-zero included (no ordering of the
    # features, nothing to normalise; Quantus refuses them) get NaN, not a made-up score.
    ok = np.flatnonzero(np.isfinite(flat).all(axis=1) & (np.ptp(flat, axis=1) > 0))
    if ok.size == 0:
        return out
    metric = make_metric(name, int(np.prod(x.shape[2:])), settings, seed)
    np.random.seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = metric(model=model, x_batch=x[ok], y_batch=y[ok], a_batch=a[ok], explain_func=explain_func,
                        channel_first=True, device="cpu", batch_size=settings.batch_size)
    if isinstance(result, dict):  # MPRT: {layer: scores}; the last layer is the fully randomised model
        result = list(result.values())[-1]
    out[ok] = np.asarray(result, dtype=float).reshape(-1)
    return out


def rank_methods(table, metric_col: str = "metric", value_col: str = "mean", method_col: str = "method",
                 group_cols=("dataset", "resolution", "metric")):
    """Rank methods within each group, 1 = best, honouring each metric's direction.

    NaN scores get no rank.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per method and group, with the metric name in ``metric_col`` (a key of
        :data:`METRICS`) and its value in ``value_col``.
    metric_col : str, optional
        Column holding the metric name (default ``"metric"``).
    value_col : str, optional
        Column holding the value to rank (default ``"mean"``).
    method_col : str, optional
        Column holding the method name (default ``"method"``; not used by the ranking).
    group_cols : sequence of str, optional
        Columns defining the groups ranked separately (default dataset, resolution and
        metric).

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with a ``rank`` column (float, ties averaged).

    Raises
    ------
    KeyError
        If a metric name is not in :data:`METRICS`.
    """
    import pandas as pd

    def _rank(g: pd.DataFrame) -> pd.Series:
        higher = METRICS[g[metric_col].iloc[0]].higher_is_better
        return g[value_col].rank(ascending=not higher, method="average")

    table = table.copy()
    table["rank"] = table.groupby(list(group_cols), group_keys=False)[[metric_col, value_col]].apply(_rank)
    return table


class ExplainFunc:
    """A Quantus ``explain_func``, ``f(model, inputs, targets, **kwargs) -> np.ndarray``, from
    an explainer of :data:`rexbench.explain.EXPLAINERS`.

    It explains with the model Quantus passes (so randomised copies are explained, not the
    trained model), at the settings given here; Quantus' ``explain_func_kwargs`` are ignored.

    Parameters
    ----------
    method : str
        A key of :data:`rexbench.explain.EXPLAINERS`.
    settings : dict, optional
        Keyword arguments for :func:`rexbench.explain.make_explainer`.

    Attributes
    ----------
    method : str
        The explainer's name.
    settings : dict
        A copy of ``settings``.

    Raises
    ------
    ValueError
        If ``method`` is not a known explainer.
    """

    def __init__(self, method: str, settings: dict | None = None):
        from ..explain import EXPLAINERS

        if method not in EXPLAINERS:
            raise ValueError(f"unknown method {method!r}; choose one of {sorted(EXPLAINERS)}")
        self.method, self.settings = method, dict(settings or {})

    def __call__(self, model, inputs, targets, **kwargs) -> np.ndarray:
        """Explain ``inputs`` for ``targets`` with ``model`` (put in eval mode).

        Parameters
        ----------
        model : torch.nn.Module
            The model to explain, as Quantus passes it.
        inputs : array_like
            Inputs, converted to a ``float32`` tensor.
        targets : array_like
            Target class of each input.
        **kwargs
            Ignored.

        Returns
        -------
        numpy.ndarray
            Attributions, the explainer's output as a numpy array.
        """
        import torch

        from ..explain import make_explainer

        model.eval()
        x = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
        explanation = make_explainer(self.method, model, **self.settings).attribute(x, np.asarray(targets))
        return explanation.numpy()
