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


def _tracemalloc_peak(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("dims", [
    (2**31, 2**31, 4),  # the product overflows int64 to 0 = the 0 bytes that follow
    (2**32 - 1,) * 3,
    (60000, 28, 28),  # MNIST's header on a 16-byte file
])
@pytest.mark.parametrize("gz", [False, True])
def test_absurd_idx_headers_are_refused_before_allocating(tmp_path, dims, gz):
    """Sizes are checked against the file's real length first: no traceback, no big allocation."""
    raw = _header(dims=dims) + b"\0" * 16
    path = tmp_path / "absurd"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    box = []
    peak = _tracemalloc_peak(lambda: box.append(pytest.raises(DataError, read_idx, path)))
    assert "\n" not in str(box[0].value)
    assert peak < 2**20


def test_the_overflowing_product_used_to_reach_numpy(tmp_path):
    """dims 2³¹·2³¹·4 = 2⁶⁴ wraps to 0 in int64, matching an empty body: now 'truncated'."""
    (tmp_path / "wrap").write_bytes(_header(dims=(2**31, 2**31, 4)))
    with pytest.raises(DataError, match="truncated: dimensions \\[2147483648, 2147483648, 4\\]"):
        read_idx(tmp_path / "wrap")


def test_a_gzip_bomb_header_is_refused_by_the_deflate_ratio(tmp_path):
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(_header(dims=(2**32 - 1, 2**32 - 1)) + b"\0" * 64))
    with pytest.raises(DataError, match="more than a gzip file of \\d+ bytes can hold"):
        read_idx(tmp_path / "bomb.gz")


def test_a_gzip_file_longer_than_its_header_stops_decompressing(tmp_path):
    """A small header over a large body: decompression stops one chunk past what the header claims."""
    (tmp_path / "long.gz").write_bytes(gzip.compress(_header(dims=(2, 3)) + b"\1" * (64 << 20)))
    box = []
    peak = _tracemalloc_peak(lambda: box.append(pytest.raises(DataError, read_idx, tmp_path / "long.gz")))
    assert "longer than its header says" in str(box[0].value)
    assert peak < 8 << 20  # not the 64 MiB the stream expands to


def test_idx_arrays_are_writable_native_arrays(tmp_path):
    for name in ("a.idx", "a.idx.gz"):
        write_idx(tmp_path / name, np.arange(6, dtype=np.int32).reshape(2, 3))
        a = read_idx(tmp_path / name)
        assert a.flags.writeable and a.dtype == np.dtype("=i4")


def test_unreadable_data_files_are_one_line_errors(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="is a folder; give an IDX file"):
        read_idx(tmp_path / "folder")
    if os.geteuid() != 0:  # root reads files whatever their mode
        (tmp_path / "locked").write_bytes(_header() + b"\0" * 6)
        (tmp_path / "locked").chmod(0)
        with pytest.raises(DataError, match="cannot read .*locked: Permission denied"):
            read_idx(tmp_path / "locked")
    d = _write_dir(tmp_path / "dir-as-file")
    (d / "t10k-labels-idx1-ubyte").unlink()
    (d / "t10k-labels-idx1-ubyte").mkdir()
    with pytest.raises(DataError, match="has no t10k-labels-idx1-ubyte"):
        load_dataset(data=d)


def test_a_data_folder_with_zero_images_is_refused(tmp_path):
    d = _write_dir(tmp_path / "zero", n=0, classes=3)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz holds no images"):
        load_dataset(data=d)


def test_a_stray_label_in_a_data_folder_is_refused_not_a_201_class_network(tmp_path):
    d = _write_dir(tmp_path / "stray", n=30, classes=10)
    labels = np.arange(30) % 10
    labels[12] = 200
    write_idx(d / "train-labels-idx1-ubyte.gz", labels.astype(np.uint8))
    with pytest.raises(DataError, match="label 200 of example 12 lies beyond class 10"):
        load_dataset(data=d)


def test_named_data_sets_have_ten_classes(mnist10k):
    assert mnist10k.n_classes == 10 and mnist10k.train[1].dtype == np.int64


def _pickle_file(tmp_path, blob):
    (tmp_path / "p.pkl").write_bytes(blob)
    return tmp_path / "p.pkl"


@pytest.mark.parametrize("blob,match", [
    # BINBYTES claiming 2 GiB: the C unpickler allocated it before finding 3 bytes
    (b"\x80\x02B" + struct.pack("<I", 2**31) + b"abc", "corrupt or truncated"),
    # numpy.ndarray called directly with a 16 GiB shape
    (b"\x80\x02cnumpy\nndarray\n(J\x00\x00\x00\x40tR.", "corrupt or truncated"),
    # an object dtype: NumPy's setstate with a short list crashes the interpreter
    (b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00O8\x85R.", "refused the NumPy dtype 'O8'"),
    # BUILD on a tuple would set attributes through setattr
    (b"\x80\x02)}(X\x01\x00\x00\x00aK\x01ub.", "refused to set the state of a tuple"),
    # _codecs.encode to anything but latin-1 (e.g. zlib, a compression bomb in reverse)
    (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x04\x00\x00\x00zlib\x86R.", "refused _codecs.encode"),
])
def test_hostile_pickle_opcodes_are_refused_in_bounded_memory(tmp_path, blob, match):
    path = _pickle_file(tmp_path, blob)
    box = []
    peak = _tracemalloc_peak(lambda: box.append(pytest.raises(DataError, load_mnist_pkl, path)))
    assert box[0].match(match)
    assert peak < 2**20


def test_pickled_labels_must_be_whole_class_numbers(tmp_path):
    parts = [(np.zeros((4, 3), np.float32), np.array([0, 1, 2, 0.5])) for _ in range(3)]
    with gzip.open(tmp_path / "f.pkl.gz", "wb") as f:
        pickle.dump(tuple(parts), f, protocol=2)
    with pytest.raises(DataError, match="training labels: labels must be whole class numbers"):
        load_mnist_pkl(tmp_path / "f.pkl.gz")


def test_a_zero_dimension_beside_huge_ones_is_refused(tmp_path):
    """Found by the fuzzer: (0, 2³²−1, 2³²−1) holds 0 bytes, but no array has that shape."""
    (tmp_path / "z").write_bytes(_header(dims=(0, 2**32 - 1, 2**32 - 1)))
    with pytest.raises(DataError, match="beyond any array"):
        read_idx(tmp_path / "z")


def test_a_bytearray8_claiming_2_gib_is_refused_in_bounded_memory(tmp_path):
    """Found by the fuzzer: pickle's pure-Python BYTEARRAY8 allocated the claimed length first."""
    path = _pickle_file(tmp_path, b"\x80\x05\x96" + struct.pack("<Q", 2**31 - 1) + b"abc.")
    box = []
    peak = _tracemalloc_peak(lambda: box.append(pytest.raises(DataError, load_mnist_pkl, path)))
    assert box[0].match("a bytearray of 2147483647 bytes in a pickle of 15")
    assert peak < 2**20
