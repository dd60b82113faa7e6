"""``nnaccel serve MODEL``: a local page to draw a digit and watch the trained network classify it.

The standard library's ThreadingHTTPServer serves the page (nnaccel/tools/web), the model's shape
(GET /api/model), the run's history (GET /api/history) and predictions (POST /api/predict).
A drawn image is preprocessed as the MNIST digits were (:func:`preprocess`), since a digit
drawn large or off-centre fails for reasons that have nothing to do with the network.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import numpy as np

from .._files import load_json_object, open_to_read
from ..errors import DataError, NNAccelError
from ..nets.network import load
from ..training.signals import exit_code

SIDE, BOX = 28, 20  # MNIST: the digit's bounding box scaled into 20×20, centred by mass in 28×28
MAX_BODY = 2 << 20  # bytes; a 512×512 drawing as JSON integers is about 1 MiB
MAX_DRAWING = 512  # pixels per side of a raw drawing
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}


# ---- MNIST's preprocessing ------------------------------------------------------------
def _area_matrix(n_in, n_out):
    """R (n_out, n_in): output pixel i is the mean of the input span it covers (box filter).

    Measured in units of 1/n_out of an input pixel, output i spans [i·n_in, (i+1)·n_in) and
    input j spans [j·n_out, (j+1)·n_out): whole numbers, so the weights are exact fractions.
    """
    out_start = np.arange(n_out)[:, None] * n_in
    in_start = np.arange(n_in)[None, :] * n_out
    overlap = np.minimum(out_start + n_in, in_start + n_out) - np.maximum(out_start, in_start)
    return np.clip(overlap, 0, None) / n_in


def resize(image, rows, cols):
    """``image`` resampled to (rows, cols) by area averaging (exact for whole-number ratios)."""
    h, w = image.shape
    return _area_matrix(h, rows) @ image @ _area_matrix(w, cols).T


def preprocess(image):
    """A drawing (H, W) in [0, 1], white on black, as an MNIST digit (28, 28) in [0, 1].

    The bounding box of the ink is scaled to fit 20×20 with its aspect ratio kept, placed in
    the middle of the 28×28 field, then shifted by whole pixels so that its centre of mass
    (pixel i spanning [i, i+1)) lands on the field's centre (14, 14), as far as the box can
    move without leaving the field. A blank drawing stays blank.
    """
    image = np.asarray(image, dtype=np.float64)
    out = np.zeros((SIDE, SIDE))
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    if rows.size == 0:
        return out
    crop = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = BOX / max(crop.shape)
    h, w = (max(1, int(math.floor(n * scale + 0.5))) for n in crop.shape)
    box = np.clip(resize(crop, h, w), 0.0, 1.0)
    top, left = (SIDE - h) // 2, (SIDE - w) // 2
    mass = box.sum()
    cy = top + (box.sum(axis=1) @ (np.arange(h) + 0.5)) / mass
    cx = left + (box.sum(axis=0) @ (np.arange(w) + 0.5)) / mass
    dy = int(np.clip(math.floor(SIDE / 2 - cy + 0.5), -top, SIDE - h - top))
    dx = int(np.clip(math.floor(SIDE / 2 - cx + 0.5), -left, SIDE - w - left))
    out[top + dy:top + dy + h, left + dx:left + dx + w] = box
    return out


# ---- requests -------------------------------------------------------------------------
class RequestError(Exception):
    """A request the server refuses: an HTTP status and a one-line reason."""

    def __init__(self, status, message, allow=None):
        super().__init__(message)
        self.status, self.allow = status, allow


def _numbers(values, count, low, high, what):
    if not isinstance(values, list) or len(values) != count:
        got = len(values) if isinstance(values, list) else type(values).__name__
        raise RequestError(400, f"{what} must be a list of {count} numbers, got {got}")
    if any(isinstance(v, bool) for v in values):  # NumPy would take true as 1.0
        raise RequestError(400, f"{what} must hold numbers only, not true or false")
    try:
        a = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise RequestError(400, f"{what} must hold numbers only") from None
    except OverflowError:  # a JSON integer of hundreds of digits: no float holds it
        raise RequestError(400, f"{what} must be finite numbers in [{low:g}, {high:g}]") from None
    if a.ndim != 1 or not np.all(np.isfinite(a)) or a.min() < low or a.max() > high:
        raise RequestError(400, f"{what} must be finite numbers in [{low:g}, {high:g}]")
    return a


def image_from_request(doc):
    """(784 inputs in [0, 1], whether they were preprocessed) from a /api/predict body.

    ``{"image": [784 numbers in [0, 1]]}`` is an MNIST-style image, used as it is;
    ``{"width": W, "height": H, "pixels": [W·H numbers in 0..255]}`` is a raw drawing,
    row by row, white ink on black, preprocessed as MNIST's digits were.
    """
    if not isinstance(doc, dict):
        raise RequestError(400, "the body must be a JSON object with 'image' or 'width', 'height', 'pixels'")
    if "image" in doc:
        return _numbers(doc["image"], SIDE * SIDE, 0.0, 1.0, "image"), False
    width, height = doc.get("width"), doc.get("height")
    for name, n in (("width", width), ("height", height)):
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_DRAWING:
            raise RequestError(400, f"{name} must be a whole number from 1 to {MAX_DRAWING}")
    pixels = _numbers(doc.get("pixels"), width * height, 0.0, 255.0, "pixels")
    return preprocess(pixels.reshape(height, width) / 255.0).reshape(-1), True


class Handler(BaseHTTPRequestHandler):
    """One request: the page, the JSON API, or a JSON error; never a traceback."""

    server_version = "nnaccel-serve"
    timeout = 10  # seconds a client may take to send what its Content-Length promised (make_server sets it)
    app = None  # the App, set by make_server

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if self.app.log:
            self.app.log(f"{self.address_string()} {format % args}")

    def _send(self, status, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self, method):
        try:
            route = self.path.split("?", 1)[0]
            self._route(method, route)
        except RequestError as e:
            allow = [("Allow", e.allow)] if e.allow else []
            if e.status in (400, 411, 413):
                self.close_connection = True  # the rest of the body may still be in the socket
            self._send(e.status, {"error": str(e)}, headers=allow)
        except Exception as e:  # a bug: one line on stderr and a JSON 500, no traceback to the client
            print(f"nnaccel serve: internal error on {method} {self.path}: {type(e).__name__}: {e}",
                  file=sys.stderr, flush=True)
            self.close_connection = True
            self._send(500, {"error": "internal error; see the server's log"})

    def _route(self, method, route):
        routes = {"/api/model": "GET", "/api/history": "GET", "/api/predict": "POST",
                  **{path: "GET" for path in STATIC}}
        if route not in routes:
            raise RequestError(404, f"no such path {route}; the API is /api/model, /api/history, /api/predict")
        allowed = routes[route]
        if method != allowed and not (method == "HEAD" and allowed == "GET"):
            raise RequestError(405, f"{method} is not allowed on {route}; use {allowed}", allow=allowed)
        if route in STATIC:
            name, content_type = STATIC[route]
            return self._send(200, self.app.static(name), content_type)
        if route == "/api/model":
            return self._send(200, self.app.model_info())
        if route == "/api/history":
            return self._send(200, {"records": self.app.history()})
        return self._send(200, self.app.predict(self._json_body()))

    def _json_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError(411, "a Content-Length header is required")
        if not (length.strip().isascii() and length.strip().isdigit()):
            raise RequestError(400, f"Content-Length {length[:40]!r} is not a whole number of bytes")
        digits = length.strip().lstrip("0") or "0"
        if len(digits) > len(str(MAX_BODY)):  # thousands of digits: Python's int() refuses over 4,300
            raise RequestError(413, f"the body of {digits[:20]}... bytes is over the limit of {MAX_BODY}")
        length = int(digits)
        if length > MAX_BODY:
            raise RequestError(413, f"the body of {length} bytes is over the limit of {MAX_BODY}")
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            body = b""
        if len(body) != length:
            raise RequestError(400, f"the body has {len(body)} bytes but Content-Length says {length}")
        try:
            return json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise RequestError(400, "the body is not valid JSON") from None

    def do_GET(self):  # noqa: N802 (http.server's names)
        self._handle("GET")

    def do_HEAD(self):  # noqa: N802
        self._handle("HEAD")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def do_PUT(self):  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self):  # noqa: N802
        self._handle("DELETE")

    def do_PATCH(self):  # noqa: N802
        self._handle("PATCH")


# ---- the application ------------------------------------------------------------------
class App:
    """The served network, its history file and the page's files; shared by all requests."""

    def __init__(self, net, history_path=None, log=None):
        if net.sizes[0] != SIDE * SIDE:
            raise NNAccelError(f"nnaccel serve draws 28×28 digits, so the network needs 784 inputs, "
                               f"not {net.sizes[0]}; serve a model trained on MNIST-sized images")
        self.net, self.history_path, self.log = net, history_path, log
        self.lock = threading.Lock()
        if history_path is not None:
            read_history(history_path)  # refuse a missing or malformed file at startup

    def static(self, name):
        return resources.files("nnaccel.tools.web").joinpath(name).read_bytes()

    def model_info(self):
        net = self.net
        return {"sizes": net.sizes, "describe": net.describe(), "cost": net.cost.name,
                "activations": [a.name for a in net.activations], "dtype": net.dtype,
                "history": self.history_path is not None}

    def history(self):
        if self.history_path is None:
            return []
        try:
            return _finite(read_history(self.history_path))
        except NNAccelError as e:
            raise RequestError(409, str(e)) from None

    def predict(self, doc):
        x, preprocessed = image_from_request(doc)
        net = self.net
        with self.lock:
            a = net.backend.to_numpy(net.feedforward(net.backend.asarray(x.reshape(1, -1), net.dtype)))[0]
        outputs = [float(v) for v in a]
        return {"outputs": outputs, "prediction": int(np.argmax(a)), "image": x.tolist(),
                "preprocessed": preprocessed}


