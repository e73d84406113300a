"""What the study modules share (rexbench.compendium.studies): the manifest check that the
data loaders no longer make, and choosing correctly classified inputs; Part I's tasks."""
import numpy as np
import pytest
import torch

from helpers.models import small_lrcn
from rexbench.compendium.artifacts import cached_npz, save_npz
from rexbench.compendium.studies import first_correct, raman, require, stroke
from rexbench.data import generate_raman


def test_require_names_the_chapter_that_makes_an_artifact(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(FileNotFoundError, match="x.npz is missing or incomplete: run chapter 01_a first"):
        require(path, "01_a")
    save_npz(path, a=np.ones(2))  # written, but without a manifest: not complete
    with pytest.raises(FileNotFoundError, match="run chapter 01_a first"):
        require(path, "01_a")
    cached_npz(path, lambda: {"a": np.ones(2)}, notebook="01_a", params={})
    assert require(path, "01_a") == path


def test_study_loaders_refuse_incomplete_artifacts(tmp_path):
    """What Raman/stroke load() used to check, now done by the studies."""
    d = generate_raman("single", 10, seed=0)
    path = raman.dataset_path(tmp_path, "single")
    save_npz(path, **d.to_arrays())  # no manifest: an interrupted chapter 01
    with pytest.raises(FileNotFoundError, match="run chapter 01_raman_datasets first"):
        raman.load_dataset(tmp_path, "single")
    cached_npz(path, d.to_arrays, notebook="01_raman_datasets", params={})
    np.testing.assert_array_equal(raman.load_dataset(tmp_path, "single").X, d.X)
    with pytest.raises(FileNotFoundError, match="run chapter 05_stroke_volumes first"):
        stroke.load_volumes(tmp_path)
    with pytest.raises(FileNotFoundError, match="run chapter 06_stroke_model first"):
        stroke.load_model(tmp_path)


def test_first_correct():
    labels = np.array([0, 1, 1, 1, 0, 1])
    pred = np.array([0, 0, 1, 1, 0, 1])
    assert first_correct(pred, labels, 1, 2).tolist() == [2, 3]
    assert first_correct(pred, labels, 1, 10).tolist() == [2, 3, 5]  # fewer if there are fewer
    assert first_correct(pred, labels, 2, 1).tolist() == []
    with pytest.raises(ValueError, match="n must be at least 1"):
        first_correct(pred, labels, 1, 0)


@pytest.mark.filterwarnings("ignore:Setting forward, backward hooks:UserWarning")
@pytest.mark.filterwarnings("ignore:samples .* degenerate:UserWarning")  # an untrained LRCN may be
def test_explain_spectra_adds_each_methods_extras():
    model = small_lrcn(120)
    X = torch.randn(2, 1, 120, generator=torch.Generator().manual_seed(0))
    y = torch.as_tensor(model(X).argmax(1))
    settings = {"rex": {"iters": 2, "min_box_size": 10, "on_degenerate": "flag"},
                "specrex": {"iters": 2, "min_size": 10},
                "kernel_shap": {"n_samples": 20}, "gradient_shap": {"n_samples": 4},
                "deeplift_shap": {"background": torch.zeros(2, 1, 120)}}
    assert set(settings) == set(raman.METHODS)
    for method in raman.METHODS:
        out = raman.explain_spectra(method, settings[method], model, X, y)
        assert out["attr"].shape == (2, 120) and out["seconds"].shape == (), method
    rex = raman.explain_spectra("rex", settings["rex"], model, X, y)
    assert rex["suff_masks"].shape == (2, 120) and rex["queries"].shape == (2,) and rex["degenerate"].shape == (2,)
    assert raman.explain_spectra("deeplift_shap", settings["deeplift_shap"], model, X, y)["delta"].shape == (2,)
    spec = raman.explain_spectra("specrex", settings["specrex"], model, X, y)
    assert spec["queries"].shape == (2,) and (spec["queries"] > 1).all() and "suff_masks" not in spec


def test_generator_composition_counts_what_each_generator_did():
    kw = dict(n_per_class=60, seed=0)
    intended = {n: generate_raman(n, **kw) for n in ("single", "complex")}
    published = {n: generate_raman(n, variant="published", **kw) for n in ("single", "complex")}
    a = raman.generator_composition(intended, "intended").set_index(["dataset", "class"])
    b = raman.generator_composition(published, "published").set_index(["dataset", "class"])
    assert (a.n == 60).all() and (a.share_faux_near_class_peak == 0).all()  # ours keeps 100 points away
    assert a.loc[("single", 2), "share_with_own_peak"] == 0 and 0.3 < b.loc[("single", 2), "share_with_own_peak"] < 0.7
    assert (a.share_lacking_shared_peak == 0).all() and b.loc[("complex", 2), "share_lacking_shared_peak"] > 0.9
    assert b.share_faux_near_class_peak.max() > 0.1 and (b.length == a.length).all()


class PeakReader(torch.nn.Module):
    """A 'model' of the single-peak set that reads only the class peaks' regions: class 0's
    score is the largest value near 250, class 1's near 750, class 2 a constant."""

    def forward(self, x):
        near = lambda raw: x[:, 0, raw - 24 - 30 : raw - 24 + 30].amax(1)  # cropped axis, +-30 for the shift
        return torch.stack([near(250), near(750), torch.full((len(x),), 2.0)], 1)


def _usage_setup(tmp_path, monkeypatch, generator="intended"):
    from rexbench.compendium.artifacts import write_manifest

    d = raman.make_dataset(tmp_path, "single", n_per_class=20, noise=50.0, seed=3, generator=generator)
    model_file = raman.model_path(tmp_path, "single", generator, 7)
    model_file.parent.mkdir(parents=True, exist_ok=True)
    model_file.write_bytes(b"hand-made")
    write_manifest(model_file, notebook="02_raman_models", params={"seed": 7})
    monkeypatch.setattr(raman, "load_model", lambda data_dir, name, *a: PeakReader())
    test = d.of_split("test")
    subsets, keys = {}, {}
    for cls in (0, 1):
        idx = raman.explained(test, PeakReader(), cls, 5)
        subsets["single", cls], keys["single", cls] = test.subset(idx), idx
    return subsets, keys


def test_model_usage_finds_the_components_a_model_reads(tmp_path, monkeypatch):
    """Removing the peak a model reads changes its answer; removing the faux peak it never
    reads does not; the table names the peak, the model's seed and the interval."""
    subsets, keys = _usage_setup(tmp_path, monkeypatch)
    assert all(len(k) > 0 for k in keys.values())
    u = raman.model_usage(tmp_path, subsets, keys, model_seed=7).set_index(["target_class", "component"])
    assert set(u.index) == {(0, "peak0"), (0, "faux"), (1, "peak0"), (1, "faux")}  # no second peak in this set
    assert u.loc[(0, "peak0"), "peak"] == "250" and u.loc[(1, "peak0"), "peak"] == "750"
    assert (u.loc[[(0, "peak0"), (1, "peak0")], "flip_rate"] == 1).all()
    assert (u.loc[[(0, "peak0"), (1, "peak0")], "flip_to"] == 2).all()  # to the constant null score
    assert (u.loc[[(0, "faux"), (1, "faux")], "flip_rate"] == 0).all()
    assert u.used.tolist() == (u.flip_rate >= raman.USED_FLIP_RATE).tolist()
    assert (u.seed == 7).all() and (u.n == [len(keys["single", c]) for c, _ in u.index]).all()
    assert (u.flip_rate_ci_low <= u.flip_rate).all() and (u.flip_rate <= u.flip_rate_ci_high).all()
    # The used truth then holds each spectrum's own peak window only.
    wins = raman.used_windows(subsets["single", 0], ["peak0"])
    assert all(len(w) == 1 and w[0][0] < p < w[0][1] for w, p in zip(wins, subsets["single", 0].peak_pos[:, 0]))


def test_model_usage_refuses_a_regeneration_that_does_not_reproduce_the_data(tmp_path, monkeypatch):
    import json

    from rexbench.compendium.artifacts import manifest_path

    subsets, keys = _usage_setup(tmp_path, monkeypatch)
    path = manifest_path(raman.dataset_path(tmp_path, "single"))
    m = json.loads(path.read_text())
    m["params"]["seed"] = 4  # not what made the spectra
    path.write_text(json.dumps(m))
    with pytest.raises(RuntimeError, match="does not reproduce its spectra"):
        raman.model_usage(tmp_path, subsets, keys, model_seed=7)


def test_model_usage_of_the_published_data_and_a_shared_cache(tmp_path, monkeypatch):
    """The published generator's spectra are regenerated by its own rules; the regenerated
    test split is computed once and shared by every model; a model whose manifest names
    another seed is refused."""
    from rexbench.compendium.artifacts import write_manifest

    subsets, keys = _usage_setup(tmp_path, monkeypatch, generator="published")
    assert raman.dataset_path(tmp_path, "single", "published").parent.name == "published"
    cache = {}
    u = raman.model_usage(tmp_path, subsets, keys, generator="published", model_seed=7, cache=cache)
    assert set(u.generator) == {"published"} and (u.seed == 7).all() and len(u)
    assert ("published", "single", "faux") in cache
    again = raman.model_usage(tmp_path, subsets, keys, generator="published", model_seed=7, cache=cache)
    assert again.equals(u)
    write_manifest(raman.model_path(tmp_path, "single", "published", 7), notebook="02_raman_models",
                   params={"seed": 8})
    with pytest.raises(RuntimeError, match="trained with seed 8"):
        raman.model_usage(tmp_path, subsets, keys, generator="published", model_seed=7, cache=cache)


def test_paths_name_the_generator_and_the_seed(tmp_path):
    assert raman.model_path(tmp_path, "double").name == "lrcn_double.pt"  # the headline model
    assert raman.model_path(tmp_path, "double", "intended", 3).name == "lrcn_double_intended_seed3.pt"
    assert raman.model_path(tmp_path, "double", "published", 0).name == "lrcn_double_published_seed0.pt"
    assert raman.dataset_path(tmp_path, "double") == tmp_path / "raman" / "double.npz"
    with pytest.raises(ValueError, match="generator must be one of"):
        raman.dataset_path(tmp_path, "double", "authors")


def test_spectrum_rows_score_every_truth_and_count_peaks():
    d = generate_raman("single", 10, seed=0)
    sub = d.subset(np.flatnonzero(d.y == 0)[:4])
    attr = np.zeros((4, sub.X.shape[2]))
    for i, p in enumerate(sub.peak_pos[:, 0]):
        attr[i, int(p)] = 1.0
    attr[3] = np.nan  # no explanation
    elsewhere = [[(p + 100, p + 110)] for p in sub.peak_pos[:, 0]]
    rows = raman.spectrum_rows({"attr": attr}, sub, [5, 6, 7, 8], {"designed": None, "used": elsewhere},
                               prominence=0.1)
    assert rows.key.tolist() == [5, 6, 7, 8] * 2 and rows.truth.tolist() == ["designed"] * 4 + ["used"] * 4
    assert rows.argmax_hit.tolist()[:3] == [1, 1, 1] and rows.argmax_hit.tolist()[4:7] == [0, 0, 0]
    assert rows.peaks_prominence.tolist()[:3] == [1, 1, 1] and np.isnan(rows.argmax_hit[3])
    assert np.isnan(rows.peaks_default[3])
    with pytest.raises(ValueError, match="3 keys for 4 maps"):
        raman.spectrum_rows({"attr": attr}, sub, [1, 2, 3], {"designed": None}, prominence=0.1)


def test_across_models_pools_spectra_and_resamples_models():
    import pandas as pd

    # Two models that disagree completely: the pooled mean is 0.5, the per-model means 0 and 1,
    # and the interval (models resampled) spans both.
    scores = pd.DataFrame({"method": "m", "seed": [0] * 10 + [1] * 10, "key": list(range(10)) * 2,
                           "hit": [0.0] * 10 + [1.0] * 10})
    scores.loc[3, "hit"] = np.nan  # an unscored spectrum
    t = raman.across_models(scores, ["method"], ["hit"]).iloc[0]
    assert t.n_models == 2 and t.n == 19 and t.hit_n == 19 and t.n_spectra == 10
    assert t.hit == pytest.approx(10 / 19) and t.hit_model_min == 0 and t.hit_model_max == 1
    assert t.hit_ci_low == 0 and t.hit_ci_high == 1
    # Models that agree: a narrow interval.
    same = raman.across_models(scores.assign(hit=1.0), ["method"], ["hit"]).iloc[0]
    assert same.hit == 1 == same.hit_ci_low == same.hit_ci_high
    with pytest.raises(KeyError, match="lack the columns"):
        raman.across_models(scores, ["dataset"], ["hit"])


def test_across_models_resamples_the_spectra_the_models_share():
    import pandas as pd

    # Five models on the same ten spectra, each spectrum as hard for every model: the
    # spread is between spectra, so the interval must be as wide as one model's over its
    # spectra (a bootstrap of spectra within each model would shrink it by about sqrt(5)).
    rng = np.random.default_rng(2)
    difficulty = rng.normal(0, 1, size=10)
    scores = pd.DataFrame([{"method": "m", "seed": s, "key": k, "v": difficulty[k] + rng.normal(0, 0.05)}
                           for s in range(5) for k in range(10)])
    pooled = raman.across_models(scores, ["method"], ["v"]).iloc[0]
    one = raman.across_models(scores[scores.seed == 0], ["method"], ["v"]).iloc[0]
    assert pooled.v_ci_high - pooled.v_ci_low > 0.8 * (one.v_ci_high - one.v_ci_low)


def test_localisation_scores_against_given_windows_with_intervals():
    d = generate_raman("single", 10, seed=0)
    sub = d.subset(np.flatnonzero(d.y == 0)[:6])
    attr = np.zeros((6, sub.X.shape[2]))
    for i, p in enumerate(sub.peak_pos[:, 0]):
        attr[i, int(p)] = 1.0  # every map's maximum on its own peak
    row = raman.localisation({"attr": attr}, sub)
    assert row["n"] == 6 and row["argmax_hit_rate"] == 1 == row["argmax_hit_rate_ci_low"] == row["argmax_hit_rate_ci_high"]
    elsewhere = [[(p + 100, p + 110)] for p in sub.peak_pos[:, 0]]
    elsewhere[0] = []  # a spectrum with no truth window is left out
    row = raman.localisation({"attr": attr}, sub, elsewhere)
    assert row["n"] == 5 and row["argmax_hit_rate"] == 0 and row["mass_in_peaks"] == 0
    with pytest.raises(ValueError, match="2 window lists and 6 maps for 6 spectra"):
        raman.localisation({"attr": attr}, sub, elsewhere[:2])


def _randomisation_setup(tmp_path, monkeypatch, model):
    from rexbench.compendium.artifacts import write_manifest

    d = raman.make_dataset(tmp_path, "single", n_per_class=40, noise=50.0, seed=3)
    path = raman.model_path(tmp_path, "single")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"a model")
    write_manifest(path, notebook="02_raman_models", params={"seed": 0})
    monkeypatch.setattr(raman, "load_model", lambda data_dir, name, *a: model)
    test = d.of_split("test")
    idx = np.flatnonzero(test.y == 0)[:3]
    assert len(idx) == 3
    sub = test.subset(idx)
    # The trained model's maps, as the chapter's sweep makes them.
    background = raman.background_spectra(d.of_split("train"), 4, 0)
    settings = raman.method_settings("deeplift_shap", background=background, seed=0, rex_iters=2, rex_tree_depth=4,
                                     rex_min_box=25, rex_search_limit=50, kshap_samples=20, gshap_samples=8)
    trained = raman.explain_spectra("deeplift_shap", settings, model, torch.as_tensor(sub.X),
                                    torch.zeros(3, dtype=torch.long))
    return ({("single", 0): sub}, {("single", 0): idx}, {("single", 0, "deeplift_shap"): trained},
            dict(deeplift_background=4, seed=0, rex_iters=2, rex_tree_depth=4, rex_min_box=25, rex_search_limit=50,
                 kshap_samples=20, gshap_samples=8, methods=["deeplift_shap"], n=3))


