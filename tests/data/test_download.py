"""The downloader against a local HTTP server on 127.0.0.1: verified, cached, never partial."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nnaccel.data import download
from nnaccel.errors import DataError

PAYLOAD = bytes(range(256)) * 1000
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):  # noqa: N802 - http.server's name
        _Handler.hits.append(self.path)
        if self.path.endswith("/good.bin"):
            self._send(PAYLOAD)
        elif self.path.endswith("/short.bin"):  # promises more than it sends, then hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:1000])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)

    def _send(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch, tmp_path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NNACCEL_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("NNACCEL_MIRROR", raising=False)
    _Handler.hits.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/files/"
    httpd.shutdown()
    httpd.server_close()


def test_download_verifies_and_caches(server, tmp_path):
    path = download.fetch("good.bin", SHA, [server], "sets")
    assert path == tmp_path / "cache" / "sets" / "good.bin" and path.read_bytes() == PAYLOAD
    assert download.fetch("good.bin", SHA, [server], "sets") == path
    assert len(_Handler.hits) == 1  # the second call used the cache


def test_checksum_mismatch_is_refused_and_nothing_is_kept(server, tmp_path):
    with pytest.raises(DataError, match="SHA-256 .* expected 0+; the file was refused"):
        download.fetch("good.bin", "0" * 64, [server], "sets")
    assert list((tmp_path / "cache" / "sets").iterdir()) == []


def test_a_partial_download_is_not_left_in_the_cache(server, tmp_path):
    with pytest.raises(DataError, match="stopped after 1000 of 256000 bytes|place the file at"):
        download.fetch("short.bin", SHA, [server], "sets")
    assert list((tmp_path / "cache" / "sets").iterdir()) == []


def test_the_next_mirror_is_tried(server):
    path = download.fetch("good.bin", SHA, ["http://127.0.0.1:9/", server], "sets")
    assert path.read_bytes() == PAYLOAD


def test_a_corrupted_cache_entry_is_replaced(server, tmp_path):
    target = tmp_path / "cache" / "sets" / "good.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"garbage")
    assert download.fetch("good.bin", SHA, [server], "sets").read_bytes() == PAYLOAD


def test_offline_names_the_file_to_place(server, tmp_path, monkeypatch):
    monkeypatch.setenv("NNACCEL_MIRROR", "http://127.0.0.1:9/")  # nothing listens on port 9
    with pytest.raises(DataError) as err:
        download.fetch("train-images-idx3-ubyte.gz", SHA, ["http://example.invalid/"], "mnist")
    msg = str(err.value)
    assert f"place the file at {tmp_path / 'cache' / 'mnist' / 'train-images-idx3-ubyte.gz'}" in msg
    assert "\n" not in msg


def test_full_mnist_downloads_through_the_mirror(server, tmp_path, monkeypatch):
    """`mnist` by name fetches its four files (checksums verified) and reads them."""
    import numpy as np

    from nnaccel.data import datasets, write_idx

    files = {}
    for stem, arr in (("train-images-idx3-ubyte", np.zeros((5, 2, 2), np.uint8)),
                      ("train-labels-idx1-ubyte", np.arange(5, dtype=np.uint8) % 2),
                      ("t10k-images-idx3-ubyte", np.ones((3, 2, 2), np.uint8)),
                      ("t10k-labels-idx1-ubyte", np.arange(3, dtype=np.uint8) % 2)):
        write_idx(tmp_path / (stem + ".gz"), arr)
        files[stem + ".gz"] = (tmp_path / (stem + ".gz")).read_bytes()
    monkeypatch.setattr(datasets, "MNIST_SHA256", {k: hashlib.sha256(v).hexdigest() for k, v in files.items()})

    class Serve(_Handler):
        def do_GET(self):  # noqa: N802
            name = self.path.rsplit("/", 1)[-1]
            self._send(files[name]) if name in files else self.send_error(404)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("NNACCEL_MIRROR", f"http://127.0.0.1:{httpd.server_address[1]}/")
    try:
        ds = datasets.load_dataset("mnist")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert ds.train[0].shape == (5, 4) and ds.test[0].shape == (3, 4)
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(files)
