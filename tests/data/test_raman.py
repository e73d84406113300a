"""Simulated Raman spectra (rexbench.data.raman): shapes, balance, split, ground-truth
peaks, determinism and loading."""
import numpy as np
import pytest

from rexbench.data import generate_raman
from rexbench.data.raman import DATASETS, RamanData, faux_allowed, load, peak_windows, strict_subsets
from rexbench.io import save_npz


@pytest.fixture(scope="module", params=["single", "double", "complex"])
def data(request):
    return request.param, generate_raman(request.param, n_per_class=60, seed=1)


def test_shapes_balance_and_split(data):
    name, d = data
    L = DATASETS[name].length
    assert d.X.shape == (180, 1, L) and d.X.dtype == np.float32
    assert np.bincount(d.y).tolist() == [60, 60, 60]
    assert (np.bincount(d.source_class[d.y == 2]) == 30).all()
    counts = {s: int((d.split == s).sum()) for s in ("train", "val", "test")}
    assert counts == {"train": 144, "val": 18, "test": 18}
    # SNV: every spectrum has mean 0 and std 1.
    np.testing.assert_allclose(d.X.mean(axis=2), 0, atol=1e-5)
    np.testing.assert_allclose(d.X.std(axis=2), 1, atol=1e-4)


def test_ground_truth_peak_positions(data):
    name, d = data
    spec = DATASETS[name]
    for i in range(len(d.y)):
        expected = {p - spec.crop + d.shift[i] for p, _, _ in spec.class_peaks[d.source_class[i]]}
        present = {int(p) for p in d.peak_pos[i] if not np.isnan(p)}
        if d.y[i] in (0, 1):
            assert present == expected
        else:  # class 2: a strict subset
            assert present < expected
    assert (np.abs(d.shift) <= 23).all()


def test_peaks_are_where_the_truth_says():
    # Without noise or baseline a discriminative peak is the local maximum at its position.
    d = generate_raman("single", n_per_class=10, seed=0, noise=0.0, baseline_cap=0.0)
    for i in np.flatnonzero(d.y < 2):
        p = int(d.peak_pos[i, 0])
        assert d.X[i, 0, p] == d.X[i, 0, p - 8 : p + 9].max()
        assert abs(d.faux_pos[i] - p) >= 100


def test_faux_allowed_positions_by_hand():
    # single: peaks at 250 and 750 of 900, margin 100: [100, 150] and [350, 650].
    a = faux_allowed(DATASETS["single"])
    assert a.tolist() == list(range(100, 151)) + list(range(350, 651))
    # The intended generator draws its faux peaks from exactly these positions (raw axis).
    d = generate_raman("complex", n_per_class=60, seed=2)
    raw = d.faux_pos + DATASETS["complex"].crop - d.shift
    assert set(np.round(raw).astype(int)) <= set(faux_allowed(DATASETS["complex"]).tolist())
    assert faux_allowed(DATASETS["single"], min_dist=400).size == 0


def test_single_null_class_has_no_peak():
    d = generate_raman("single", n_per_class=20, seed=0)
    assert np.isnan(d.peak_pos[d.y == 2]).all()
    assert strict_subsets([1]) == [()]
    assert strict_subsets([1, 2]) == [(), (0,), (1,)]


