"""The register-tile kernel's geometry (nnaccel/epochs/fast/cuda/register_epoch.cu), for PersistentEpoch.

For [n_in, n_hidden, n_out] with n_hidden, n_out ≤ 32 the first layer's weights fit in the
registers of one block: warp c holds the columns [c·CAP, (c+1)·CAP) of w¹, lane 8g + r
quarter g of them for the rows r, r + 8, r + 16 and r + 24, for the whole epoch; the
mini-batch is a register tile of exactly M examples. PersistentEpoch
launches this kernel where ``tile`` finds a geometry, epoch.cu's general kernel elsewhere.
Wider hidden layers (up to 32·8) on sm_90 GPUs: a cluster of CL blocks trains one network,
each block a slice of ⌈n_hidden/CL⌉ ≤ 32 hidden neurons (the same kernel, CL its fifth
template argument). And on sm_90, where a network's inputs need the wide register slice
(CAP = 112: the book's 784), a cluster of CL blocks splits the inputs instead (BY_INPUTS, the
sixth): each block holds ⌈words/CL⌉ words' columns of w¹ at CAP = 32, a third of the registers'
work, and the blocks add up z¹ across the cluster, so one network trains on CL SMs; chosen while
the K networks' clusters fit the GPU's SMs at once (a population larger than that keeps one
block, one SM, a network).
This module only says which instantiation, how much shared memory and which block sizes.
"""

from __future__ import annotations

from typing import NamedTuple

SOURCE = "register_epoch.cu"
KERNEL = "sgd_epoch_registers"
MAX_THREADS = 256  # register_epoch.cu's __launch_bounds__
MAX_WIDTH = 32  # a lane per hidden neuron and per output neuron
W2T_STRIDE = 20  # register_epoch.cu's: a row of w² transposed (16 outputs, 4 of padding)
TILES = (4, 10)  # M: the mini-batch's register tile; 10 is the book's m
# CAP: the w¹ columns one warp holds, a multiple of 16 (each quarter warp's CAP/4 columns are whole
# 16-byte quads); a thread holds CAP values (four rows × CAP/4 columns). float32: 32, or 112 for
# the book's 784 inputs (8 warps × 112 columns, 14 % padding); float64 takes two registers a
# value, so 32 (8 warps: 256 inputs).
CAPS = {"float32": (32, 112), "float64": (32,)}
C_TYPES = {"float32": "float", "float64": "double"}
# CL: blocks a network, a cluster (sm_90; 8 is the portable most). 1, 2, 4, 8 and no others, so
# that few instantiations cover hidden layers up to 256 wide. float64 with float inputs spills
# at M = 10 in a cluster (ptxas: 4 bytes), so float64 clusters take M = 4.
CLUSTERS = (2, 4, 8)
# A cluster across the inputs: 2 blocks up to 512 inputs, 4 up to 1024 (the book's 784), at CAP 32.
INPUT_SPLITS = (2, 4)
SPLIT_CAP = 32
CLUSTER_TILES = {"float32": TILES, "float64": (4,)}
# One block a network: float64 at M = 10 has no register to spare (255 of 255 before the update's
# factors moved to shared memory, ptxas then spills 8-40 bytes in one or another build), so
# float64 takes M = 4 there too. float64 is the oracle's precision, never the book network's fast
# path (784 inputs do not fit 8 × 32 doubles of registers).
BLOCK_TILES = CLUSTER_TILES
CLUSTER_ARCH = 90  # the first compute capability (×10) with thread block clusters
FACTORS = 8  # the update's factors for one mini-batch size (register_epoch.cu's step_factors: 7, padded)


class Tile(NamedTuple):
    """An instantiation's geometry: M examples a pass, CAP w¹ columns a warp, CL blocks a network
    (splitting the hidden layer, or the inputs where ``by_inputs``)."""

    m: int
    cap: int
    cluster: int = 1
    by_inputs: bool = False


def name_expression(dtype: str, pixels: bool, tile: int, cap: int, cluster: int = 1, by_inputs: bool = False) -> str:
    """The template instantiation for a float type, uint8 or float inputs, M, CAP, CL and BY_INPUTS."""
    t = C_TYPES[dtype]
    args = f"{t}, {'unsigned char' if pixels else t}, {tile}, {cap}"
    if by_inputs:
        return f"{KERNEL}<{args}, {cluster}, true>"
    return f"{KERNEL}<{args}>" if cluster == 1 else f"{KERNEL}<{args}, {cluster}>"


