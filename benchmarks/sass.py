"""A kernel's SASS, read back to its source: instructions, loops, phases and trip counts.

nvdisasm (PyPI: nvidia-cuda-nvdisasm) prints each instruction under the source line it came
from (compiled with -lineinfo; an inlined function's line is replaced by its call site's). The
.cu source says what the lines are with two comments:

    // PHASE <name>                      a phase (gather, feedforward, backprop, update, other)
                                         starts here and lasts until the next PHASE line
                                         (a line that opens a comment with PHASE <name> too)
    for (...) { // TRIPS <expression>    the loop's trip count, per execution of what encloses it
    if (...) { // TAKEN <expression>     (or `} else { // TAKEN ...`) the share of executions
                                         that take this block, 0 to 1; in an inlined function,
                                         at every call site

Expressions are Python over: n_in, n_hidden, n_out (the sizes), layers, params (weights and
biases), m (the mini-batch), n (examples in the epoch), threads, warps (threads / 32), warp
(which warp: gpu_cycles counts each), softmax, quadratic, momentum, transposed (0 or 1),
inputs_split and hidden_split (a cluster's blocks across the inputs or the hidden layer, 1 for
one block), and cdiv(a, b) (a / b rounded up), min, max. A trip count of a
loop nested in a loop over layers is the average over the layers, weighted by the trips of
the loops between, so that the product along the nest stays exact.

SASS loops are the backward conditional branches; each is attributed to the innermost
annotated source loop holding its back edge's line (the for statement's condition). A loop the compiler unrolled u times holds
u copies of the body and runs trips / u times: u is read from the loop counter's increment.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PHASES = ("gather", "feedforward", "backprop", "update", "other")
KINDS = ("FFMA", "DFMA", "MUFU", "LDS/STS", "LD/ST", "LDG/STG", "LDL/STL", "BAR", "SHFL", "INT", "other")


class DisassemblerMissing(RuntimeError):
    """nvdisasm is not installed (pip install nvidia-cuda-nvdisasm, the cuda extra)."""


def nvdisasm() -> str:
    """The nvdisasm executable: the PyPI wheel's (nvidia/cu13/bin), else one on PATH."""
    try:
        import nvidia

        for root in nvidia.__path__:
            for found in sorted(Path(root).glob("cu*/bin/nvdisasm")):
                return str(found)
    except ImportError:
        pass
    if found := shutil.which("nvdisasm"):
        return found
    raise DisassemblerMissing("nvdisasm not found: pip install nvidia-cuda-nvdisasm (nnaccel's cuda extra)")