def test_deterministic_and_windows():
    a, b = generate_raman("double", 10, seed=3), generate_raman("double", 10, seed=3)
    np.testing.assert_array_equal(a.X, b.X)
    i = int(np.flatnonzero(a.y == 0)[0])
    wins = peak_windows(a, i)
    assert len(wins) == 2 and all(hi - lo == pytest.approx(4 * s) for (lo, hi), s in zip(wins, a.peak_sigma[i]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown Raman data set"):
        generate_raman("triple")
    with pytest.raises(ValueError, match="n_per_class"):
        generate_raman("single", 1)
    with pytest.raises(ValueError, match="non-negative"):
        generate_raman("single", 10, noise=-1)


def test_load_round_trip_and_missing_file(tmp_path):
    d = generate_raman("single", 10, seed=3)
    save_npz(tmp_path / "single.npz", **d.to_arrays())
    back = load(tmp_path / "single.npz")
    assert isinstance(back, RamanData)
    np.testing.assert_array_equal(back.X, d.X)
    np.testing.assert_array_equal(back.peak_pos, d.peak_pos)
    with pytest.raises(FileNotFoundError, match="nothing.npz is missing"):
        load(tmp_path / "nothing.npz")


# ------------------------------------------------------------------ the published generator
@pytest.fixture(scope="module", params=["single", "double", "complex"])
def published(request):
    return request.param, generate_raman(request.param, n_per_class=200, seed=2, variant="published")


def test_published_composition(published):
    name, d = published
    spec = DATASETS[name]
    assert d.X.shape == (600, 1, spec.length) and np.bincount(d.y).tolist() == [200, 200, 200]
    assert (np.bincount(d.source_class[d.y == 2]) == 100).all()
    own = (~np.isnan(d.peak_pos)).sum(axis=1)
    n_shared = d.shared_present.sum(axis=1)
    n_list = {c: len(spec.class_peaks[c]) + len(spec.shared_peaks) for c in (0, 1)}
    total = own + n_shared
    full = np.array([n_list[c] for c in d.source_class])
    # Classes 0 and 1 carry every peak of the class's list; class 2 a strict subset or none.
    assert (total[d.y < 2] == full[d.y < 2]).all()
    c2 = d.y == 2
    if name == "single":  # the authors' helper: the one peak itself, so class 2 is half label noise
        assert set(total[c2]) == {0, 1} and 0.35 < (total[c2] == 1).mean() < 0.65
    else:
        assert (total[c2] < full[c2]).all() and 0.35 < (total[c2] == 0).mean() < 0.65
    if name == "complex":  # subsets drop shared peaks too
        assert (n_shared[c2] < len(spec.shared_peaks)).mean() > 0.4
        assert d.shared_present[d.y < 2].all()


def test_published_faux_peak_keeps_away_from_present_peaks_only(published):
    name, d = published
    spec = DATASETS[name]
    for i in range(len(d.y)):
        present = [p for p in d.peak_pos[i] if not np.isnan(p)]
        present += [p - spec.crop + d.shift[i] for (p, _, _), on in
                    zip(spec.shared_peaks, d.shared_present[i]) if on]
        assert all(abs(d.faux_pos[i] - p) > 100 for p in present)
    assert set(np.unique(d.faux_sigma)) <= set(range(10, 20))
    # Unlike the intended generator, a faux peak may sit on a peak the spectrum lacks.
    other = [p for c in (0, 1) for p, _, _ in spec.class_peaks[c]]
    raw_faux = d.faux_pos + spec.crop - d.shift
    assert any(abs(f - p) <= 100 for f in raw_faux for p in other)


def test_published_split_is_the_authors_unstratified_one():
    from sklearn.model_selection import train_test_split

    d = generate_raman("double", n_per_class=50, seed=0, variant="published")
    train, rest = train_test_split(np.arange(150), test_size=0.2, random_state=42)
    val, test = train_test_split(rest, test_size=0.5, random_state=42)
    assert (d.split[train] == "train").all() and (d.split[val] == "val").all() and (d.split[test] == "test").all()


def test_published_peaks_on_the_authors_grid():
    # No noise, no baseline: the class peak is the maximum around its recorded position.
    d = generate_raman("single", n_per_class=20, seed=0, noise=0.0, baseline_cap=0.0, variant="published")
    for i in np.flatnonzero(d.y < 2):
        p = int(round(d.peak_pos[i, 0]))  # grid points: the class-0 peak "at 250" is at 249.7
        assert d.X[i, 0, p] == d.X[i, 0, p - 8 : p + 9].max()
        assert d.peak_pos[i, 0] % 1 != 0
    with pytest.raises(ValueError, match="unknown generator variant"):
        generate_raman("single", 10, variant="authors")


def test_published_round_trip_keeps_shared_peaks(tmp_path):
    d = generate_raman("complex", 10, seed=3, variant="published")
    save_npz(tmp_path / "complex.npz", **d.to_arrays())
    back = load(tmp_path / "complex.npz")
    np.testing.assert_array_equal(back.shared_present, d.shared_present)
    assert back.subset(back.y == 2).shared_present.shape == ((back.y == 2).sum(), 17)
    assert generate_raman("complex", 10, seed=3).shared_present is None


# ------------------------------------------------------------------ counterfactual spectra
@pytest.mark.parametrize("variant", ["intended", "published"])
def test_without_component_keeps_every_other_draw(variant):
    from rexbench.data.raman import without_component

    kw = dict(n_per_class=30, seed=4, variant=variant)
    d = generate_raman("double", **kw)
    rows = np.flatnonzero(d.y < 2)[:6]
    for part, pos, sig in (("peak1", d.peak_pos[rows, 1], d.peak_sigma[rows, 1]), ("faux", d.faux_pos[rows], d.faux_sigma[rows])):
        out = without_component("double", rows, part, **kw)
        assert out.shape == (len(rows), 1, d.X.shape[2]) and out.dtype == np.float32
        grid = np.arange(d.X.shape[2])
        for r, x_new, p, s in zip(rows, out[:, 0], pos, sig):
            far = np.abs(grid - p) > 6 * s
            # Away from the removed peak only SNV's mean and scale changed: an exact affine map.
            a, b = np.polyfit(d.X[r, 0, far], x_new[far], 1)
            np.testing.assert_allclose(a * d.X[r, 0, far] + b, x_new[far], atol=1e-4)
            near = np.abs(grid - p) <= s
            assert (a * d.X[r, 0, near] + b - x_new[near]).mean() > 0.5  # the peak is gone there


def test_without_component_leaves_a_spectrum_without_it_unchanged_and_checks_names():
    from rexbench.data.raman import without_component

    d = generate_raman("single", n_per_class=20, seed=0)
    rows = np.flatnonzero(d.y == 2)[:4]  # intended single: class 2 has no peak
    np.testing.assert_array_equal(without_component("single", rows, "peak0", n_per_class=20, seed=0), d.X[rows])
    with pytest.raises(ValueError, match="unknown component 'peak2'"):
        without_component("single", rows, "peak2", n_per_class=20, seed=0)


def test_without_a_second_peak_a_one_peak_spectrum_is_unchanged_under_both_generators():
    from rexbench.data.raman import without_component

    for variant in ("intended", "published"):
        d = generate_raman("single", n_per_class=20, seed=0, variant=variant)
        rows = np.flatnonzero(d.y < 2)[:3]
        out = without_component("single", rows, "peak1", n_per_class=20, seed=0, variant=variant)
        np.testing.assert_array_equal(out, d.X[rows])
