"""Datasets for the pruner: image folders, .tar.gz archives of them, and .npz arrays.

Layouts accepted (one folder per class; classes are the sorted folder names
of ``train/``, so label k is the k-th name in alphabetical order):

* a directory ``ROOT/train/<class>/<image>`` and ``ROOT/test/<class>/<image>``;
* a ``.tar.gz`` / ``.tgz`` / ``.tar`` archive of such a tree, optionally under
  one top-level folder; it is read in place with ``tarfile`` + PIL (nothing
  is extracted) and the decoded arrays are cached as ``.npz`` in a cache
  directory, keyed by the archive's absolute path, size and mtime;
* an ``.npz`` with ``x`` and ``y`` (or ``x_train``/``y_train``), optionally
  ``x_test``/``y_test`` and ``classes``. ``y`` may be one-hot. Without a test
  set, a seeded ``test_fraction`` of the samples is held out as the test split.

Images are kept as uint8 NHWC; ``preprocess`` turns a batch into float32 the
way the model expects (``raw``: 0..255, which is what MLPerf Tiny ResNet-8 takes).
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DtmmError
from ..fileio import save_atomic

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".pgm", ".webp", ".tif", ".tiff")
SPLITS = ("train", "test")
PREPROCESS = ("raw", "unit", "symmetric")
CACHE_VERSION = 1


class DataError(DtmmError):
    """The dataset cannot be read or has the wrong layout; the message names the file."""


@dataclass
class Dataset:
    x_train: np.ndarray  # [N, H, W, C], uint8 (images) or float32 (npz)
    y_train: np.ndarray  # int64 [N]
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    classes: list[str]
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass
class Splits:
    """Deterministic splits: train (fit), val (checkpoint choice), calib (importance and
    quantization ranges; a subset of train), test (held out, only ever reported)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_calib: np.ndarray
    y_calib: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    seed: int

    def sizes(self) -> dict[str, int]:
        return {k: int(len(getattr(self, "y_" + k))) for k in ("train", "val", "calib", "test")}


# --------------------------------------------------------------------------- preprocessing


def preprocess(x: np.ndarray, mode: str = "raw") -> np.ndarray:
    """float32 model input from stored pixels: raw 0..255, unit 0..1, symmetric -1..1."""
    x = np.asarray(x, dtype=np.float32)
    if mode == "raw":
        return x
    if mode == "unit":
        return x / 255.0
    if mode == "symmetric":
        return x / 127.5 - 1.0
    raise DtmmError(f"unknown preprocessing {mode!r} (choose {', '.join(PREPROCESS)})")


# --------------------------------------------------------------------------- decoding