def test_model_randomisation_scores_one_for_a_model_that_did_not_change(tmp_path, monkeypatch):
    """With the 'randomised' copy replaced by the trained model itself, a deterministic
    method's maps are the same on both (rank correlation 1); on a truly randomised copy they
    are not."""
    from rexbench.metrics import sanity

    model = small_lrcn(852)
    subsets, keys, results, kw = _randomisation_setup(tmp_path, monkeypatch, model)
    with monkeypatch.context() as m:
        m.setattr(sanity, "randomised_copy", lambda model, seed=0: model)
        same = raman.model_randomisation(tmp_path, subsets, keys, results, **kw)
    assert same.n.tolist() == [3]
    assert same.rank_correlation.iloc[0] == pytest.approx(1.0)
    assert same.abs_rank_correlation.iloc[0] == pytest.approx(1.0)
    for f in (raman.model_path(tmp_path, "single").parent.parent / "sanity").glob("*"):
        f.unlink()  # the cache is keyed on the trained model, not on the patched copy
    changed = raman.model_randomisation(tmp_path, subsets, keys, results, **kw)
    assert changed.n.tolist() == [3] and changed.rank_correlation.iloc[0] < 0.9
    lo, hi = changed.rank_correlation_ci_low.iloc[0], changed.rank_correlation_ci_high.iloc[0]
    assert lo <= changed.rank_correlation.iloc[0] <= hi
    assert 0 <= changed.randomised_predicts_class.iloc[0] <= 1


