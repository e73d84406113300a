"""The three simulated Raman data sets of SpecReX (single, double and complex peak).

Two generators (``generate(..., variant=...)``):

* ``"intended"`` follows the authors' generator (REFERENCES.md section 2) where it does what
  its text says: per spectrum, Gaussian peaks scaled to their height, one "faux" peak away
  from every real peak, a cubic-spline baseline, additive Gaussian noise, a random shift by
  ``int(triangular(-24, 0, 24))`` points, a 24-point crop at each end and SNV normalisation.
  Its null class 2 carries a *strict* subset of a class's discriminative peaks only, the
  complex set's 17 shared peaks are in every spectrum, and the faux peak keeps 100 points
  from every real peak of every class.
* ``"published"`` is what the authors' committed script
  (``OfficialAC18/Spectral-Training-Scripts``, ``dataset_generation_script.ipynb``) does,
  rule for rule (its random stream is not reproduced: it draws from numpy's legacy global
  RNG spectrum by spectrum). See :func:`generate` for the differences.
"""
from __future__ import annotations

from pathlib import Path

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy.interpolate import CubicSpline

# (position, sigma, height)
COMPLEX_SHARED = list(
    zip(
        [100, 800, 1400, 700, 1002, 1400, 1390, 1410, 1500, 1750, 550, 530, 200, 250, 335, 410, 1020],
        [200, 75, 250, 10, 2, 30, 4, 3, 3, 8, 4, 4, 6, 6, 5, 7, 5],
        [10000, 5000, 5000, 5500, 7000, 4000, 700, 650, 500, 800, 800, 750, 300, 400, 300, 400, 500],
    )
)


@dataclass(frozen=True)
class RamanSpec:
    """Definition of one simulated data set.

    Attributes
    ----------
    name : str
        Data set name (``"single"``, ``"double"`` or ``"complex"``).
    raw_length : int
        Number of points of a spectrum before cropping.
    class_peaks : dict
        Discriminative peaks by class (0 and 1), each a list of
        ``(position, sigma, height)`` tuples on the raw axis.
    shared_peaks : list
        ``(position, sigma, height)`` peaks added to every spectrum (default none).
    crop : int
        Points cropped from each end after the shift (default 24).
    max_shift : int
        Bound of the triangular random shift, in points (default 24).
    baseline_cap : float
        Scale of the first baseline knot's random height; the knots' scales fall
        linearly to 0 (default 2000).
    noise : float
        Standard deviation of the additive Gaussian noise (default 50).
    """

    name: str
    raw_length: int
    class_peaks: dict  # class -> list of (pos, sigma, height) discriminative peaks
    shared_peaks: list = field(default_factory=list)
    crop: int = 24
    max_shift: int = 24
    baseline_cap: float = 2000.0
    noise: float = 50.0

    @property
    def length(self) -> int:
        """int: Number of points of a cropped spectrum (``raw_length - 2 * crop``)."""
        return self.raw_length - 2 * self.crop

    def real_peak_positions(self) -> list[int]:
        """Return the raw-axis positions of every discriminative and shared peak.

        Returns
        -------
        list of int
            Positions of all classes' discriminative peaks, then of the shared peaks.
        """
        return [p for peaks in self.class_peaks.values() for p, _, _ in peaks] + [p for p, _, _ in self.shared_peaks]


DATASETS = {
    "single": RamanSpec("single", 900, {0: [(250, 4, 4000)], 1: [(750, 4, 4000)]}),
    "double": RamanSpec(
        "double", 900, {0: [(250, 10, 4000), (700, 15, 3000)], 1: [(150, 10, 4000), (750, 15, 3000)]}
    ),
    "complex": RamanSpec(
        "complex", 1800, {0: [(370, 5, 1600)], 1: [(1100, 10, 1200)]}, shared_peaks=COMPLEX_SHARED
    ),
}

MAX_PEAKS = 2  # most discriminative peaks any spectrum carries
VARIANTS = ("intended", "published")  # the generators of :func:`generate`
COMPONENTS = ("peak0", "peak1", "faux")  # what :func:`without_component` can take out of a spectrum