def name_expressions(clusters: bool = False) -> list:
    """Every instantiation PersistentEpoch can launch: the one-block kernel's, or (``clusters``)
    the cluster kernels' (across the hidden layer, then across the inputs), which only sm_90 and
    later compile."""
    if clusters:
        return ([name_expression(dtype, pixels, tile, cap, cl) for dtype in C_TYPES for pixels in (True, False)
                 for tile in CLUSTER_TILES[dtype] for cap in CAPS[dtype] for cl in CLUSTERS]
                + [name_expression(dtype, pixels, tile, SPLIT_CAP, cl, True) for dtype in C_TYPES
                   for pixels in (True, False) for tile in CLUSTER_TILES[dtype] for cl in INPUT_SPLITS])
    return [name_expression(dtype, pixels, tile, cap) for dtype in C_TYPES for pixels in (True, False)
            for tile in BLOCK_TILES[dtype] for cap in CAPS[dtype]]


def mini_batch_tile(m: int, tiles=TILES) -> int:
    """M: the tile that wastes least on ⌈m/M⌉·M padded rows (the larger one on a tie; 10 for m = 10)."""
    return min(tiles, key=lambda t: (-(-m // t) * t, -t))


def cluster_size(n_hidden: int, dtype: str, clusters: bool) -> int | None:
    """CL: 1 for a hidden layer of ≤ 32, else the fewest blocks of CLUSTERS whose slices of
    ⌈n_hidden/CL⌉ are ≤ 32 wide (where ``clusters``: the GPU has them); None where none fits."""
    if n_hidden <= MAX_WIDTH:
        return 1
    if not clusters:
        return None
    return next((cl for cl in CLUSTERS if n_hidden <= MAX_WIDTH * cl), None)


def split_span(words: int, cluster: int) -> int:
    """A block's words of a row split across ``cluster`` blocks: ⌈words/CL⌉ rounded up to whole
    16-byte chunks (4 words), as register_epoch.cu takes them (the last block takes the rest)."""
    return -(-(-(-words // cluster)) // 4) * 4


def input_split(n_in: int, warps: int) -> int | None:
    """CL across the inputs: the fewest blocks of INPUT_SPLITS whose share of a row (in words of
    four pixels, or of one value) fits ``warps`` × SPLIT_CAP columns; None where none does."""
    def columns(cl):
        return max(split_span(-(-n_in // 4), cl) * 4, split_span(n_in, cl))

    return next((cl for cl in INPUT_SPLITS if warps * SPLIT_CAP >= columns(cl)), None)


def tile(sizes, m: int, dtype: str, block: int, clusters: bool = False, members: int = 1,
         sms: int | None = None) -> Tile | None:
    """The Tile of the instantiation that trains ``sizes`` with ``block`` threads, or None where
    the network is not [n_in, ≤ 32, ≤ 32] ([n_in, ≤ 256, ≤ 32] with ``clusters``), the block
    too large, or the inputs too wide for it. With ``clusters``, inputs wider than one block's
    CAP = 32 columns are split across a cluster (by_inputs) while the ``members`` networks'
    clusters fit ``sms`` SMs at once (or where one block cannot hold them at all)."""
    if len(sizes) != 3 or sizes[2] > MAX_WIDTH or block > MAX_THREADS or dtype not in CAPS:
        return None
    cl = cluster_size(sizes[1], dtype, clusters)
    warps = block // 32
    caps = [cap for cap in CAPS[dtype] if warps * cap >= sizes[0]]
    split = input_split(sizes[0], warps) if clusters and cl == 1 and warps * SPLIT_CAP < sizes[0] else None
    if split and (not caps or sms is None or members * split <= sms):
        return Tile(mini_batch_tile(m, CLUSTER_TILES[dtype]), SPLIT_CAP, split, True)
    tiles = BLOCK_TILES[dtype] if cl == 1 else CLUSTER_TILES[dtype]
    return Tile(mini_batch_tile(m, tiles), caps[0], cl) if caps and cl else None


def row_words(n_in: int, pixels: bool) -> int:
    """The words of a row of x the kernel moves: four pixels a word where a row is a multiple of
    4 pixels, else one input value a word."""
    return n_in // 4 if pixels and n_in % 4 == 0 else n_in


def chunks(n_in: int, x, pixels: bool) -> int:
    """CH: the 16-byte chunks of a row of ``x`` (an array on the GPU, or NumPy's in the tests),
    which the kernel stages the next mini-batch's rows in; 0 (stage words instead) where a row is
    not whole chunks or x does not start on a 16-byte boundary."""
    row_bytes = n_in * x.dtype.itemsize
    data = getattr(x, "data", None)
    address = data.ptr if hasattr(data, "ptr") else x.ctypes.data  # CuPy's device pointer, or NumPy's
    return row_bytes // 16 if row_bytes % 16 == 0 and address % 16 == 0 else 0


def layout(sizes, m: int, block: int, cap: int, tile_m: int, momentum: bool, cluster: int = 1, *,
           pixels: bool = True, itemsize: int = 4, staged: bool = True, by_inputs: bool = False,
           transposed: bool = True) -> dict:
    """The offsets (in values of ``itemsize`` bytes) of register_epoch.cu's shared-memory regions,
    as the kernel takes them, each a multiple of 4: a⁰ (W × rows × CAP), the warps'
    partial sums (W × M × 32), a¹, δ¹ (32 × rows: transposed, rows past n_hidden zero) and, for
    one block a network with n_out ≤ 16 (``transposed``), w² transposed (32 × W2T_STRIDE: the
    kernel's backprop in the feedforward's warps, which it takes where this region is), δ², b¹ w² b², and for momentum their velocities and w¹'s
    (W·CAP·32), the row numbers of this and of the next mini-batch (ints, two halves), in a
    cluster the two halves of the slice's partial z² (2 × rows × n_out), the update's factors
    for a whole and for the last mini-batch (2 × FACTORS), and the next mini-batch's rows of x
    as they lie there (rows × row_words words of 4 bytes, or of the inputs' size; ``staged``
    False: none, ST = 0, and the kernel's gather reads x itself); "end" is where the last
    region ends. In a cluster a block's slice is ⌈n_hidden/CL⌉ wide (its largest); across the
    inputs (``by_inputs``) a block stages split_span words a row, and ZO holds the two halves
    of every block's share of z¹ (2 × rows × CL × n_hidden) instead."""
    n_in, nh, no = sizes
    nh = nh if by_inputs else -(-nh // cluster)
    warps = block // 32
    rows = -(-m // tile_m) * tile_m

    def r4(v):
        return -(-v // 4) * 4

    small = r4(nh + no * nh + no)
    at = {"rows": rows, "ZP": warps * rows * cap}
    at["A1"] = at["ZP"] + warps * tile_m * 32
    at["D1"] = at["A1"] + r4(rows * nh)
    # δ¹: a row of examples for each of 32 hidden neurons (rows is even), then W2T: w² transposed
    fused = transposed and cluster == 1 and no <= MAX_WIDTH // 2
    at["D2"] = at["D1"] + 32 * rows + (32 * W2T_STRIDE if fused else 0)
    at["SP"] = at["D2"] + r4(rows * no)
    at["VS"] = at["SP"] + small
    at["V1"] = at["VS"] + small
    at["PM"] = at["V1"] + warps * cap * 32 if momentum else at["VS"]
    at["ZO"] = at["PM"] + 2 * r4(rows)  # an int a row (a value's slot holds one), two mini-batches
    at["FS"] = at["ZO"] + (2 * rows * (nh * cluster if by_inputs else no) if cluster > 1 else 0)  # found, not passed
    at["ST"] = at["FS"] + 2 * FACTORS if staged else 0
    word = 4 if pixels else itemsize  # a word: four pixels, one pixel widened to 4 bytes, or one value
    span = split_span(row_words(n_in, pixels), cluster) if by_inputs else row_words(n_in, pixels)
    at["end"] = at["FS"] + 2 * FACTORS + (r4(-(-rows * span * word // itemsize)) if staged else 0)
    return at


def shared_bytes(sizes, m: int, itemsize: int, block: int, cap: int, tile_m: int, momentum: bool,
                 cluster: int = 1, pixels: bool = True, staged: bool = True, by_inputs: bool = False,
                 transposed: bool = True) -> int:
    """Dynamic shared memory register_epoch.cu needs: ``layout``'s end, in bytes."""
    return layout(sizes, m, block, cap, tile_m, momentum, cluster, pixels=pixels, itemsize=itemsize,
                  staged=staged, by_inputs=by_inputs, transposed=transposed)["end"] * itemsize
