"""Data sets by name — the embedded MNIST digits, Fashion-MNIST, full MNIST — or from a path.

A :class:`Dataset` holds host arrays: images as uint8 rows of pixels (scaled to [0, 1] when
they reach the device) and integer labels. Nothing here touches the compute device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import DataError, NNAccelError
from .download import cache_dir, fetch
from .idx import read_idx
from .safe_pickle import load_mnist_pkl
from .validate import class_count

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FASHION_SHA256 = {
    "train-images-idx3-ubyte.gz": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
    "train-labels-idx1-ubyte.gz": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
    "t10k-images-idx3-ubyte.gz": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
    "t10k-labels-idx1-ubyte.gz": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
}
FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
NAMES = ("mnist-10k", "fashion-mnist", "mnist")
DECLARED_CLASSES = {name: 10 for name in NAMES}  # a folder's classes come from its labels


@dataclass
class Dataset:
    """Training and test images (n, pixels) with integer labels, as host arrays."""

    name: str
    train: tuple
    test: tuple
    n_classes: int = 10
    validation: tuple | None = None
    source: str = ""

    @property
    def n_pixels(self) -> int:
        return int(self.train[0].shape[1])

    def describe(self) -> str:
        return f"{self.name} ({len(self.train[1])} training, {len(self.test[1])} test images)"


def _pair(images, labels, where):
    """(images as (n, pixels) rows, labels) read from two files; DataError if they don't match."""
    if images.ndim < 2 or labels.ndim != 1:
        raise DataError(f"{where}: images must have 2 or more dimensions and labels 1, got {images.shape} and {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels; the files do not belong together")
    if len(images) == 0:
        raise DataError(f"{where} holds no images; a data set needs at least one training and one test image")
    if images.size == 0:
        raise DataError(f"{where}: the images have no pixels (shape {images.shape}); the file is corrupt")
    return images.reshape(len(images), -1), labels


def _classes(train, test, where, declared=None):
    """The data set's number of classes, with every label checked (see validate.class_count)."""
    try:
        return class_count([train[1], test[1]], where, declared)
    except NNAccelError as e:
        raise DataError(str(e)) from None


def _labels(pair):
    return pair[0], pair[1].astype(np.int64)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        if (directory / name).is_file():
            return directory / name
    raise DataError(f"{directory} has no {stem}.gz (nor {stem}); an IDX data folder needs the four MNIST-named files")


def from_idx_dir(directory, name=None) -> Dataset:
    """A data set from a folder holding the four MNIST-named IDX files (gzip or raw)."""
    directory = Path(directory)
    if not directory.is_dir():
        what = "is not a folder" if directory.exists() else "does not exist"
        raise DataError(f"data folder {directory} {what}; give a folder of IDX files or a mnist.pkl.gz")
    if not os.access(directory, os.R_OK | os.X_OK):
        raise DataError(f"cannot read the data folder {directory} (permission denied); check its permissions")
    paths = {key: _find(directory, stem) for key, stem in FILES.items()}
    arrays = {key: read_idx(path) for key, path in paths.items()}
    train = _pair(arrays["train_images"], arrays["train_labels"], str(paths["train_images"]))
    test = _pair(arrays["test_images"], arrays["test_labels"], str(paths["test_images"]))
    if train[0].shape[1] != test[0].shape[1]:
        raise DataError(f"{directory}: training images have {train[0].shape[1]} pixels, test images "
                        f"{test[0].shape[1]}; the files do not belong together")
    n_classes = _classes(train, test, f"{directory} labels", DECLARED_CLASSES.get(name))
    return Dataset(name or directory.name, _labels(train), _labels(test), n_classes, source=str(directory))


def from_pickle(path) -> Dataset:
    """Nielsen's mnist.pkl.gz (50,000 training, 10,000 validation, 10,000 test), read safely."""
    train, validation, test = load_mnist_pkl(path)
    n_classes = _classes(train, test, f"{path} labels")
    _classes(train, validation, f"{path} labels", n_classes)
    return Dataset("mnist.pkl.gz", train, test, n_classes, validation=validation, source=str(path))


def embedded_dir() -> Path:
    return Path(str(resources.files("nnaccel.data") / "mnist-10k"))


def _download_dir(name, sha256, mirrors, progress) -> Path:
    paths = [fetch(f, digest, mirrors, name, progress) for f, digest in sha256.items()]
    return paths[0].parent


def _candidates(directory: Path):
    """Every name _find would read in ``directory``, for each of the four files."""
    for stem in FILES.values():
        for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
            yield directory / name


def data_files(name="mnist-10k", data=None) -> list:
    """The files :func:`load_dataset` reads for ``name`` or ``data``, found without reading or
    downloading anything: what a run's outputs must never overwrite (nnaccel.io.run_files)."""
    if data is not None:
        path = Path(data)
        return [path] if not os.path.isdir(path) else [p for p in _candidates(path) if os.path.exists(p)]
    folders = {"mnist-10k": [embedded_dir()], "fashion-mnist": [FASHION_SYSTEM_DIR, cache_dir() / "fashion-mnist"],
               "mnist": [cache_dir() / "mnist"]}.get(name, [])
    return [p for folder in folders for p in _candidates(folder) if os.path.exists(p)]


def load_dataset(name="mnist-10k", data=None, progress=False) -> Dataset:
    """The data set called ``name``, or the one at ``data`` (IDX folder or mnist.pkl.gz)."""
    if data is not None:
        path = Path(data)
        if not path.is_dir() and (path.name.endswith(".pkl.gz") or path.suffix == ".pkl"):
            return from_pickle(path)  # its reader refuses a missing file, a FIFO or a device in one line
        if path.is_file():
            raise DataError(f"{path} is a file; --data takes a folder of IDX files or a mnist.pkl.gz")
        return from_idx_dir(path)
    if name == "mnist-10k":
        return from_idx_dir(embedded_dir(), "mnist-10k")
    if name == "fashion-mnist":
        if FASHION_SYSTEM_DIR.is_dir():
            return from_idx_dir(FASHION_SYSTEM_DIR, "fashion-mnist")
        return from_idx_dir(_download_dir("fashion-mnist", FASHION_SHA256, FASHION_MIRRORS, progress), "fashion-mnist")
    if name == "mnist":
        return from_idx_dir(_download_dir("mnist", MNIST_SHA256, MNIST_MIRRORS, progress), "mnist")
    raise DataError(f"unknown data set {name!r}; use one of {', '.join(NAMES)}, or --data DIR")


def check_sizes_fit(sizes, dataset, flag="--sizes"):
    """Raise NNAccelError unless the first layer matches the pixels and the last the classes."""
    if sizes[0] != dataset.n_pixels:
        raise NNAccelError(
            f"{flag} starts with {sizes[0]} but {dataset.name} has {dataset.n_pixels} pixels per image; "
            f"use {flag} {dataset.n_pixels} ... {sizes[-1]}"
        )
    if sizes[-1] != dataset.n_classes:
        raise NNAccelError(
            f"{flag} ends with {sizes[-1]} but {dataset.name} has {dataset.n_classes} classes; "
            f"use {flag} {sizes[0]} ... {dataset.n_classes}"
        )