def test_paired_method_tests_difference_interval_and_holm():
    ones, zeros = np.ones(12), np.zeros(12)
    noisy = np.r_[np.ones(6), np.zeros(6)]
    scores = {("single", 0, "designed", "hit", "rex"): ones, ("single", 0, "designed", "hit", "kernel_shap"): zeros,
              ("single", 0, "designed", "hit", "specrex"): ones.copy(),
              ("double", 1, "designed", "hit", "rex"): noisy, ("double", 1, "designed", "hit", "kernel_shap"): noisy}
    t = raman.paired_method_tests(scores, [("rex", "kernel_shap"), ("rex", "specrex"), ("rex", "deeplift_shap")])
    assert t[["dataset", "method_b"]].values.tolist() == [["single", "kernel_shap"], ["single", "specrex"],
                                                         ["double", "kernel_shap"]]  # absent pairs skipped
    first = t.iloc[0]
    assert first.mean_difference == 1 and first.mean_difference_ci_low == 1 and first.p < 0.01
    assert t.iloc[1].p == 1.0 and t.iloc[2].p == 1.0 and t.iloc[2].mean_difference == 0  # no difference
    assert (t.p_holm >= t.p).all() and t.p_holm.iloc[0] == pytest.approx(min(1.0, 3 * first.p))