@dataclass
class RamanData:
    """Spectra with labels and the ground truth of every spectrum.

    Every attribute is an array whose first axis indexes the N spectra.

    Attributes
    ----------
    X : numpy.ndarray
        SNV-normalised spectra, ``float32``, shape ``(N, 1, L)``.
    y : numpy.ndarray
        Class labels (0, 1, or the null class 2), ``int64``, shape ``(N,)``.
    peak_pos : numpy.ndarray
        Positions of the discriminative peaks present in each spectrum, in cropped-axis
        points, shape ``(N, MAX_PEAKS)`` (NaN where absent).
    peak_sigma : numpy.ndarray
        Widths (sigma, in points) of those peaks, shape ``(N, MAX_PEAKS)`` (NaN where
        absent).
    faux_pos : numpy.ndarray
        Position of each spectrum's faux peak, in cropped-axis points, shape ``(N,)``.
    faux_sigma : numpy.ndarray
        Width (sigma) of each faux peak, shape ``(N,)``.
    shift : numpy.ndarray
        Random shift applied to each spectrum, in points, shape ``(N,)``.
    source_class : numpy.ndarray
        The class whose peaks a spectrum carries (for class 2, the class its subset
        was drawn from), shape ``(N,)``.
    split : numpy.ndarray
        ``"train"``, ``"val"`` or ``"test"`` for each spectrum, shape ``(N,)``.
    shared_present : numpy.ndarray or None
        Which of the data set's shared peaks (``RamanSpec.shared_peaks``) each spectrum
        carries, ``bool``, shape ``(N, n_shared)``; ``None`` (the intended generator): all
        of them, in every spectrum.
    """

    X: np.ndarray
    y: np.ndarray
    peak_pos: np.ndarray
    peak_sigma: np.ndarray
    faux_pos: np.ndarray
    faux_sigma: np.ndarray
    shift: np.ndarray
    source_class: np.ndarray
    split: np.ndarray  # "train" / "val" / "test"
    shared_present: np.ndarray | None = None

    def __post_init__(self):
        # The intended generator puts every shared peak in every spectrum and stores nothing.
        if self.shared_present is not None:
            self.shared_present = np.asarray(self.shared_present, dtype=bool)

    def subset(self, idx) -> "RamanData":
        """Return the spectra selected by ``idx``.

        Parameters
        ----------
        idx : array_like or slice
            Index, slice or boolean mask applied to every array's first axis.

        Returns
        -------
        RamanData
            A new object holding the indexed arrays.
        """
        return RamanData(**{k: (None if v is None else v[idx]) for k, v in self.__dict__.items()})

    def of_split(self, split: str) -> "RamanData":
        """Return the spectra of one split.

        Parameters
        ----------
        split : {"train", "val", "test"}
            Split to select.

        Returns
        -------
        RamanData
            The spectra whose ``split`` equals ``split``.
        """
        return self.subset(self.split == split)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the attributes as a dict of arrays (for :func:`~rexbench.io.save_npz`).

        Returns
        -------
        dict of str to numpy.ndarray
            Each attribute's array by name (the arrays are not copied).
        """
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _gauss(x: np.ndarray, pos, sigma, height) -> np.ndarray:
    """Gaussian peaks scaled so that each one's maximum on the grid equals its height.

    ``pos``, ``sigma``, ``height``: arrays broadcastable to (N, 1); returns (N, L).
    """
    g = np.exp(-0.5 * ((x[None, :] - pos) / sigma) ** 2)
    return g / g.max(axis=1, keepdims=True) * height


def _authors_gauss(x: np.ndarray, pos, sigma, height) -> np.ndarray:
    """The authors' peaks: ``norm.pdf(x, pos, sigma)`` scaled by ``height * sqrt(2 pi) sigma``,
    i.e. the height at the centre (not at the grid's nearest point). Shapes as :func:`_gauss`."""
    return height * np.exp(-0.5 * ((x[None, :] - pos) / sigma) ** 2)


def _less_component(spectra, x, remove, own, faux, shape):
    """``(rows, spectra[rows] less one component)`` for :func:`generate`'s ``remove``.

    ``own`` and ``faux``: ``(position, sigma, height)`` of each spectrum's own peaks
    ``(N, MAX_PEAKS)`` (NaN where absent) and of its faux peak ``(N,)``; ``shape``: the
    generator's peak function."""
    rows, part = remove
    p, s, h = (a[rows] for a in faux) if part == "faux" else (a[rows, int(part[-1])] for a in own)
    absent = np.isnan(p)
    comp = shape(x, np.nan_to_num(p)[:, None], np.nan_to_num(s, nan=1.0)[:, None], np.where(absent, 0.0, h)[:, None])
    return rows, spectra[rows] - comp


def strict_subsets(peaks: list) -> list[tuple]:
    """Return every strict subset of ``peaks`` (including the empty one) as index tuples.

    Parameters
    ----------
    peaks : list
        Peaks of one class.

    Returns
    -------
    list of tuple of int
        Index tuples in order of size, from ``()`` up to subsets of ``len(peaks) - 1``
        elements.
    """
    n = len(peaks)
    return [c for r in range(n) for c in combinations(range(n), r)]


def faux_allowed(spec: RamanSpec, min_dist: int = 100, margin: int = 100) -> np.ndarray:
    """Return the raw-axis positions the intended generator may put a faux peak at.

    Those in ``[margin, raw_length - margin)`` at least ``min_dist`` points from every
    discriminative and shared peak of every class (:meth:`RamanSpec.real_peak_positions`).

    Parameters
    ----------
    spec : RamanSpec
        The data set.
    min_dist, margin : int, optional
        Distance kept from every real peak and from each end (default 100 each).

    Returns
    -------
    numpy.ndarray
        The allowed positions, ascending (possibly empty).
    """
    real = np.asarray(spec.real_peak_positions())
    allowed = np.arange(margin, spec.raw_length - margin)
    return allowed[(np.abs(allowed[:, None] - real[None, :]) >= min_dist).all(axis=1)]


def _faux_positions(rng, n, spec: RamanSpec, min_dist: int = 100, margin: int = 100) -> np.ndarray:
    allowed = faux_allowed(spec, min_dist, margin)
    if allowed.size == 0:
        raise ValueError(f"{spec.name}: no faux-peak position is {min_dist} points from every real peak")
    # Uniform over [margin, L - margin) restricted to the allowed positions (rejection sampling).
    return rng.choice(allowed, size=n)


def generate(
    name: str,
    n_per_class: int = 5000,
    seed: int = 42,
    noise: float | None = None,
    baseline_cap: float | None = None,
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    split_seed: int = 42,
    variant: str = "intended",
    *,
    remove: tuple | None = None,
) -> RamanData:
    """Generate data set ``name`` in {single, double, complex}.

    ``n_per_class`` spectra of class 0 and of class 1, and ``n_per_class // 2`` class-2
    spectra drawn from each of them (published: 5000, so 15,000 in total). ``noise`` and
    ``baseline_cap`` default to the values the published data were made with (50, 2000).

    The ``"published"`` variant differs from the ``"intended"`` one in these rules, each
    as the authors' ``dataset_generation_script.ipynb`` (``generate_dataset``,
    ``generate_combinations``, ``store_dataset``) runs it:

    * **Class composition.** For class 0, then class 1, spectra are drawn until
      ``n_per_class`` carry all of the class's peaks (label: the class) and
      ``n_per_class // 2`` are "faux" (label 2): while both are short a spectrum has all
      peaks with probability 0.7, a strict non-empty subset 0.15, no peak 0.15; once the
      class is full, a subset or none, 0.5 each; once the faux spectra are full, all peaks.
      Intended: exactly ``n_per_class`` and ``n_per_class // 2``, class 2 a strict subset.
    * **Which peaks are the class's.** For the complex set the authors list the 17 shared
      peaks with each class's own peak (18 in all), so subsets drop shared peaks too and a
      class-2 spectrum may lack them (``shared_present``). Intended: the shared peaks are
      in every spectrum; class 2 lacks only the class's own peak.
    * **Subsets.** Uniform over the strict non-empty subsets (their helper lists every
      combination of 1 to n-1 peaks and picks one uniformly); for a one-peak class the
      helper returns the peak itself, so about half the single-peak class-2 spectra carry
      the class's peak (label noise). Intended: the empty subset for a one-peak class.
    * **Faux peak.** Uniform over ``[100, length - 100)`` (``length``: the cropped length,
      852 or 1,752), redrawn until more than 100 points from every peak *present in that
      spectrum* (so it may sit on the other class's peak, or on a shared peak a class-2
      spectrum lacks); sigma a uniform integer 10-19, height 3,000 or 4,000. Intended:
      ``[100, raw_length - 100)``, at least 100 points from every real peak of every class.
    * **Grid.** Peaks and baseline on ``linspace(0, raw_length, raw_length)`` (a spacing
      of ``raw_length / (raw_length - 1)``), each Gaussian scaled to its height at its
      centre; the ground truth gives positions in grid points (a peak "at 250" is at point
      249.7). Intended: the integer grid, each peak's grid maximum equal to its height.
    * **Split.** Not stratified: ``train_test_split(test_size=0.2, random_state=split_seed)``,
      then the rest in two halves the same way. Intended: stratified by label.
    * Complex spectra are 1,752 points (raw 1,800), as the authors' complex models take
      (the committed script, called with its defaults, makes 852-point complex spectra in
      which every peak beyond 900 is absent; the paper's data came from another version).

    Parameters
    ----------
    name : {"single", "double", "complex"}
        Data set to generate (a key of ``DATASETS``).
    n_per_class : int, optional
        Spectra of each of classes 0 and 1 (default 5000).
    seed : int, optional
        Seed of the spectra's random generator (default 42).
    noise : float, optional
        Standard deviation of the additive noise; default: the data set's ``noise``.
    baseline_cap : float, optional
        Scale of the baseline's first knot; default: the data set's ``baseline_cap``.
    split_fractions : tuple of float, optional
        Train, validation and test fractions of the stratified split (default
        ``(0.8, 0.1, 0.1)``).
    split_seed : int, optional
        Seed of the split (default 42).
    variant : {"intended", "published"}, optional
        Which generator (default ``"intended"``); see above.
    remove : tuple of (array_like of int, str), optional
        ``(rows, component)``: also return the spectra ``rows`` regenerated without one
        component, ``"peak0"`` or ``"peak1"`` (the spectrum's first or second own
        discriminative peak, where present) or ``"faux"``, from the same draws (baseline,
        noise, shift): what a model sees when that peak is missing and nothing else
        changes. Prefer :func:`without_component`.

    Returns
    -------
    RamanData
        ``2 * n_per_class + 2 * (n_per_class // 2)`` spectra with their ground truth,
        ordered class 0, its class-2 spectra, class 1, its class-2 spectra (published: in
        the order drawn). With ``remove``: ``(data, spectra)``, the second of shape
        ``(len(rows), 1, length)``.

    Raises
    ------
    ValueError
        If ``name`` or ``variant`` is unknown, ``n_per_class`` is below 2, ``noise`` or
        ``baseline_cap`` is negative, or the split fractions are not positive or do not
        sum to 1.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown generator variant {variant!r}; choose from {list(VARIANTS)}")
    if remove is not None:
        rows, part = remove
        if part not in COMPONENTS:
            raise ValueError(f"unknown component {part!r}; choose from {list(COMPONENTS)}")
        remove = (np.asarray(rows, dtype=np.int64).reshape(-1), part)
    if name not in DATASETS:
        raise ValueError(f"unknown Raman data set {name!r}; choose from {sorted(DATASETS)}")
    if n_per_class < 2:
        raise ValueError(f"n_per_class must be at least 2, got {n_per_class}")
    spec = DATASETS[name]
    noise = spec.noise if noise is None else float(noise)
    cap = spec.baseline_cap if baseline_cap is None else float(baseline_cap)
    if noise < 0 or cap < 0:
        raise ValueError(f"noise ({noise}) and baseline_cap ({cap}) must be non-negative")
    rng = np.random.default_rng(seed)
    if variant == "published":
        data, removed = _generate_published(spec, n_per_class, rng, noise, cap, split_fractions, split_seed, remove)
        return data if remove is None else (data, removed)
    L = spec.raw_length
    x = np.arange(L, dtype=np.float64)

    # Which discriminative peaks each spectrum carries.
    labels, sources, present = [], [], []
    for cls in (0, 1):
        peaks = spec.class_peaks[cls]
        full = tuple(range(len(peaks)))
        labels += [cls] * n_per_class
        sources += [cls] * n_per_class
        present += [full] * n_per_class
        subs = strict_subsets(peaks)
        n_null = n_per_class // 2
        pick = rng.integers(len(subs), size=n_null)
        labels += [2] * n_null
        sources += [cls] * n_null
        present += [subs[i] for i in pick]
    n = len(labels)
    y = np.asarray(labels, dtype=np.int64)
    source = np.asarray(sources, dtype=np.int64)

    spectra = np.zeros((n, L))
    raw_pos = np.full((n, MAX_PEAKS), np.nan)
    sig = np.full((n, MAX_PEAKS), np.nan)
    own_height = np.full((n, MAX_PEAKS), np.nan)
    for i, (cls, idx) in enumerate(zip(source, present)):
        for j, k in enumerate(idx):
            raw_pos[i, j], sig[i, j], own_height[i, j] = spec.class_peaks[cls][k]
    # Discriminative peaks, vectorised per peak slot.
    for j in range(MAX_PEAKS):
        has = ~np.isnan(raw_pos[:, j])
        if has.any():
            heights = np.array(
                [spec.class_peaks[c][k][2] for c, idx in zip(source[has], np.array(present, dtype=object)[has]) for k in idx[j : j + 1]]
            )
            spectra[has] += _gauss(x, raw_pos[has, j, None], sig[has, j, None], heights[:, None])
    for pos, s, h in spec.shared_peaks:
        spectra += _gauss(x, np.array([[pos]]), np.array([[s]]), np.array([[h]]))
    # One faux peak, at least 100 points from every real peak.
    faux_pos = _faux_positions(rng, n, spec)
    faux_sigma = rng.integers(10, 20, size=n)
    faux_height = rng.choice([3000.0, 4000.0], size=n)
    spectra += _gauss(x, faux_pos[:, None], faux_sigma[:, None], faux_height[:, None])
    # Cubic-spline baseline through 5 knots with decreasing random heights.
    knots = np.linspace(0, L, 5)
    knot_h = rng.uniform(0, 1, size=(n, 5)) * np.linspace(cap, 0, 5)[None, :]
    spectra += CubicSpline(knots, knot_h, axis=1)(x)
    # The same spectra less one component, before noise, shift and SNV.
    removed = None if remove is None else _less_component(
        spectra, x, remove, (raw_pos, sig, own_height), (faux_pos, faux_sigma, faux_height), _gauss)
    data, removed = _finish(spec, spectra, rng, noise, y, source, raw_pos, sig, faux_pos, faux_sigma,
                            _split(y, split_fractions, split_seed), removed=removed)
    return data if remove is None else (data, removed)


def without_component(name: str, rows, component: str, **generate_kwargs) -> np.ndarray:
    """The spectra ``rows`` of ``generate(name, **generate_kwargs)`` with one component taken
    out and every random draw kept (baseline, noise, shift, the other peaks).

    The counterfactual behind "which peaks does the model use": a peak the model relies on
    changes its prediction when removed (``raman_model_usage``).

    Parameters
    ----------
    name : {"single", "double", "complex"}
        The data set.
    rows : array_like of int
        Indices of spectra in the generated data set (not in a split).
    component : {"peak0", "peak1", "faux"}
        The spectrum's first or second own discriminative peak (a spectrum without it is
        returned unchanged), or its faux peak.
    **generate_kwargs
        The arguments the data set was generated with (``n_per_class``, ``seed``,
        ``noise``, ``baseline_cap``, ``variant``...).

    Returns
    -------
    numpy.ndarray
        ``float32`` spectra, shape ``(len(rows), 1, length)``, SNV-normalised like the data.

    Raises
    ------
    ValueError
        If ``component`` is unknown, or as :func:`generate`.
    """
    return generate(name, remove=(rows, component), **generate_kwargs)[1]


def _random_strict_subset(rng: np.random.Generator, n: int) -> tuple[int, ...]:
    """A strict non-empty subset of ``range(n)``, uniform over all of them, as the authors'
    ``generate_combinations`` + ``randint`` pick it; for ``n == 1`` their helper returns the
    peak itself."""
    if n == 1:
        return (0,)
    m = int(rng.integers(1, 2**n - 1))  # a bit mask, neither empty nor full
    return tuple(k for k in range(n) if m >> k & 1)


def _generate_published(spec: RamanSpec, n_per_class: int, rng, noise: float, cap: float, split_fractions,
                        split_seed: int, remove=None):
    """The authors' generator, rule for rule (see :func:`generate`)."""
    L = spec.raw_length
    x = np.linspace(0, L, L)
    n_faux = n_per_class // 2
    labels, sources, present = [], [], []
    for cls in (0, 1):
        n_peaks = len(spec.class_peaks[cls]) + len(spec.shared_peaks)  # the class's list: own peaks, then shared
        full = faux = 0
        while full < n_per_class or faux < n_faux:
            if faux == n_faux:
                kind = 1
            elif full == n_per_class:
                kind = (0, 2)[int(rng.integers(2))]
            else:
                kind = int(rng.choice(3, p=[0.15, 0.7, 0.15]))
            if kind == 1:
                full += 1
                labels.append(cls)
                present.append(tuple(range(n_peaks)))
            else:
                faux += 1
                labels.append(2)
                present.append(_random_strict_subset(rng, n_peaks) if kind == 0 else ())
            sources.append(cls)
    n = len(labels)
    y, source = np.asarray(labels, dtype=np.int64), np.asarray(sources, dtype=np.int64)
    lists = {cls: spec.class_peaks[cls] + spec.shared_peaks for cls in (0, 1)}
    width = max(len(v) for v in lists.values())
    has = np.zeros((n, width), dtype=bool)
    for i, idx in enumerate(present):
        has[i, list(idx)] = True
    spectra = np.zeros((n, L))
    pos = np.full((n, width), np.nan)
    for cls, peaks in lists.items():
        rows = source == cls
        p, s_, h = (np.array(v, dtype=np.float64) for v in zip(*peaks))
        g = _authors_gauss(x, p[:, None], s_[:, None], h[:, None])
        spectra[rows] = has[rows, : len(peaks)].astype(np.float64) @ g
        pos[rows, : len(peaks)] = np.where(has[rows, : len(peaks)], p, np.nan)
    # The faux peak: redrawn until more than 100 points from every peak present in the spectrum.
    faux_pos = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    for _ in range(10_000):
        if not todo.size:
            break
        cand = rng.integers(100, spec.length - 100, size=todo.size)
        clash = (np.abs(pos[todo] - cand[:, None]) <= 100).any(axis=1)  # NaN (absent) never clashes
        faux_pos[todo[~clash]] = cand[~clash]
        todo = todo[clash]
    else:
        raise ValueError(f"{spec.name}: no faux-peak position more than 100 points from the peaks of spectra "
                         f"{todo[:5].tolist()}")
    faux_sigma = rng.integers(10, 20, size=n)
    faux_height = rng.integers(3, 5, size=n) * 1000.0
    spectra += _authors_gauss(x, faux_pos[:, None], faux_sigma[:, None], faux_height[:, None])
    knots = np.linspace(0, x.max(), 5)
    knot_h = rng.uniform(0, 1, size=(n, 5)) * np.linspace(cap, 0, 5)[None, :]
    spectra += CubicSpline(knots, knot_h, axis=1)(x)
    # Ground truth: the class's own peaks present (cropped axis below), and the shared ones.
    raw_pos = np.full((n, MAX_PEAKS), np.nan)
    sig = np.full((n, MAX_PEAKS), np.nan)
    own_height = np.full((n, MAX_PEAKS), np.nan)
    for cls in (0, 1):
        for j, (p, s_, h) in enumerate(spec.class_peaks[cls]):
            rows = (source == cls) & has[:, j]
            raw_pos[rows, j], sig[rows, j], own_height[rows, j] = p, s_, h
    removed = None if remove is None else _less_component(
        spectra, x, remove, (raw_pos, sig, own_height), (faux_pos.astype(np.float64), faux_sigma, faux_height),
        _authors_gauss)
    n_own = {cls: len(spec.class_peaks[cls]) for cls in (0, 1)}
    shared = np.stack([has[i, n_own[c] : n_own[c] + len(spec.shared_peaks)] for i, c in enumerate(source)]) \
        if n else np.zeros((0, len(spec.shared_peaks)), dtype=bool)
    # Positions are x values of the grid; the truth is in grid indices (x * (L - 1) / L: 249.7 for
    # a peak at 250 of 900, 1,749.0 for one at 1,750 of 1,800).
    to_index = (L - 1) / L
    return _finish(spec, spectra, rng, noise, y, source, raw_pos * to_index, sig, faux_pos * to_index, faux_sigma,
                   _published_split(n, split_fractions, split_seed), shared_present=shared, removed=removed)


