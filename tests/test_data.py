"""Data: the IDX reader and its every refusal, named data sets, Nielsen's pickle read safely."""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnaccel.data import load_dataset, read_idx, write_idx
from nnaccel.data.datasets import FASHION_SYSTEM_DIR
from nnaccel.data.safe_pickle import load_mnist_pkl
from nnaccel.errors import DataError


@settings(max_examples=30, deadline=None)
@given(arr=hnp.arrays(st.sampled_from([np.uint8, np.int16, np.int32, np.float32, np.float64]),
                      hnp.array_shapes(min_dims=1, max_dims=3, max_side=6)),
       gz=st.booleans())
def test_idx_round_trip(tmp_path_factory, arr, gz):
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, arr)
    np.testing.assert_array_equal(read_idx(path), arr)


def _header(code=0x08, dims=(2, 3)):
    return struct.pack(">BBBB", 0, 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.parametrize("raw,match", [
    (b"\x01\x02\x08\x01" + b"\0" * 8, "bad magic"),
    (b"\x00\x00\x42\x01\x00\x00\x00\x01\x07", "unknown IDX type"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated inside its header"),
    (_header() + b"\x01" * 5, "truncated: dimensions \\[2, 3\\] need 6 bytes"),
    (_header() + b"\x01" * 9, "longer than its header"),
    (b"", "bad magic"),
])
def test_corrupt_idx_is_refused(tmp_path, raw, match):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(DataError, match=match):
        read_idx(tmp_path / "bad")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(raw))
    with pytest.raises(DataError, match=match):
        read_idx(tmp_path / "bad.gz")


def test_truncated_gzip_is_refused(tmp_path):
    blob = gzip.compress(_header() + b"\x01" * 6)
    (tmp_path / "t.gz").write_bytes(blob[:-6])
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        read_idx(tmp_path / "t.gz")


def test_embedded_mnist_10k_is_the_real_digits(mnist10k):
    (x, y), (tx, ty) = mnist10k.train, mnist10k.test
    assert x.shape == (8000, 784) and tx.shape == (2000, 784) and x.dtype == np.uint8
    counts = np.bincount(np.concatenate([y, ty]), minlength=10)
    assert counts.tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert mnist10k.n_classes == 10 and x.max() == 255


def _write_dir(d, n=30, m=10, pixels=(4, 4), classes=3, labels_n=None):
    rng = np.random.default_rng(0)
    d.mkdir(exist_ok=True)
    write_idx(d / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n, *pixels), dtype=np.uint8))
    write_idx(d / "train-labels-idx1-ubyte.gz", (np.arange(labels_n or n) % classes).astype(np.uint8))
    write_idx(d / "t10k-images-idx3-ubyte", rng.integers(0, 256, (m, *pixels), dtype=np.uint8))
    write_idx(d / "t10k-labels-idx1-ubyte", (np.arange(m) % classes).astype(np.uint8))
    return d


def test_any_folder_of_idx_files(tmp_path):
    ds = load_dataset(data=_write_dir(tmp_path / "tiny"))
    assert ds.n_pixels == 16 and ds.n_classes == 3 and len(ds.test[1]) == 10


def test_folder_problems_are_named(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(data=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="has no train-images-idx3-ubyte.gz"):
        load_dataset(data=tmp_path / "empty")
    with pytest.raises(DataError, match="30 images but 29 labels"):
        load_dataset(data=_write_dir(tmp_path / "mismatch", labels_n=29))
    with pytest.raises(DataError, match="unknown data set 'cifar'"):
        load_dataset("cifar")


@pytest.mark.skipif(not FASHION_SYSTEM_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian():
    ds = load_dataset("fashion-mnist")
    assert ds.train[0].shape == (60000, 784) and ds.test[0].shape == (10000, 784)
    assert np.bincount(ds.train[1]).tolist() == [6000] * 10


def _book_pickle(path, protocol=2):
    rng = np.random.default_rng(0)
    parts = tuple((rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)) for n in (20, 5, 6))
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f, protocol=protocol)
    return parts


@pytest.mark.parametrize("protocol", [2, 4])
def test_nielsens_mnist_pkl_loads(tmp_path, protocol):
    parts = _book_pickle(tmp_path / "mnist.pkl.gz", protocol)
    loaded = load_mnist_pkl(tmp_path / "mnist.pkl.gz")
    for (x, y), (lx, ly) in zip(parts, loaded):
        np.testing.assert_array_equal(x, lx)
        np.testing.assert_array_equal(y, ly)
    ds = load_dataset(data=tmp_path / "mnist.pkl.gz")
    assert len(ds.train[1]) == 20 and len(ds.validation[1]) == 5 and len(ds.test[1]) == 6


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    with gzip.open(tmp_path / "evil.pkl.gz", "wb") as f:
        pickle.dump(((_Exploit(marker), 1), (2, 3), (4, 5)), f, protocol=2)
    with pytest.raises(DataError, match="refused to load (posix|os).system"):
        load_dataset(data=tmp_path / "evil.pkl.gz")
    assert not marker.exists()


def test_a_pickle_of_the_wrong_shape_is_refused(tmp_path):
    with gzip.open(tmp_path / "odd.pkl.gz", "wb") as f:
        pickle.dump((1, 2), f, protocol=2)
    with pytest.raises(DataError, match="three \\(images, labels\\) pairs"):
        load_mnist_pkl(tmp_path / "odd.pkl.gz")
    (tmp_path / "cut.pkl.gz").write_bytes((tmp_path / "odd.pkl.gz").read_bytes()[:12])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_mnist_pkl(tmp_path / "cut.pkl.gz")