def test_paired_across_models_pairs_spectra_within_each_model():
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []
    for seed in range(4):
        for key in range(6):
            base = rng.normal()
            rows += [{"g": "x", "seed": seed, "key": key, "method": "a", "s": base + 1.0 + rng.normal(0, 0.1)},
                     {"g": "x", "seed": seed, "key": key, "method": "b", "s": base},
                     {"g": "x", "seed": seed, "key": key, "method": "c", "s": base + rng.normal(0, 0.01)}]
    rows[-1]["s"] = np.nan  # c has one spectrum unscored
    t = raman.paired_across_models(pd.DataFrame(rows), ["g"], "s", [("a", "b"), ("c", "b"), ("a", "z")])
    ab, cb = t.iloc[0], t.iloc[1]
    assert len(t) == 2  # a method with no scores gives no row
    assert ab.mean_difference == pytest.approx(1.0, abs=0.05) and ab.p < 1e-3 and ab.n == 24 and ab.n_models == 4
    assert (ab.models_above, ab.models_below) == (4, 0) and ab.mean_difference_ci_low > 0.9
    assert cb.n == 23 and abs(cb.mean_difference) < 0.01 and cb.p > 0.01
    assert cb.mean_difference_ci_low < 0 < cb.mean_difference_ci_high
    # Identical differences leave no spread to test against; a repeated row is refused.
    few = pd.DataFrame([{"g": "x", "seed": s, "key": k, "method": m, "s": float(m == "a")}
                        for s in range(2) for k in range(2) for m in "ab"])
    assert np.isnan(raman.paired_across_models(few, ["g"], "s", [("a", "b")]).iloc[0].p)
    with pytest.raises(ValueError, match="more than once"):
        raman.paired_across_models(pd.concat([few, few.iloc[:1]]), ["g"], "s", [("a", "b")])


