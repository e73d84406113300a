"""Part II's study module (rexbench.compendium.studies.stroke): the baselines' and ReX's
settings on volumes, and its sweep tasks."""
import numpy as np
import pytest
import torch

from rexbench.compendium.studies.stroke import (BASELINES, REX_BATCH, baseline_settings, baseline_task, occlusion,
                                                rex_settings, rex_task)
from rexbench.explain import BaselineOcclusion, ConstantOcclusion, make_explainer
from rexbench.models import CNN3D

SMALL = dict(ig_steps=4, gshap_samples=3, kshap_cube=8, kshap_samples=20, grid=16, seed=0)


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return CNN3D(channels=(4, 8), last=8).eval()


def test_every_baseline_explains_volumes(cnn):
    """What volume_baseline did: each baseline through captum, maps shaped like the volumes."""
    x = torch.rand(2, 1, 16, 16, 16, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([1, 1])
    for method in BASELINES:
        e = make_explainer(method, cnn, **baseline_settings(method, **SMALL)).attribute(x, t)
        assert e.maps.shape == x.shape and torch.isfinite(e.maps).all(), method
    ks = baseline_settings("kernel_shap", **SMALL)
    assert ks["feature_mask"].shape == (1, 1, 16, 16, 16) and ks["feature_mask"].unique().numel() == 8
    with pytest.raises(KeyError, match="lime"):
        baseline_settings("lime", **SMALL)


@pytest.mark.filterwarnings("ignore:samples .* degenerate:UserWarning")
def test_baseline_task_and_rex_task(cnn):
    x = torch.rand(2, 1, 16, 16, 16, generator=torch.Generator().manual_seed(1))
    t = torch.as_tensor(cnn(x).argmax(1))
    out = baseline_task("saliency", {}, cnn, x, t)
    assert out["attr"].shape == (2, 16, 16, 16) and out["seconds"].shape == (2,)
    settings = rex_settings("zero", None, iters=1, min_box_size=8, search_limit=28, seed=0)
    assert settings["max_batch_size"] == REX_BATCH and settings["on_degenerate"] == "flag"
    r = rex_task(settings, cnn, x, t)  # an untrained CNN may be degenerate: flagged, not raised
    assert r["attr"].shape == (2, 16, 16, 16) and r["suff_masks"].dtype == bool
    assert (r["queries"] > 0).all() and r["degenerate"].shape == (2,) and r["seconds"].shape == (2,)


def test_occlusions_by_name():
    assert isinstance(occlusion("zero"), ConstantOcclusion) and occlusion("zero").value == 0.0
    assert occlusion("mean").value == "mean" and occlusion("min").value == "min"
    assert isinstance(occlusion("context", np.zeros((1, 4, 4, 4))), BaselineOcclusion)
    with pytest.raises(ValueError, match="needs the context volume"):
        occlusion("context")
    with pytest.raises(ValueError, match="unknown occlusion 'blur'"):
        occlusion("blur")


def test_load_explanations_reads_maps_and_subjects(tmp_path):
    from rexbench.compendium.artifacts import cached_npz
    from rexbench.compendium.studies.stroke import explanation_path, load_explanations

    for stem in ("rex_zero", "rex_mean"):
        cached_npz(explanation_path(tmp_path, stem), lambda: {"attr": np.ones((2, 4, 4, 4))}, notebook="07",
                   params={"subjects": [3, 7]})
    maps, subjects = load_explanations(tmp_path, ["rex_zero", "rex_mean"])
    assert set(maps) == {"rex_zero", "rex_mean"} and subjects.tolist() == [3, 7]
    with pytest.raises(FileNotFoundError, match="run chapter 07_stroke_explanations first"):
        load_explanations(tmp_path, ["rex_context"])


def test_volume_viewer_works_offline():
    from rexbench.compendium.plotting import volume_viewer

    vol = np.zeros((12, 12, 12), dtype=np.float32)
    vol[4:8, 4:8, 4:8] = 1
    viewer = volume_viewer(vol, vol, np.eye(4), (6, 6, 6), title="sub-0000", threshold=0.5, cmap="autumn_r",
                           vmin=0, vmax=1, colorbar=False)
    assert "sub-0000" in viewer.html and 'rel="icon"' not in viewer.html