def disassemble(cubin: bytes) -> str:
    """nvdisasm's listing of a cubin's code, each instruction under its (call site's) source line."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kernel.cubin"
        path.write_bytes(cubin)
        done = subprocess.run([nvdisasm(), "-gi", "-c", str(path)], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"nvdisasm failed: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Instruction:
    address: int
    opcode: str  # with modifiers, without the predicate: "FFMA.FTZ", "LDS.64"
    operands: str
    line: int  # source line (the outermost call site of an inlined function); 0 if none
    predicated: bool = False
    guard: str = ""  # the predicate register of a predicated instruction: "P0"
    target: str = ""  # a branch's label
    function: str = ""
    target_address: int | None = None  # where that label is
    chain: tuple = ()  # every source line it came from: an inlined function's own, then its call sites'

    @property
    def base(self):
        return self.opcode.split(".")[0]

    @property
    def kind(self):
        return kind(self.opcode)

    @property
    def width(self):
        """32-bit words moved or written: 2 for .64, 4 for .128."""
        return 4 if ".128" in self.opcode else 2 if ".64" in self.opcode or ".WIDE" in self.opcode else 1


_FP32 = {"FFMA", "FADD", "FMUL", "FMNMX", "FSEL", "FSETP", "FCHK", "FSET", "FRND", "FSWZADD", "HFMA2", "HADD2", "HMUL2"}
_FP64 = {"DFMA", "DADD", "DMUL", "DSETP", "DMNMX"}
_INT = {"IADD3", "IMAD", "LEA", "LOP3", "SHF", "ISETP", "IABS", "VIADD", "VIMNMX", "IMNMX", "SEL", "PRMT", "MOV",
        "IADD", "SHL", "SHR", "LOP", "POPC", "FLO", "BREV", "IMUL", "UIADD3", "UIMAD", "ULEA", "ULOP3", "USHF",
        "UMOV", "USEL", "ISETP", "UISETP", "PLOP3", "P2R", "R2P", "R2UR", "S2R", "S2UR", "CS2R", "LDC", "ULDC",
        "I2F", "F2I", "F2F", "I2I", "FRND", "IMNMX", "I2FP", "F2IP", "VOTE", "UPRMT", "UFLO", "UPOPC", "IDP"}
_BRANCH = {"BRA", "BSSY", "BSYNC", "EXIT", "CALL", "RET", "WARPSYNC", "NOP", "BPT", "BREAK", "JMP", "YIELD"}


def kind(opcode: str) -> str:
    base = opcode.split(".")[0]
    if base == "HFMA2" and ".MMA" in opcode:  # the compiler's way to load a constant: integer pipe
        return "INT"
    if base in _FP32:
        return "FFMA"
    if base in _FP64:
        return "DFMA"
    if base == "MUFU":
        return "MUFU"
    if base in ("LDS", "STS", "LDSM", "ATOMS"):
        return "LDS/STS"
    if base in ("LD", "ST", "ATOM", "RED"):
        return "LD/ST"
    if base in ("LDG", "STG", "LDGSTS", "ATOMG", "REDG", "LDGDEPBAR"):
        return "LDG/STG"
    if base in ("LDL", "STL"):
        return "LDL/STL"
    if base in ("BAR", "DEPBAR", "SYNCS", "MEMBAR"):
        return "BAR"
    if base == "SHFL":
        return "SHFL"
    if base in _INT or base.startswith("U"):
        return "INT"
    return "other"


_LINE = re.compile(r'^\s*//## File "[^"]*", line (\d+)(.*)$')
_PLACE = re.compile(r'"([^"]*)", line (\d+)')  # a comment's places: its file's line, then each "inlined at"
_INSTR = re.compile(r"^\s*/\*([0-9a-f]+)\*/\s+(.*?)\s*;")
_LABEL = re.compile(r"^([.$\w]+):\s*$")


def parse(listing: str) -> list:
    """The instructions of every function in an nvdisasm -gi -c listing, in address order.

    Subroutines the compiler appends (``$__internal_…``: the slow path of a division) are kept
    under their own function name, so that the model can leave them out."""
    out, line, chain, gathering, function, labels = [], 0, (), False, "", {}
    pending = []
    for text in listing.splitlines():
        if m := _LINE.match(text):
            calls = re.findall(r"line (\d+)", m.group(2))
            line = int(calls[-1]) if calls else int(m.group(1))
            # an inlined instruction's lines come one comment a level, innermost first; only the
            # kernel's own file's (the outermost's) count: a CUDA header's line 449 is not the .cu's
            places = _PLACE.findall(text)
            own = places[-1][0]
            chain = (*(chain if gathering else ()), *(int(n) for f, n in places if f == own))
            gathering = True
            continue
        if m := _LABEL.match(text.strip()):
            name = m.group(1)
            if not name.startswith(".L"):
                function = name
            pending.append(name)
            continue
        if m := _INSTR.match(text):
            gathering = False
            body = m.group(2)
            guard = re.match(r"@!?(U?P[0-9T])\s", body)
            if guard:
                body = body.split(None, 1)[1]
            parts = body.split(None, 1)
            opcode, operands = parts[0], parts[1] if len(parts) > 1 else ""
            target = re.search(r"`\(([^)]+)\)", operands)
            instr = Instruction(int(m.group(1), 16), opcode, operands, line, bool(guard),
                                guard.group(1) if guard else "", target.group(1) if target else "", function,
                                chain=chain)
            for name in pending:
                labels[name] = instr.address
            pending = []
            out.append(instr)
    for instr in out:
        if instr.target:
            instr.target_address = labels.get(instr.target)
    return out


# ---------------------------------------------------------------------------------------------
# The source's annotations


@dataclass
class Block:
    """An annotated for/if/else: its source lines and the expression written on it."""

    line: int  # where the statement starts
    end: int  # its last line
    expression: str
    loop: bool  # a TRIPS loop (else a TAKEN block)
    step: int | None = None  # the for header's constant increment, when it has one

    def contains(self, line):
        return self.line <= line <= self.end


def _blank_comments(source):
    """The source with comments replaced by spaces (newlines kept, so lines keep their numbers)."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r"//[^\n]*|/\*.*?\*/", blank, source, flags=re.S)