def _published_split(n: int, fractions, seed: int) -> np.ndarray:
    """The authors' split (``store_dataset``): not stratified, train first, then the rest."""
    from sklearn.model_selection import train_test_split

    if not np.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ValueError(f"split fractions must be positive and sum to 1, got {fractions}")
    train, rest = train_test_split(np.arange(n), test_size=1 - fractions[0], random_state=seed)
    val, test = train_test_split(rest, test_size=fractions[1] / sum(fractions[1:]), random_state=seed)
    split = np.empty(n, dtype="<U5")
    split[train], split[val], split[test] = "train", "val", "test"
    return split


def _finish(spec, spectra, rng, noise, y, source, raw_pos, sig, faux_pos, faux_sigma, split, shared_present=None,
            removed=None):
    """Noise, shift, crop and SNV (both generators), and the ground truth on the cropped axis.

    ``removed``: ``(rows, raw spectra)``, the same rows less a component; they get the same
    noise and shift as their originals. Returns the data and those spectra finished (or None)."""
    n = len(spectra)
    draws = rng.normal(0.0, noise, size=spectra.shape)
    spectra = spectra + draws
    # Shift, then crop: cropped[i] = raw[i + crop - shift].
    shift = np.array([int(v) for v in rng.triangular(-spec.max_shift, 0, spec.max_shift, size=n)])

    def crop_snv(raw, rows):
        cols = np.arange(spec.length)[None, :] + spec.crop - shift[rows, None]
        X = np.take_along_axis(raw, cols, axis=1)
        # SNV normalisation last.
        return ((X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)).astype(np.float32)[:, None, :]

    X = crop_snv(spectra, np.arange(n))
    if removed is not None:
        rows, raw = removed
        removed = crop_snv(raw + draws[rows], rows)
    offset = (shift - spec.crop)[:, None]
    return RamanData(
        X=X,
        y=y,
        peak_pos=raw_pos + offset,
        peak_sigma=sig,
        faux_pos=(faux_pos + offset[:, 0]).astype(np.float64),
        faux_sigma=faux_sigma.astype(np.float64),
        shift=shift,
        source_class=source,
        split=split,
        shared_present=shared_present,
    ), removed


