"""Dataset loaders: image folders, .tar.gz archives (read in place, cached), .npz; deterministic splits."""
from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest

from dtmm.errors import DtmmError
from dtmm.prune.data import load_dataset, make_splits, preprocess
from support.keras_models import synthetic_images, write_image_folder


@pytest.fixture(scope="module")
def arrays():
    x, y = synthetic_images(24, size=6, classes=3, seed=1)
    xt, yt = synthetic_images(9, size=6, classes=3, seed=2)
    return x, y, xt, yt


@pytest.fixture()
def folder(tmp_path, arrays):
    x, y, xt, yt = arrays
    return write_image_folder(tmp_path / "ds", x, y, xt, yt, classes=["cat", "ant", "bee"])


def _sorted_pairs(x, y):
    keys = [(int(lab), img.tobytes()) for img, lab in zip(x, y)]
    return sorted(keys)


def test_folder_roundtrip(folder, arrays):
    x, y, xt, yt = arrays
    ds = load_dataset(folder)
    assert ds.classes == ["ant", "bee", "cat"]  # alphabetical folder order
    assert ds.x_train.shape == (24, 6, 6, 3) and ds.x_train.dtype == np.uint8
    # PNG is lossless: the same images come back, labelled by folder name
    names = ["cat", "ant", "bee"]
    remap = np.array([ds.classes.index(n) for n in names])
    assert _sorted_pairs(ds.x_train, ds.y_train) == _sorted_pairs(x, remap[y])
    assert _sorted_pairs(ds.x_test, ds.y_test) == _sorted_pairs(xt, remap[yt])


def _make_tar(folder, path, prefix="", corrupt=None):
    with tarfile.open(path, "w:gz") as tar:
        for f in sorted(folder.rglob("*")):
            rel = f.relative_to(folder).as_posix()
            data = f.read_bytes() if f.is_file() else None
            if corrupt and rel.endswith(corrupt):
                data = b"not an image"
            info = tarfile.TarInfo(prefix + rel)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("prefix", ["", "cifar-mini/"])
def test_archive_matches_folder_and_is_cached(tmp_path, folder, prefix):
    arc = _make_tar(folder, tmp_path / "ds.tar.gz", prefix)
    cache = tmp_path / "cache"
    ref = load_dataset(folder)
    ds = load_dataset(arc, cache_dir=cache)
    for a in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(ds, a), getattr(ref, a))
    assert ds.classes == ref.classes
    assert any("cached" in n for n in ds.notes)
    assert len(list(cache.iterdir())) == 1
    again = load_dataset(arc, cache_dir=cache)
    assert any("from cache" in n for n in again.notes)
    np.testing.assert_array_equal(again.x_train, ref.x_train)
    assert not (tmp_path / "ds").joinpath("extracted").exists()  # nothing extracted
    nocache = load_dataset(arc, cache_dir=False)
    np.testing.assert_array_equal(nocache.x_test, ref.x_test)


def test_npz_variants(tmp_path, arrays):
    x, y, xt, yt = arrays
    p = tmp_path / "plain.npz"
    np.savez(p, x=x, y=y)
    ds = load_dataset(p)
    assert ds.x_test is None and ds.classes == ["0", "1", "2"]
    s = make_splits(ds, seed=3, val_fraction=0.25, calib_samples=5, test_fraction=0.25)
    assert s.sizes() == {"train": 14, "val": 4, "calib": 5, "test": 6}
    p2 = tmp_path / "full.npz"
    onehot = np.eye(3)[y]
    np.savez(p2, x_train=x[..., :1], y_train=onehot, x_test=xt[..., :1], y_test=yt, classes=np.array(["a", "b", "c"]))
    ds2 = load_dataset(p2)
    np.testing.assert_array_equal(ds2.y_train, y)
    assert ds2.x_train.shape == (24, 6, 6, 1) and ds2.classes == ["a", "b", "c"]


def test_splits_are_deterministic_and_disjoint(folder):
    ds = load_dataset(folder)
    a = make_splits(ds, seed=7, val_fraction=0.25, calib_samples=6)
    b = make_splits(ds, seed=7, val_fraction=0.25, calib_samples=6)
    c = make_splits(ds, seed=8, val_fraction=0.25, calib_samples=6)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    np.testing.assert_array_equal(a.x_calib, b.x_calib)
    assert not np.array_equal(a.x_val, c.x_val)
    assert a.sizes() == {"train": 18, "val": 6, "calib": 6, "test": 9}
    train = {img.tobytes() for img in a.x_train}
    assert not train & {img.tobytes() for img in a.x_val}  # val is carved out of train
    assert {img.tobytes() for img in a.x_calib} <= train  # calib is a subset of what trains
    np.testing.assert_array_equal(a.x_test, ds.x_test)  # test untouched


def test_preprocess_modes():
    x = np.array([0, 255], dtype=np.uint8)
    assert preprocess(x, "raw").tolist() == [0.0, 255.0]
    assert preprocess(x, "unit").tolist() == [0.0, 1.0]
    assert preprocess(x, "symmetric").tolist() == [-1.0, 1.0]
    with pytest.raises(DtmmError):
        preprocess(x, "imagenet")


def test_errors_are_one_line(tmp_path, folder):
    def err(path, **kw):
        with pytest.raises(DtmmError) as e:
            load_dataset(path, **kw)
        assert "\n" not in str(e.value)
        return str(e.value)

    assert "no such file" in err(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hi")
    assert "not a dataset" in err(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    assert "train/" in err(tmp_path / "empty")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b garbage")
    assert "cannot read archive" in err(bad, cache_dir=False)
    corrupt = _make_tar(folder, tmp_path / "corrupt.tar.gz", corrupt="0003.png")
    assert "0003.png" in err(corrupt, cache_dir=False) and "cannot decode" in err(corrupt, cache_dir=False)
    np.savez(tmp_path / "nox.npz", images=np.zeros((2, 4, 4, 3)))
    assert "'x' and 'y'" in err(tmp_path / "nox.npz")
    np.savez(tmp_path / "mismatch.npz", x=np.zeros((3, 4, 4, 3)), y=np.zeros(2))
    assert "2 labels for 3 samples" in err(tmp_path / "mismatch.npz")


def test_seeded_subset_is_deterministic_ordered_and_whole_without_a_limit():
    from dtmm.prune.data import seeded_subset

    x = np.arange(100)[:, None] * np.ones((1, 3))
    y = np.arange(100)
    xs, ys = seeded_subset(x, y, 10, seed=4)
    assert len(ys) == 10 and np.all(np.diff(ys) > 0) and np.array_equal(xs[:, 0], ys)  # original order, pairs kept
    assert np.array_equal(seeded_subset(x, y, 10, seed=4)[1], ys)
    assert not np.array_equal(seeded_subset(x, y, 10, seed=5)[1], ys)
    assert seeded_subset(x, y, None, seed=4)[1] is y and seeded_subset(x, y, 100, seed=4)[1] is y
