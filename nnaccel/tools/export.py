"""``nnaccel export MODEL OUT.onnx``: a saved model or checkpoint as an ONNX file."""

from __future__ import annotations

from .._files import file_path, missing
from ..data.npz import read_meta, read_npz
from ..errors import DataError, NNAccelError
from ..io import run_files
from ..io.checkpoints import FORMAT as CHECKPOINT
from ..io.checkpoints import load_checkpoint
from ..io.onnx import require_onnx
from ..nets.network import Network, load


def load_model(path):
    """(Network on the CPU, training settings or None) from a model file or a checkpoint."""
    path = file_path(path)
    if (error := missing(path, "model file", "check the path")) is not None:
        raise error
    if not path.is_file():
        raise DataError(f"model file {path} is not a regular file; give a model saved by nnaccel train --save")
    try:  # the checked reader: a member's claimed size is checked before anything is allocated
        meta = read_meta(read_npz(path), path)
    except DataError:  # not an nnaccel archive (a JSON model, say): load() reads and judges it
        meta = {}
    if isinstance(meta, dict) and meta.get("format") == CHECKPOINT:
        meta, arrays = load_checkpoint(path)
        shape = meta["network"]
        acts = shape["activations"]
        settings = dict(meta.get("config") or {})
        temperature = settings.get("softmax_temperature") or 1.0
        net = Network(shape["sizes"], cost=shape["cost"], hidden_activation=list(acts[:-1]),
                      output_activation=acts[-1], device="cpu", dtype=shape["dtype"],
                      softmax_temperature=temperature if acts[-1] == "softmax" else 1.0,
                      init=lambda rng, sizes: (arrays["b"], arrays["w"]))
        net.dropout = meta["state"].get("dropout", 0.0)  # exported with the inference weights
        settings["epochs_completed"] = meta["state"]["epoch"]
        return net, settings
    return load(path, device="cpu"), None


def cmd_export(args, out=print):
    run_files.check([("OUT", args.out)], [("the model being exported", args.model)])
    if not args.out.lower().endswith(".onnx"):
        raise NNAccelError(f"{args.out} does not end in .onnx; name the output e.g. model.onnx")
    require_onnx()
    net, settings = load_model(args.model)
    net.to_onnx(args.out, settings)  # folds dropout's scaling and a softmax temperature into the weights
    out(f"nnaccel: wrote {args.out}: {net.describe()}, input 'x' (batch, {net.sizes[0]}) float32, "
        f"output 'y' (batch, {net.sizes[-1]})")
    return 0
