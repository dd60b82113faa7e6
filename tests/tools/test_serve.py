"""nnaccel serve: MNIST's preprocessing by hand-computed cases, and the HTTP layer over a real socket."""

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from nnaccel import cli
from nnaccel.nets.network import Network
from nnaccel.tools.serve import MAX_BODY, make_server, preprocess, resize, url_of


# ---- preprocessing --------------------------------------------------------------------
def test_area_resize_averages_the_pixels_each_output_pixel_covers():
    image = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(resize(image, 2, 2), [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(resize(np.ones((1, 1)), 3, 5), np.ones((3, 5)))


def test_a_blank_drawing_stays_blank():
    assert not preprocess(np.zeros((280, 280))).any()


def test_a_dot_anywhere_becomes_the_20x20_box_in_the_middle_of_28x28():
    """A 1×1 bounding box scales up 20× and its centre of mass, 14, is already the field's."""
    drawing = np.zeros((280, 280))
    drawing[31, 250] = 0.5
    want = np.zeros((28, 28))
    want[4:24, 4:24] = 0.5
    np.testing.assert_array_equal(preprocess(drawing), want)


def test_a_tall_bar_keeps_its_aspect_ratio():
    """40×20 of ink scales by ½ to 20×10; placed at rows 4–23, columns 9–18, mass centre (14, 14)."""
    drawing = np.zeros((100, 100))
    drawing[30:70, 50:70] = 1.0
    want = np.zeros((28, 28))
    want[4:24, 9:19] = 1.0
    np.testing.assert_array_equal(preprocess(drawing), want)


def test_the_centre_of_mass_moves_to_the_centre_by_whole_pixels():
    """40×40: left half 1, right half ½ → 20×20 with columns of 1 and ½.

    Along x the mass centre is (10·5 + 5·15)/15 = 8⅓ in the box, 12⅓ in the field, so the box
    moves round(14 − 12⅓) = 2 pixels right; along y it is already at 14.
    """
    drawing = np.zeros((60, 60))
    drawing[10:50, 5:25] = 1.0
    drawing[10:50, 25:45] = 0.5
    want = np.zeros((28, 28))
    want[4:24, 6:16] = 1.0
    want[4:24, 16:26] = 0.5
    np.testing.assert_allclose(preprocess(drawing), want, atol=1e-15)


def test_the_shift_stops_where_the_box_would_leave_the_field():
    """A full left column and one top-right pixel: x-centre (20·0.5 + 19.5)/21 + 4 = 5.40 would
    move the box 9 pixels right, but only 4 keep it inside; y-centre 200.5/21 + 4 = 13.55 moves 0."""
    drawing = np.zeros((20, 20))
    drawing[:, 0] = 1.0
    drawing[0, 19] = 1.0
    want = np.zeros((28, 28))
    want[4:24, 8] = 1.0
    want[4, 27] = 1.0
    np.testing.assert_array_equal(preprocess(drawing), want)


# ---- the server -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def net():
    return Network([784, 12, 10], cost="log-likelihood", output_activation="softmax", device="cpu", seed=5)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "history.jsonl"
    records = [{"epoch": e, "evaluation_accuracy": 900 + e, "n_evaluation": 1000, "evaluation_cost": 1.0 / (e + 1)}
               for e in range(3)]
    records[2]["training_cost"] = float("nan")  # json.dumps writes NaN, which browsers' JSON.parse refuses
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"epoch": 3, "evalu')  # a run still writing
    return path


@pytest.fixture(scope="module")
def server(net, history):
    server = make_server(net, history, "127.0.0.1", 0, timeout=0.5)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url_of(server)
    server.shutdown()
    server.server_close()


def request(url, path, body=None, method=None, headers=None):
    """(status, headers, parsed JSON or bytes) of one request; HTTP errors are returned, not raised."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, head, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, head, raw = e.code, e.headers, e.read()
    if head.get("Content-Type", "").startswith("application/json"):
        return status, head, json.loads(raw)
    return status, head, raw


def raw_request(url, lines, body=b""):
    """Send hand-written request lines (to lie about Content-Length); return (status, JSON)."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/api/predict", skip_accept_encoding=True)
    for key, value in lines:
        conn.putheader(key, value)
    conn.endheaders(body)
    response = conn.getresponse()
    doc = json.loads(response.read())
    conn.close()
    return response.status, doc


def test_the_page_and_its_files_are_served(server):
    status, head, page = request(server, "/")
    assert status == 200 and head["Content-Type"].startswith("text/html")
    assert b'<canvas id="pad"' in page and b"/app.js" in page
    for path, kind in (("/app.js", "text/javascript"), ("/style.css", "text/css")):
        status, head, _ = request(server, path)
        assert status == 200 and head["Content-Type"].startswith(kind)


def test_the_page_loads_nothing_from_another_host():
    """No CDN, no fonts, no analytics: the page must work on a machine without the internet."""
    from importlib import resources

    for name in ("index.html", "app.js", "style.css"):
        text = resources.files("nnaccel.tools.web").joinpath(name).read_text()
        assert re.findall(r"[a-z]+://[^\s\"'`)]+", text) in ([], ["http://www.w3.org/2000/svg"]), name


def test_api_model_names_the_network(server, net):
    status, _, doc = request(server, "/api/model")
    assert status == 200 and doc["sizes"] == [784, 12, 10] and doc["describe"] == net.describe()
    assert doc["history"] is True


def test_api_history_returns_the_complete_lines_of_a_file_still_being_written(server):
    status, _, doc = request(server, "/api/history")
    assert status == 200 and [r["evaluation_accuracy"] for r in doc["records"]] == [900, 901, 902]
    assert doc["records"][2]["training_cost"] is None


def test_an_mnist_image_is_fed_forward_as_it_is(server, net, mnist10k):
    x = mnist10k.test[0][0] / 255.0
    status, _, doc = request(server, "/api/predict", {"image": x.tolist()})
    want = net.feedforward(x.reshape(1, -1).astype(np.float32))[0]
    assert status == 200 and doc["preprocessed"] is False
    np.testing.assert_array_equal(np.array(doc["outputs"], dtype=np.float32), want)
    assert doc["prediction"] == int(np.argmax(want))


def test_a_raw_drawing_is_preprocessed_then_fed_forward(server, net):
    drawing = np.zeros((50, 40), dtype=np.int64)
    drawing[5:45, 18:24] = 255
    status, _, doc = request(server, "/api/predict", {"width": 40, "height": 50, "pixels": drawing.ravel().tolist()})
    image = preprocess(drawing / 255.0)
    assert status == 200 and doc["preprocessed"] is True
    np.testing.assert_array_equal(doc["image"], image.ravel())
    np.testing.assert_array_equal(np.array(doc["outputs"], dtype=np.float32), net.feedforward(image.reshape(1, -1).astype(np.float32))[0])


@pytest.mark.parametrize("body, message", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (json.dumps({"image": [0.5] * 783}).encode(), "list of 784 numbers, got 783"),
    (json.dumps({"image": [2.0] * 784}).encode(), "in [0, 1]"),
    (json.dumps({"image": ["a"] * 784}).encode(), "numbers only"),
    (json.dumps({"image": [[0.1]] * 784}).encode(), "finite numbers"),
    (json.dumps({"width": 600, "height": 1, "pixels": [0] * 600}).encode(), "width must be a whole number from 1 to 512"),
    (json.dumps({"width": 2, "height": 2, "pixels": [0, 0, 0]}).encode(), "list of 4 numbers"),
    (json.dumps({"width": 1, "height": 1, "pixels": [300]}).encode(), "in [0, 255]"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_malformed_predictions_are_refused_with_400_and_a_json_error(server, body, message):
    status, head, doc = request(server, "/api/predict", body, headers={"Content-Type": "application/json"})
    assert status == 400 and head["Content-Type"] == "application/json"
    assert message in doc["error"] and "Traceback" not in doc["error"]


def test_a_body_shorter_than_its_content_length_is_refused_after_the_timeout(server):
    status, doc = raw_request(server, [("Content-Length", "100")], b'{"image": [')
    assert status == 400 and "Content-Length says 100" in doc["error"]


def test_a_body_longer_than_its_content_length_is_cut_there_and_not_json(server):
    status, doc = raw_request(server, [("Content-Length", "5")], json.dumps({"image": [0] * 784}).encode())
    assert status == 400 and "not valid JSON" in doc["error"]


@pytest.mark.parametrize("length, status", [("9" * 5000, 413), ("0" * 5000 + "3", 400)])
def test_a_content_length_of_thousands_of_digits_is_a_client_error(server, length, status):
    """Issue 16: Python's int() refuses over 4,300 digits; the server answers 413 or 400, not 500."""
    assert raw_request(server, [("Content-Length", length)], b"{}")[0] == status


def test_a_huge_body_is_refused_before_it_is_read(server):
    status, doc = raw_request(server, [("Content-Length", str(MAX_BODY + 1))])
    assert status == 413 and "over the limit" in doc["error"]


@pytest.mark.parametrize("lines, status", [([], 411), ([("Content-Length", "-3")], 400),
                                           ([("Content-Length", "ten")], 400)])
def test_a_missing_or_garbled_content_length_is_refused(server, lines, status):
    assert raw_request(server, lines)[0] == status


@pytest.mark.parametrize("method, path, allow", [("GET", "/api/predict", "POST"), ("POST", "/", "GET"),
                                                 ("PUT", "/api/model", "GET"), ("DELETE", "/api/history", "GET")])
def test_a_wrong_method_is_405_with_the_allowed_one(server, method, path, allow):
    status, head, doc = request(server, path, b"{}" if method in ("POST", "PUT") else None, method=method)
    assert status == 405 and head["Allow"] == allow and method in doc["error"]


def test_an_unknown_path_is_404_in_json(server):
    status, _, doc = request(server, "/etc/passwd")
    assert status == 404 and "no such path" in doc["error"]


def test_the_server_still_answers_after_every_refusal(server):
    assert request(server, "/api/model")[0] == 200


# ---- the command ----------------------------------------------------------------------
@pytest.mark.parametrize("extra, message", [
    (["--history", "missing.jsonl"], "history file missing.jsonl does not exist"),
    (["--history", "bad.jsonl"], "bad.jsonl:1 is not a JSON object"),
])
def test_serve_refuses_a_bad_history_file_in_one_line(tmp_path, monkeypatch, capsys, net, extra, message):
    monkeypatch.chdir(tmp_path)
    net.save("m.npz")
    (tmp_path / "bad.jsonl").write_text("oops\n{}\n")
    assert cli.main(["serve", "m.npz", "--port", "0", *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_serve_refuses_a_port_in_use_in_one_line(tmp_path, capsys, net):
    import socket

    net.save(tmp_path / "m.npz")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["serve", str(tmp_path / "m.npz"), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


def test_serve_refuses_a_network_without_784_inputs(tmp_path, capsys):
    Network([4, 3, 2], device="cpu", seed=0).save(tmp_path / "small.json")
    assert cli.main(["serve", str(tmp_path / "small.json"), "--port", "0"]) == 2
    assert "needs 784 inputs, not 4" in capsys.readouterr().err


@pytest.mark.parametrize("port, words", [("70000", "port must be a whole number in [0, 65535], got 70000"),
                                         ("http", "'http' is not a whole number")])
def test_serve_refuses_a_port_that_is_not_one(port, words, capsys):
    try:
        code = cli.main(["serve", "m.npz", "--port", port])  # a number out of range: the table's words
    except SystemExit as e:  # not a number: argparse's converter
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_nnaccel_serve_on_port_0_prints_the_url_it_chose(tmp_path, net):
    net.save(tmp_path / "m.npz")
    proc = subprocess.Popen([sys.executable, "-m", "nnaccel", "serve", str(tmp_path / "m.npz"), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        line = proc.stdout.readline()
        assert "at http://127.0.0.1:" in line, line + proc.stderr.read()
        url = line.split(" at ")[1].split()[0]
        assert request(url, "/api/model")[2]["sizes"] == [784, 12, 10]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
