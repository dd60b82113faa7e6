#!/usr/bin/env bash
# One call of the workplace's `device` tool on a lent GPU machine (docs/gpu.md, "Measured on an
# NVIDIA H200"): setup, then the stages named in STAGES (default all, in this order):
#   core        nnaccel selftest without its pytest and benchmark parts (the paths on the device
#               and issue 15's goals)
#   placements  python -m benchmarks.placements (each kernel placement, timed)
#   clocks      python -m benchmarks.phase_clocks (cycles per phase, by clock64)
#   tests       pytest -m cuda
#   full        the whole selftest (benchmark rows too; its goals are a second, independent timing)
# Each stage has its own time limit (CORE_S, PLACE_S, CLOCKS_S, TESTS_S, FULL_S), so a slow stage
# costs only itself; everything lands in $OUT (run.log, core/, full/, *.json, cuda-tests.xml).
# Carry: .whl (array-api-compat, array-api-strict wheels) and the cp312 C extensions built here.
set -u
export PYTHONUNBUFFERED=1
LOG=$OUT/run.log
STAGES=${STAGES:-"core placements clocks tests full"}
stage() { echo "=== $(date -u +%T) $*" | tee -a "$LOG"; }
wanted() { [[ " $STAGES " == *" $1 "* ]]; }
stage setup
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl >>"$LOG" 2>&1
export PYTHONPATH=$PWD:/tmp/site
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw --format=csv 2>&1 | tee -a "$LOG"
python3 -c "import sys, numpy, cupy; print(sys.version.split()[0], 'numpy', numpy.__version__, 'cupy', cupy.__version__, 'runtime', cupy.cuda.runtime.runtimeGetVersion(), 'nvrtc', cupy.cuda.nvrtc.getVersion())" 2>&1 | tee -a "$LOG"
python3 -c "from nnaccel.epochs.fast import c_epoch; print('C kernel available:', c_epoch.available())" 2>&1 | tee -a "$LOG"
if wanted core; then
    stage "selftest core (paths + goals)"
    timeout "${CORE_S:-170}" python3 -m nnaccel selftest --device cuda --skip-tests --skip-benchmarks --out "$OUT/core" 2>&1 | tee -a "$LOG"
fi
if wanted placements; then
    stage "placements (register kernel, cluster, epoch.cu shared/global)"
    timeout "${PLACE_S:-110}" python3 -m benchmarks.placements --out "$OUT/placements.json" 2>&1 | tee -a "$LOG"
fi
if wanted clocks; then
    stage "phase clocks (cycles per phase, clock64)"
    timeout "${CLOCKS_S:-90}" python3 -m benchmarks.phase_clocks --out "$OUT/phase-clocks.json" 2>&1 | tee -a "$LOG"
fi
if wanted tests; then
    stage "pytest -m cuda"
    timeout "${TESTS_S:-110}" python3 -m pytest -m cuda -q -p no:cacheprovider --junitxml="$OUT/cuda-tests.xml" tests 2>&1 | tail -n 40 | tee -a "$LOG"
fi
if wanted full; then
    stage "selftest full (benchmark rows)"
    timeout "${FULL_S:-280}" python3 -m nnaccel selftest --device cuda --skip-tests --out "$OUT/full" 2>&1 | tee -a "$LOG"
fi
stage done
