"""A NumPy stand-in for cupy.ElementwiseKernel, so that the CuPy fast path's logic runs on a CPU.

It understands the kernels nnaccel writes: typed parameter lists with the placeholder T and
bodies of assignments ``name = expression;`` whose expressions mean the same in CUDA C++ and
Python (arithmetic, comparisons, exp, tanh). Inputs broadcast as in CuPy; outputs are given
by the caller and may be read before they are written; Python scalars become T.
"""

import numpy as np

FUNCTIONS = {"exp": np.exp, "tanh": np.tanh}


class ElementwiseKernel:
    launches = 0  # every call, across kernels: what the fusion saves is counted in tests

    def __init__(self, in_params, out_params, operation, name="kernel"):
        self.ins = [p.split()[-1] for p in in_params.split(",")]
        self.outs = [p.split()[-1] for p in out_params.split(",")]
        self.statements = [s.strip() for s in operation.split(";") if s.strip()]
        self.name = name
        for statement in self.statements:
            target, _ = statement.split("=", 1)
            assert target.strip() in self.outs, f"{name}: {statement!r} assigns to a non-output"
        for statement in self.statements:  # each right-hand side is valid Python
            compile(statement.split("=", 1)[1].strip(), name, "eval")

    def __call__(self, *args):
        assert len(args) == len(self.ins) + len(self.outs), f"{self.name}: pass every output"
        ElementwiseKernel.launches += 1
        outs = args[len(self.ins):]
        dtype = outs[0].dtype
        env = dict(FUNCTIONS)
        for name, value in zip(self.ins, args):
            env[name] = value if isinstance(value, np.ndarray) else dtype.type(value)
        env.update(zip(self.outs, outs))
        for statement in self.statements:
            target, expression = (part.strip() for part in statement.split("=", 1))
            value = eval(expression, {"__builtins__": {}}, env)  # our own kernel bodies, no builtins
            out = outs[self.outs.index(target)]
            out[...] = np.broadcast_to(value, out.shape)
            env[target] = out
        return outs[0] if len(outs) == 1 else outs