def test_explanation_cells_skip_a_class_a_model_gets_wholly_wrong(tmp_path, monkeypatch):
    class AlwaysNull(torch.nn.Module):
        def forward(self, x):
            return torch.tensor([[0.0, 0.0, 1.0]]).repeat(len(x), 1)

    for name in raman.DATASETS:
        raman.make_dataset(tmp_path, name, n_per_class=10, noise=50.0, seed=3)
    monkeypatch.setattr(raman, "load_model", lambda data_dir, name, *a: AlwaysNull())
    kw = dict(n_explain=2, deeplift_background=2, seed=0, methods=["deeplift_shap"], rex_iters=2, rex_tree_depth=2,
              rex_min_box=25, rex_search_limit=10, kshap_samples=20, gshap_samples=2)
    with pytest.raises(RuntimeError, match="classifies no test spectrum of class 0 correctly"):
        raman.explanation_cells(tmp_path, **kw)
    cells, subsets = raman.explanation_cells(tmp_path, skip_unexplained=True, **kw)
    assert cells == {} and subsets == {}


def test_train_lrcns_trains_the_same_model_in_a_worker_as_here(tmp_path):
    # One torch thread for training wherever it runs: a model trained in a Dask worker is
    # the model trained in this process (here with two torch threads), bit for bit.
    settings = dict(epochs=1, batch_size=16, max_lr=0.05, kernels=[5, 5, 3, 3], lstm_hidden=8, lstm_layers=1)
    for where in ("here", "dask"):
        raman.make_dataset(tmp_path / where, "single", n_per_class=10, noise=50.0, seed=3)
    runs = [("intended", "single", 0), ("intended", "single", 1)]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        here, h_here = raman.train_lrcns(tmp_path / "here", runs, **settings)
        assert torch.get_num_threads() == 2  # the caller's thread count is restored
    finally:
        torch.set_num_threads(before)
    there, h_there = raman.train_lrcns(tmp_path / "dask", runs, scheduler="local:2", **settings)
    for run in runs:
        assert h_here[run] == h_there[run]
        for a, b in zip(here[run].state_dict().values(), there[run].state_dict().values()):
            assert torch.equal(a, b)
    # The two seeds are different models.
    a, b = (next(iter(here[r].state_dict().values())) for r in runs)
    assert not torch.equal(a, b)
    with pytest.raises(ValueError, match="repeat"):
        raman.train_lrcns(tmp_path / "here", runs + runs[:1], **settings)
