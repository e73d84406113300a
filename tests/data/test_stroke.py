import numpy as np
import pytest
import torch

from rexbench.data.stroke import generate, save_nifti, template
from rexbench.explain.baselines import cube_feature_mask, volume_baseline
from rexbench.metrics import dice_iou, pointing_game_ties, quantus_localisation
from rexbench.models import CNN3D, load_cnn3d, save_cnn3d


@pytest.fixture(scope="module")
def data():
    return generate(n_subjects=12, grid=24, seed=3)


def test_template_is_real_anatomy():
    t1, brain, affine = template(24)
    assert t1.shape == (24, 24, 24) and brain.shape == t1.shape
    assert 0.15 < brain.mean() < 0.6  # a brain, not a box
    assert t1[~brain].mean() < 0.05 and t1[brain].mean() > 0.5  # dark outside, tissue inside
    assert np.allclose(np.abs(np.diag(affine)[:3]), np.abs(affine[0, 0]))  # isotropic


def test_labels_match_masks_and_lesions_stay_inside(data):
    assert data.X.shape == (12, 1, 24, 24, 24) and data.X.dtype == np.float32
    assert np.bincount(data.y).tolist() == [6, 6]
    has_lesion = data.lesion.reshape(12, -1).any(axis=1)
    np.testing.assert_array_equal(has_lesion, data.y == 1)
    assert (data.lesion <= data.brain).all()
    mid = 12
    for i in np.flatnonzero(data.y):
        left, right = data.lesion[i, :mid].any(), data.lesion[i, mid:].any()
        assert left != right and data.hemisphere[i] == (1 if right else 0)  # one hemisphere


def test_lesions_are_hypointense(data):
    i = int(np.flatnonzero(data.y)[0])
    lesion = data.lesion[i]
    assert data.X[i, 0][lesion].mean() < 0.85 * data.X[i, 0][data.brain[i] & ~lesion].mean()


def test_split_by_subject_and_balanced(data):
    for split in ("train", "val", "test"):
        assert (data.split == split).any()
    assert len(np.unique(data.subject)) == 12


def test_deterministic():
    a, b = generate(4, 24, seed=1), generate(4, 24, seed=1)
    np.testing.assert_array_equal(a.X, b.X)


def test_nifti(tmp_path, data):
    import nibabel as nib

    t1, mask = save_nifti(data, 0, tmp_path)
    img = nib.load(t1)
    assert img.shape == (24, 24, 24)
    np.testing.assert_allclose(img.get_fdata(), data.X[0, 0], atol=1e-6)
    assert np.asarray(nib.load(mask).get_fdata()).sum() == data.lesion[0].sum()


def test_bad_arguments():
    with pytest.raises(ValueError, match="even"):
        generate(5)
    with pytest.raises(ValueError, match="contrast"):
        generate(4, 16, contrast=(0.5, 1.5))


def test_cnn3d_and_baselines(tmp_path):
    torch.manual_seed(0)
    m = CNN3D(channels=(4, 8), last=8).eval()
    x = torch.rand(2, 1, 16, 16, 16)
    assert m(x).shape == (2, 2)
    with pytest.raises(ValueError, match="expects input"):
        m(x[:, 0])
    save_cnn3d(m, tmp_path / "m.pt")
    assert torch.equal(load_cnn3d(tmp_path / "m.pt")(x), m(x))
    t = torch.tensor([1, 1])
    for method in ("saliency", "integrated_gradients", "gradcam", "gradient_shap", "kernel_shap"):
        a = volume_baseline(method, m, x, t, layer=m.last_conv, n_steps=4, n_samples=3, cube=8, kshap_samples=20)
        assert a.shape == x.shape and torch.isfinite(a).all(), method


def test_cube_feature_mask():
    mask = cube_feature_mask((6, 6, 6), 3)
    assert mask.shape == (1, 1, 6, 6, 6) and mask.unique().numel() == 8
    assert (mask[0, 0, :3, :3, :3] == mask[0, 0, 0, 0, 0]).all()


@pytest.mark.parametrize(
    "make_map, good",
    [(lambda s, r: s + 0.01 * r, True), (lambda s, r: r, False), (lambda s, r: 1 - s + 0.01 * r, False)],
)
def test_localisation_metrics_rank_good_above_bad(make_map, good):
    rng = np.random.default_rng(0)
    s = np.zeros((3, 1, 10, 10, 10), bool)
    s[:, :, 2:5, 2:5, 2:5] = True
    a = make_map(s.astype(np.float32), rng.random(s.shape).astype(np.float32))
    q = quantus_localisation(np.zeros(s.shape, np.float32), a, s)
    if good:
        assert q["pointing_game"].mean() == 1 and q["mass_accuracy"].mean() > 0.5 and q["rank_accuracy"].mean() > 0.9
    else:
        assert q["mass_accuracy"].mean() < 0.1 and q["rank_accuracy"].mean() < 0.2


def test_ties_dice_and_errors():
    s = np.zeros((1, 1, 4, 4, 4), bool)
    s[0, 0, :2] = True
    plateau = np.zeros(s.shape, np.float32)
    plateau[0, 0, 1:3] = 1  # 16 of 32 tied maxima in the mask
    assert pointing_game_ties(plateau, s)[0] == pytest.approx(0.5)
    dice, iou = dice_iou(plateau > 0, s)
    assert dice[0] == pytest.approx(0.5) and iou[0] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="differ in shape"):
        pointing_game_ties(plateau[:, :, :2], s)
    with pytest.raises(ValueError, match="at least one voxel"):
        pointing_game_ties(plateau, np.zeros_like(s))
    with pytest.raises(ValueError, match="NaN"):
        quantus_localisation(plateau, np.full(s.shape, np.nan, np.float32), s)
    # A constant map localises nothing: NaN for every metric, not a crash or a number.
    q = quantus_localisation(plateau, np.ones(s.shape, np.float32), s)
    assert all(np.isnan(v[0]) for v in q.values())
