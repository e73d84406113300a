"""Semi-synthetic stroke volumes (rexbench.data.stroke): real anatomy, lesions that match
their labels, a stratified split by subject, NIfTI files and loading."""
import numpy as np
import pytest

from rexbench.data.stroke import StrokeData, generate, load, save_nifti, template
from rexbench.io import save_npz


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
    # The old assertion, len(np.unique(data.subject)) == 12, could not fail: generate() sets
    # subject = arange(n_subjects), and it checked neither the balance nor that a subject
    # stays in one split. Now: the exact stratified counts (each class of 6 split by
    # round(0.7 * 6), round(0.15 * 6) and the rest), which an unstratified or unbalanced
    # split fails, and no subject in two splits, which a split by volume would fail.
    counts = {s: np.bincount(data.y[data.split == s], minlength=2).tolist() for s in ("train", "val", "test")}
    assert counts == {"train": [4, 4], "val": [1, 1], "test": [1, 1]}
    assert set(np.unique(data.split)) == {"train", "val", "test"}
    subjects = {s: set(data.subject[data.split == s].tolist()) for s in ("train", "val", "test")}
    assert not (subjects["train"] & subjects["val"] or subjects["train"] & subjects["test"]
                or subjects["val"] & subjects["test"])
    assert set().union(*subjects.values()) == set(data.subject.tolist())


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


def test_load_round_trip_and_missing_file(tmp_path, data):
    save_npz(tmp_path / "volumes.npz", **data.to_arrays())
    back = load(tmp_path / "volumes.npz")
    assert isinstance(back, StrokeData)
    np.testing.assert_array_equal(back.X, data.X)
    np.testing.assert_array_equal(back.split, data.split)
    # load() only reads; the manifest check belongs to the studies (rexbench.compendium.studies.require).
    with pytest.raises(FileNotFoundError, match="nothing.npz is missing"):
        load(tmp_path / "nothing.npz")