def _line_of(text, index):
    return text.count("\n", 0, index) + 1


def _match(text, i, open_, close):
    depth = 0
    while i < len(text):
        if text[i] == open_:
            depth += 1
        elif text[i] == close:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced {open_}{close} from line {_line_of(text, i)}")


def _statement_end(text, i):
    """Index of the last character of the statement starting at or after i."""
    while text[i].isspace():
        i += 1
    if text[i] == "{":
        return _match(text, i, "{", "}")
    if m := re.match(r"(for|if|while)\s*\(", text[i:]):
        close = _match(text, i + m.end() - 1, "(", ")")
        end = _statement_end(text, close + 1)
        if m.group(1) == "if" and (e := re.match(r"\s*else\b", text[end + 1:])):
            end = _statement_end(text, end + 1 + e.end())
        return end
    return text.index(";", i)


def _step(header, defines):
    """A for header's constant increment (1 for ++, 32 for += WARP), or None."""
    increment = header.rsplit(";", 1)[-1].strip()
    if re.fullmatch(r"\+\+\w+|\w+\+\+", increment):
        return 1
    if re.fullmatch(r"--\w+|\w+--", increment):
        return -1
    if m := re.fullmatch(r"\w+\s*([+-])=\s*(\w+)", increment):
        value = defines.get(m.group(2), m.group(2))
        if str(value).isdigit():
            return int(value) * (1 if m.group(1) == "+" else -1)
    return None


def annotations(source: str):
    """(phases, blocks): phases is [(first line, name)], blocks the annotated for/if/else."""
    lines = source.splitlines()
    phases = []
    for number, text in enumerate(lines, 1):
        if m := re.match(r"\s*(?://|/\*)\s*PHASE\s+(\w+)\b", text):
            if m.group(1) not in PHASES:
                raise ValueError(f"line {number}: unknown PHASE {m.group(1)!r}; use one of {', '.join(PHASES)}")
            phases.append((number, m.group(1)))
    defines = dict(re.findall(r"^#define\s+(\w+)\s+(\d+)", source, flags=re.M))
    code = _blank_comments(source)
    starts = [0]
    for text in lines:
        starts.append(starts[-1] + len(text) + 1)
    blocks = []
    for number, text in enumerate(lines, 1):
        m = re.search(r"//\s*(TRIPS|TAKEN)\s+(.+?)\s*$", text)
        if not m:
            continue
        begin = starts[number - 1]
        row = code[begin:starts[number]]
        if m.group(1) == "TRIPS":
            found = re.search(r"\bfor\s*\(", row)
            if not found:
                raise ValueError(f"line {number}: TRIPS stands on a line without a for")
            open_ = begin + found.end() - 1
            close = _match(code, open_, "(", ")")
            end = _statement_end(code, close + 1)
            blocks.append(Block(number, _line_of(code, end), m.group(2), True, _step(code[open_ + 1:close], defines)))
        else:
            found = re.search(r"\b(if\s*\(|else\b)", row)
            if not found:
                raise ValueError(f"line {number}: TAKEN stands on a line without an if or else")
            i = begin + found.end()
            if found.group(1).startswith("if"):
                i = _match(code, i - 1, "(", ")") + 1
            end = _statement_end(code, i)
            blocks.append(Block(number, _line_of(code, end), m.group(2), False))
    return phases, blocks


def phase_of(line, phases):
    name = "other"
    for first, phase in phases:
        if line >= first:
            name = phase
    return name


