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