def _split(y: np.ndarray, fractions, seed: int) -> np.ndarray:
    """Stratified train/val/test split with a fixed seed."""
    from sklearn.model_selection import train_test_split

    if not np.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ValueError(f"split fractions must be positive and sum to 1, got {fractions}")
    idx = np.arange(len(y))
    train, rest = train_test_split(idx, train_size=fractions[0], stratify=y, random_state=seed)
    val, test = train_test_split(rest, train_size=fractions[1] / (fractions[1] + fractions[2]), stratify=y[rest], random_state=seed)
    split = np.empty(len(y), dtype="<U5")
    split[train], split[val], split[test] = "train", "val", "test"
    return split


def peak_windows(data: RamanData, i: int, width: float = 2.0) -> list[tuple[float, float]]:
    """Return the +-``width``-sigma windows of spectrum ``i``'s discriminative peaks.

    Parameters
    ----------
    data : RamanData
        The data set.
    i : int
        Index of the spectrum.
    width : float, optional
        Half-width of each window in multiples of the peak's sigma (default 2).

    Returns
    -------
    list of tuple of float
        ``(low, high)`` bounds in cropped-axis points, one per peak present (none for a
        class-2 spectrum without peaks).
    """
    return [
        (p - width * s, p + width * s)
        for p, s in zip(data.peak_pos[i], data.peak_sigma[i])
        if not np.isnan(p)
    ]


def load(path) -> RamanData:
    """Load a data set written with :meth:`RamanData.to_arrays` (an ``.npz`` file).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.

    Returns
    -------
    RamanData
        The loaded data set.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TypeError
        If the file's arrays do not match the fields of :class:`RamanData`.
    """
    from ..io import load_npz

    if not Path(path).exists():
        raise FileNotFoundError(f"{path} is missing")
    return RamanData(**load_npz(path))