def _decode(data: bytes, what: str, mode: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert(mode), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{what}: cannot decode image ({exc})") from None


def _stack(items: list[tuple[str, str, bytes]], classes: list[str], src: str, split: str, mode: str, progress):
    """Decode (class, name, data) triples in sorted order into x [N,H,W,C] uint8 and y."""
    if not items:
        raise DataError(f"{src}: the {split}/ split has no images")
    index = {c: i for i, c in enumerate(classes)}
    items.sort(key=lambda t: (index[t[0]], t[1]))
    first = _decode(items[0][2], f"{src}: {split}/{items[0][0]}/{items[0][1]}", mode)
    x = np.empty((len(items), *first.shape), dtype=np.uint8)
    y = np.empty(len(items), dtype=np.int64)
    it = items
    if progress:
        from tqdm import tqdm

        it = tqdm(items, desc=f"decode {split}", unit="img", leave=False, mininterval=1.0)
    for k, (cls, name, data) in enumerate(it):
        img = first if k == 0 else _decode(data, f"{src}: {split}/{cls}/{name}", mode)
        if img.shape != first.shape:
            raise DataError(
                f"{src}: {split}/{cls}/{name} is {img.shape[1]}x{img.shape[0]}, "
                f"other images are {first.shape[1]}x{first.shape[0]}"
            )
        x[k] = img
        y[k] = index[cls]
    if x.ndim == 3:
        x = x[..., None]
    return x, y


def _classes_from(found: dict[str, dict[str, list]], src: str) -> list[str]:
    for split in SPLITS:
        if not found.get(split):
            raise DataError(f"{src}: no {split}/<class>/<image> files found (expected train/ and test/ folders)")
    classes = sorted(found["train"])
    extra = sorted(set(found["test"]) - set(classes))
    if extra:
        raise DataError(f"{src}: test/ has classes that train/ lacks: {', '.join(extra)}")
    if len(classes) < 2:
        raise DataError(f"{src}: need at least 2 classes, train/ has {len(classes)}")
    return classes


def _from_items(found, src, mode, progress) -> Dataset:
    classes = _classes_from(found, src)
    arrays = {}
    for split in SPLITS:
        items = [(c, n, d) for c, lst in found[split].items() for n, d in lst]
        arrays[split] = _stack(items, classes, src, split, mode, progress)
    return Dataset(arrays["train"][0], arrays["train"][1], arrays["test"][0], arrays["test"][1], classes, src)


def load_folder(root: Path, mode: str = "RGB", progress: bool = False) -> Dataset:
    found: dict[str, dict[str, list]] = {}
    for split in SPLITS:
        d = root / split
        if not d.is_dir():
            continue
        for cdir in sorted(p for p in d.iterdir() if p.is_dir()):
            files = sorted(p for p in cdir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if files:
                found.setdefault(split, {})[cdir.name] = [(f.name, f) for f in files]
    src = str(root)
    _classes_from(found, src)
    try:
        for split in found:
            for cls, lst in found[split].items():
                found[split][cls] = [(n, f.read_bytes()) for n, f in lst]
    except OSError as exc:
        raise DataError(f"{src}: cannot read {exc.filename}: {exc.strerror}") from None
    return _from_items(found, src, mode, progress)


def _split_member(name: str) -> tuple[str, str, str] | None:
    """(split, class, file) for '[prefix/]train/<class>/<file>', else None."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if len(parts) < 3 or parts[-3] not in SPLITS or len(parts) > 4:
        return None
    if not parts[-1].lower().endswith(IMAGE_SUFFIXES) or parts[-1].startswith("._"):
        return None
    return parts[-3], parts[-2], parts[-1]


def load_archive(path: Path, mode: str = "RGB", progress: bool = False) -> Dataset:
    src = str(path)
    found: dict[str, dict[str, list]] = {}
    prefixes = set()
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                key = _split_member(m.name)
                if key is None:
                    continue
                split, cls, fname = key
                prefixes.add(m.name.rsplit("/", 3)[0] if m.name.count("/") >= 3 else "")
                f = tar.extractfile(m)
                found.setdefault(split, {}).setdefault(cls, []).append((fname, f.read()))
    except (tarfile.TarError, OSError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DataError(f"{src}: cannot read archive ({type(exc).__name__}: {first.rstrip(':')})") from None
    if len(prefixes) > 1:
        raise DataError(f"{src}: archive holds several datasets ({', '.join(sorted(prefixes))}); expected one")
    return _from_items(found, src, mode, progress)


def _npz_array(z, src: str, *names: str) -> np.ndarray | None:
    for n in names:
        if n in z.files:
            return z[n]
    return None


def _labels(y: np.ndarray, n: int, src: str, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if len(y) != n:
        raise DataError(f"{src}: {what} has {len(y)} labels for {n} samples")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise DataError(f"{src}: {what} labels must be integers or one-hot")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise DataError(f"{src}: {what} has negative labels")
    return y


def _images(x: np.ndarray, src: str, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or len(x) == 0:
        raise DataError(f"{src}: {what} must be a non-empty [N, H, W, C] array, got shape {list(x.shape)}")
    if x.dtype != np.uint8:
        x = x.astype(np.float32)
    return x


def load_npz(path: Path) -> Dataset:
    src = str(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            x = _npz_array(z, src, "x", "x_train")
            y = _npz_array(z, src, "y", "y_train")
            if x is None or y is None:
                raise DataError(f"{src}: .npz needs arrays 'x' and 'y' (has: {', '.join(z.files) or 'none'})")
            xt = _npz_array(z, src, "x_test")
            yt = _npz_array(z, src, "y_test")
            names = _npz_array(z, src, "classes")
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{src}: cannot read .npz ({exc})") from None
    x = _images(x, src, "x")
    y = _labels(y, len(x), src, "y")
    if (xt is None) != (yt is None):
        raise DataError(f"{src}: .npz has only one of 'x_test' and 'y_test'")
    if xt is not None:
        xt = _images(xt, src, "x_test")
        yt = _labels(yt, len(xt), src, "y_test")
        if xt.shape[1:] != x.shape[1:]:
            raise DataError(f"{src}: x_test images are {list(xt.shape[1:])}, x images {list(x.shape[1:])}")
    n_cls = int(max(y.max(), yt.max() if yt is not None else 0)) + 1
    classes = [str(c) for c in names.tolist()] if names is not None else [str(i) for i in range(n_cls)]
    if len(classes) < n_cls:
        raise DataError(f"{src}: labels go up to {n_cls - 1} but only {len(classes)} class names are given")
    return Dataset(x, y, xt, yt, classes, src)


# --------------------------------------------------------------------------- entry points


def default_cache_dir() -> Path:
    env = os.environ.get("DTMM_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dtmm"


def _cache_key(path: Path, mode: str) -> str:
    st = path.stat()
    ident = f"v{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{mode}"
    return hashlib.sha256(ident.encode()).hexdigest()[:24]


def _is_archive(path: Path) -> bool:
    n = path.name.lower()
    return n.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz"))


def load_dataset(path, *, channels: int = 3, cache_dir=None, progress: bool = False) -> Dataset:
    """Load a dataset from a directory, an archive or an .npz (see the module docstring)."""
    path = Path(path)
    mode = {1: "L", 3: "RGB"}.get(channels)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_dir():
        if mode is None:
            raise DataError(f"{path}: image folders give 1 or 3 channels, the model wants {channels}")
        return load_folder(path, mode, progress)
    if path.suffix.lower() == ".npz":
        return load_npz(path)
    if not _is_archive(path):
        raise DataError(
            f"{path}: not a dataset (expected a directory with train/ and test/, a .tar.gz of one, or an .npz)"
        )
    if mode is None:
        raise DataError(f"{path}: image archives give 1 or 3 channels, the model wants {channels}")
    if cache_dir is False:
        return load_archive(path, mode, progress)
    cdir = Path(cache_dir) if cache_dir else default_cache_dir()
    cfile = cdir / f"{path.name}.{_cache_key(path, mode)}.npz"
    if cfile.is_file():
        try:
            with np.load(cfile, allow_pickle=False) as z:
                ds = Dataset(z["x_train"], z["y_train"], z["x_test"], z["y_test"], [str(c) for c in z["classes"]],
                             str(path))  # fmt: skip
            ds.notes.append(f"decoded images read from cache {cfile}")
            return ds
        except (OSError, ValueError, KeyError, EOFError):
            pass  # a damaged cache entry is simply rebuilt
    ds = load_archive(path, mode, progress)
    try:
        cdir.mkdir(parents=True, exist_ok=True)
        def _save(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test,
                         classes=np.array(ds.classes))  # fmt: skip

        save_atomic(cfile, _save)
        ds.notes.append(f"decoded images cached in {cfile}")
    except OSError as exc:
        ds.notes.append(f"could not write the cache {cfile}: {exc.strerror}")
    return ds


def seeded_subset(x, y, limit: int | None, seed: int):
    """`limit` samples drawn with `seed`, in their original order (all of them without a limit)."""
    if limit is None or limit >= len(y):
        return x, y
    idx = np.sort(np.random.default_rng(seed).permutation(len(y))[:limit])
    return x[idx], y[idx]


def scored_test_subset(splits: Splits, limit: int | None, seed: int):
    """The test images `dtmm prune --test-limit` scores (the demo scores the same ones)."""
    return seeded_subset(splits.x_test, splits.y_test, limit, seed + 1)


def make_splits(
    ds: Dataset, *, seed: int = 0, val_fraction: float = 0.1, calib_samples: int = 1000, test_fraction: float = 0.2
) -> Splits:
    """Seeded, deterministic splits. val is carved from the training data; calib is a subset of
    what remains for training; test is the dataset's own test split (or a held-out fraction)."""
    if not 0.0 <= val_fraction < 1.0:
        raise DtmmError(f"--val-fraction {val_fraction} is not in [0, 1)")
    if calib_samples < 1:
        raise DtmmError(f"--calib-samples {calib_samples} must be at least 1")
    rng = np.random.default_rng(seed)
    x, y = ds.x_train, ds.y_train
    xt, yt = ds.x_test, ds.y_test
    if xt is None:
        if not 0.0 < test_fraction < 1.0:
            raise DtmmError(f"test fraction {test_fraction} is not in (0, 1)")
        perm = rng.permutation(len(y))
        n_test = max(1, int(round(test_fraction * len(y))))
        if n_test >= len(y):
            raise DataError(f"{ds.source}: too few samples ({len(y)}) to hold out a test split")
        xt, yt = x[perm[:n_test]], y[perm[:n_test]]
        x, y = x[perm[n_test:]], y[perm[n_test:]]
    perm = rng.permutation(len(y))
    n_val = int(round(val_fraction * len(y)))
    if val_fraction > 0:
        n_val = max(1, n_val)
    if len(y) - n_val < 1:
        raise DataError(f"{ds.source}: too few training samples ({len(y)}) for a validation split")
    val, train = perm[:n_val], np.sort(perm[n_val:])
    calib = perm[n_val : n_val + min(calib_samples, len(train))]
    return Splits(
        x[train], y[train], x[val], y[val], x[calib], y[calib], xt, yt, list(ds.classes), seed
    )  # fmt: skip
