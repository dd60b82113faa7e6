"""``nnaccel predict MODEL IMAGES...``: the flags; the labelling is nnaccel.tools.predict's."""

from __future__ import annotations

from ..core import parameters
from ..tools.flags import add_scale_flag
from ..tools.predict import FORMATS, cmd_predict


def add_parser(sub):
    p = sub.add_parser("predict", help="label images (IDX, .npy or PNG) with a saved model, as CSV or JSON")
    p.add_argument("model", help="a model file saved by nnaccel train --save or network2.py")
    p.add_argument("images", nargs="+", metavar="IMAGES",
                   help="IDX files (e.g. t10k-images-idx3-ubyte.gz), .npy arrays, or PNG images")
    p.add_argument("--format", default="csv", choices=FORMATS,
                   help="csv: a header, then file,index,label per image; json: a list of those objects")
    p.add_argument("--out", metavar="FILE", help="write the labels here (atomically) instead of stdout")
    p.add_argument("--invert", action="store_true",
                   help="the images are dark ink on a light background: use 255 - pixel (MNIST is white on black)")
    add_scale_flag(p, what="divide float pixels by S, e.g. 255 for 0-255 values stored as floats "
                           "(uint8 pixels are divided by 255 without it)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.set_defaults(run=run)


def run(args, out=print):
    parameters.check("scale", args.scale)  # before any image is read
    return cmd_predict(args, out)
