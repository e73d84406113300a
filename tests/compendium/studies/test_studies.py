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
                "kernel_shap": {"n_samples": 20}, "gradient_shap": {"n_samples": 4},
                "deeplift_shap": {"background": torch.zeros(2, 1, 120)}}
    assert set(settings) == set(raman.METHODS)
    for method in raman.METHODS:
        out = raman.explain_spectra(method, settings[method], model, X, y)
        assert out["attr"].shape == (2, 120) and out["seconds"].shape == (), method
    rex = raman.explain_spectra("rex", settings["rex"], model, X, y)
    assert rex["suff_masks"].shape == (2, 120) and rex["queries"].shape == (2,) and rex["degenerate"].shape == (2,)
    assert raman.explain_spectra("deeplift_shap", settings["deeplift_shap"], model, X, y)["delta"].shape == (2,)