def evaluate(expression, variables):
    """A TRIPS/TAKEN expression's value for one network (a plain arithmetic Python expression)."""
    names = dict(variables, cdiv=lambda a, b: -(-a // b), min=min, max=max, ceil=math.ceil)
    try:
        return float(eval(compile(expression, "<TRIPS>", "eval"), {"__builtins__": {}}, names))
    except Exception as error:  # the annotation is the user's: say which one and why
        raise ValueError(f"cannot evaluate {expression!r}: {error}") from None


# ---------------------------------------------------------------------------------------------
# Loops


@dataclass
class Loop:
    head: int  # index of the first instruction
    tail: int  # index of the backward branch
    source: Block | None = None
    unroll: int = 1
    parent: "Loop | None" = None
    children: list = field(default_factory=list)
    iterations: float = 1.0  # per execution of the parent

    def __contains__(self, index):
        return self.head <= index <= self.tail


def find_loops(instructions, blocks):
    """The SASS loops of one function, nested, each attributed to an annotated source loop."""
    index = {ins.address: i for i, ins in enumerate(instructions)}
    loops = []
    for i, ins in enumerate(instructions):
        to = getattr(ins, "target_address", None)
        if ins.base == "BRA" and ins.predicated and to is not None and to <= ins.address and to in index:
            loops.append(Loop(index[to], i))
    # keep properly nested intervals; a crossing one is not a loop of the structured code
    loops.sort(key=lambda lp: (lp.head, -lp.tail))
    kept = []
    for lp in loops:
        if all(lp.tail <= k.tail or lp.head > k.tail for k in kept if k.head <= lp.head):
            kept.append(lp)
    for lp in kept:
        enclosing = [k for k in kept if k is not lp and k.head <= lp.head and lp.tail <= k.tail]
        lp.parent = min(enclosing, key=lambda k: k.tail - k.head, default=None)
        if lp.parent:
            lp.parent.children.append(lp)
    loop_blocks = [b for b in blocks if b.loop]
    for lp in kept:
        # the back edge carries the for statement's line (its condition and increment)
        line = instructions[lp.tail].line
        inner = [b for b in loop_blocks if b.contains(line)]
        if inner:
            lp.source = min(inner, key=lambda b: b.end - b.line)
        lp.unroll = _unroll(instructions, lp)
    return kept


def own_indices(loop):
    """Indices of the loop's instructions that are not in a nested loop."""
    inner = set()
    for child in loop.children:
        inner.update(range(child.head, child.tail + 1))
    return [i for i in range(loop.head, loop.tail + 1) if i not in inner]


_IMMEDIATE = re.compile(r"^-?0x[0-9a-f]+$|^-?\d+$")


def _unroll(instructions, loop):
    """Copies of the source body in the loop: the counter's increment ÷ the source's step.

    The counter is a register that the compare setting the back edge's predicate reads and
    that the loop adds a constant to; without one, or for a loop whose step is not a constant,
    the loop counts as not unrolled (which overcounts a runtime-step loop the compiler did unroll)."""
    guard = instructions[loop.tail].guard
    compare = next((instructions[i] for i in range(loop.tail - 1, loop.head - 1, -1)
                    if instructions[i].base in ("ISETP", "UISETP") and guard in instructions[i].operands.split(",")[0]),
                   None)
    if compare is None or loop.source is None:
        return 1
    registers = re.findall(r"\bU?R\d+\b", compare.operands)
    for i in range(loop.head, loop.tail):
        ins = instructions[i]
        if not (ins.base in ("IADD3", "VIADD", "UIADD3") or ins.opcode.startswith("IMAD.IADD")):
            continue
        ops = [o.strip() for o in ins.operands.split(",")]
        if ops[0] not in registers or ops[0] not in ops[1:]:
            continue
        immediates = [o for o in ops[1:] if _IMMEDIATE.match(o)]
        if len(immediates) != 1:
            continue
        increment = int(immediates[0], 0)
        increment = abs(increment - (1 << 32) if increment >= 1 << 31 else increment)  # a 32-bit immediate
        step = abs(loop.source.step) if loop.source.step else None
        if step and increment % step == 0:
            return max(1, increment // step)
        return 1  # a runtime step (i += threads): no constant to divide by, so not taken as unrolled
    return 1


def main(argv=None):
    """python -m benchmarks.sass LISTING: each instruction of an nvdisasm -gi listing as a JSON line
    (address, opcode, its source line, and its inline chain): what the model reads a listing as."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="python -m benchmarks.sass", description=main.__doc__.splitlines()[0])
    parser.add_argument("listing", type=Path, help="an nvdisasm -gi -c listing")
    args = parser.parse_args(argv)
    try:
        text = args.listing.read_text()
    except OSError as error:
        print(f"error: cannot read {args.listing}: {error.strerror}; give an nvdisasm -gi listing", file=sys.stderr)
        return 2
    for ins in parse(text):
        print(json.dumps(dict(address=ins.address, opcode=ins.opcode, line=ins.line, chain=list(ins.chain))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