def _finite(value):
    """``value`` with NaN and infinities (a diverged run's costs) as None, which JSON can carry."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def read_history(path):
    """The per-epoch records of a --history JSONL file; a last line without its newline (a run
    still writing it) is skipped if it does not parse yet."""
    path = Path(path)
    try:
        with open_to_read(path, "history file", "give the file written by nnaccel train --history") as f:
            text = f.read().decode("utf-8-sig")  # a file saved by an editor that adds a BOM reads the same
        lines = text.splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read history file {path} ({e})") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fix = "give the JSONL file written by nnaccel train --history"
        try:
            record = load_json_object(line, f"{path}:{number}", fix)
        except DataError:
            if number == len(lines) and not text.endswith("\n"):
                break  # a run still writing its next line
            raise
        records.append(record)
    return records


def make_server(net, history=None, host="127.0.0.1", port=0, log=None, timeout=10):
    """A ThreadingHTTPServer for ``net`` bound to (host, port); port 0 picks a free one.

    ``timeout`` is how many seconds a client may stall mid-request before it is answered 400.
    """
    handler = type("BoundHandler", (Handler,), {"app": App(net, history, log), "timeout": timeout})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as e:
        raise NNAccelError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another --port or --host") from None
    server.daemon_threads = True
    return server


def url_of(server):
    host, port = server.server_address[:2]
    return f"http://{host if ':' not in host else f'[{host}]'}:{port}/"


# ---- the command ----------------------------------------------------------------------
def cmd_serve(args, out=print):
    net = load(args.model, device="cpu")
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.log else None
    server = make_server(net, args.history, args.host, args.port, log)
    try:
        out(f"nnaccel: serving {args.model} ({net.describe()}) at {url_of(server)} (Ctrl-C to stop)")
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            out(f"nnaccel: note: --host {args.host} lets other machines reach this page; it has no authentication")
        sys.stdout.flush()
        server.serve_forever()
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: the server stops; there is nothing to save
        signum = getattr(e, "signum", signal.SIGINT)
        out(f"nnaccel: stopped by {signal.Signals(signum).name}")
        return exit_code(signum)
    finally:
        server.server_close()
    return 0
