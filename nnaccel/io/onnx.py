"""A trained network as an ONNX model: one Gemm and one activation node per layer.

Layer l computes Z = A·wᵀ + b with w of shape (n_l, n_{l−1}), exactly ONNX's
``Gemm(A, w, b, transB=1)``; the activation follows as Sigmoid, Tanh, Relu, Identity or
Softmax(axis=1). The input is ``x`` (batch, n_in) float32 and the output ``y`` (batch,
n_out); the sizes, cost, activations and any training settings travel as metadata_props.
"""

from __future__ import annotations

import copy
import json

import numpy as np

from .._files import atomic_write, file_path
from .._version import __version__
from ..core import activations as _activations
from ..errors import NNAccelError

OPSET = 17  # Softmax over one axis (opset ≥ 13); onnxruntime ≥ 1.12 reads it
IR_VERSION = 8  # the IR of opset 17, so older runtimes load the file too
ONNX_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "linear": "Identity", "softmax": "Softmax"}
INPUT, OUTPUT = "x", "y"


def require_onnx():
    """The onnx module, or NNAccelError naming the extra to install."""
    try:
        import onnx
    except ImportError:
        raise NNAccelError("ONNX export needs the onnx package; pip install 'nnaccel[onnx]'") from None
    return onnx


def metadata(net, settings=None) -> dict:
    """The metadata_props: the network's shape and cost, plus training settings when known."""
    props = {
        "producer": f"nnaccel {__version__}",
        "sizes": json.dumps(net.sizes),
        "cost": net.cost.name,
        "activations": json.dumps([a.name for a in net.activations]),
        "dtype": net.dtype,
        "input": f"{INPUT}: (batch, {net.sizes[0]}) float32, one example per row",
        "output": f"{OUTPUT}: (batch, {net.sizes[-1]}) float32, the output activations",
    }
    if settings is not None and not isinstance(settings, dict):
        raise NNAccelError(f"settings must be a dict of the training settings, got {type(settings).__name__}; "
                           "e.g. settings={'eta': 0.5, 'epochs': 30}")
    for key, value in (settings or {}).items():
        try:
            props[f"training.{key}"] = json.dumps(value, default=_plain, allow_nan=False)
        except (TypeError, ValueError):
            raise NNAccelError(f"settings[{str(key)[:40]!r}] = {str(value)[:40]} is not a number, text, list or "
                               "dict of them, or is NaN or infinite; the ONNX metadata holds JSON") from None
    return props


def _plain(value):
    """A NumPy scalar or array (np.float32(0.5), np.int64(30)) as the Python value JSON can hold."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(type(value).__name__)


def exported_network(net):
    """``net`` as the ONNX graph computes it: its inference weights (dropout's scaling), and a
    softmax temperature c folded into the output layer, since ONNX's Softmax has none:
    softmax(c·z) = softmax((c·w)a + c·b), the same outputs. A shallow copy; ``net`` is unchanged."""
    net = net.for_inference()
    c = getattr(net.activations[-1], "temperature", 1.0)
    if c != 1.0:
        net = copy.copy(net)
        net.weights = net.weights[:-1] + [c * net.weights[-1]]
        net.biases = net.biases[:-1] + [c * net.biases[-1]]
        net.activations = net.activations[:-1] + [_activations.get("softmax")]
    return net


def build_model(net, settings=None):
    """The onnx.ModelProto of ``net`` (float32 inference weights), checked with onnx.checker."""
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    net = exported_network(net)
    weights, biases = net.parameters_numpy()
    nodes, initializers = [], []
    a = INPUT
    for l, (w, b, act) in enumerate(zip(weights, biases, net.activations), start=1):
        if act.name not in ONNX_OPS:
            raise NNAccelError(f"layer {l} has {act.name} neurons, which have no ONNX operator here; "
                               f"export networks of {', '.join(ONNX_OPS)} neurons")
        w_name, b_name, z = f"w{l}", f"b{l}", f"z{l}"
        initializers += [numpy_helper.from_array(np.asarray(w, np.float32), w_name),
                         numpy_helper.from_array(np.asarray(b, np.float32).reshape(-1), b_name)]
        nodes.append(helper.make_node("Gemm", [a, w_name, b_name], [z], name=f"layer{l}_gemm", transB=1))
        out = OUTPUT if l == len(weights) else f"a{l}"
        extra = {"axis": 1} if act.name == "softmax" else {}
        nodes.append(helper.make_node(ONNX_OPS[act.name], [z], [out], name=f"layer{l}_{act.name}", **extra))
        a = out
    graph = helper.make_graph(
        nodes, "nnaccel_network",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", net.sizes[0]])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", net.sizes[-1]])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="nnaccel", producer_version=__version__)
    model.ir_version = IR_VERSION
    model.doc_string = net.describe()
    helper.set_model_props(model, metadata(net, settings))
    onnx.checker.check_model(model, full_check=True)
    return model


def to_onnx(net, path, settings=None):
    """Write ``net`` to ``path`` as an ONNX model, atomically; ``settings`` go into the metadata."""
    path = file_path(path)
    if path.suffix.lower() != ".onnx":
        raise NNAccelError(f"{path} does not end in .onnx; give the ONNX file a name such as model.onnx")
    model = build_model(net, settings)
    with atomic_write(path, "wb") as f:
        f.write(model.SerializeToString())
    return path
