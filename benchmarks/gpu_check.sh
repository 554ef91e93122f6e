#!/usr/bin/env bash
# The GPU check in one call (docs/gpu.md, "The GPU check"): the real stages with MLflow, then
# the train stage against bare Keras, the JAX compilation cache cold and warm, and determinism.
#
#   bash benchmarks/gpu_check.sh [gpu_stages.py options, e.g. --set train.fit.epochs=2]
#
# Reads the labeled mirror from .gpu_data/ and installs the wheels in .whl/ if there are any
# (both git-ignored; docs/gpu.md says how to fill them). Writes logs, the summary and the
# MLflow store (mlflow.db) to $OUT. Environment: GPU_CHECK_ARCHIVE, GPU_CHECK_WORKDIR,
# GPU_CHECK_REPEAT (stage-vs-bare rounds, 3), GPU_CHECK_BACKEND (default: what train chose),
# PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PY="${PYTHON:-python3}"
OUT="${OUT:-/tmp/gpu-check-out}"
ARCHIVE="${GPU_CHECK_ARCHIVE:-.gpu_data/aclImdb_v1-labeled.tar.gz}"
WORK="${GPU_CHECK_WORKDIR:-/tmp/gpu-check}"
REPEAT="${GPU_CHECK_REPEAT:-3}"
mkdir -p "$OUT"
start=$SECONDS

if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$REPO/src:$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2

{
    nvidia-smi -L 2>/dev/null || echo "nvidia-smi: none"
    "$PY" - <<'PY'
import importlib.metadata as md, platform
names = ("keras", "jax", "jaxlib", "mlflow-skinny", "mlflow", "nvidia-ml-py", "great-expectations")
found = {}
for name in names:
    try:
        found[name] = md.version(name)
    except md.PackageNotFoundError:
        pass
print("python", platform.python_version(), found)
PY
} 2>&1 | tee "$OUT/environment.log"

echo "=== stages (dvc.yaml's commands) [$((SECONDS - start)) s]"
"$PY" benchmarks/gpu_stages.py --archive "$ARCHIVE" --workdir "$WORK" --out "$OUT" "$@" \
    2>&1 | tee "$OUT/stages.log"

BACKEND="${GPU_CHECK_BACKEND:-$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["backend"])' "$WORK/models/run.json")}"
DATA=(--prepared "$WORK/data/prepared" --params "$WORK/params.yaml" --backend "$BACKEND")

echo "=== train stage vs bare Keras on $BACKEND [$((SECONDS - start)) s]"
"$PY" benchmarks/train_overhead.py "${DATA[@]}" --repeat "$REPEAT" --cache-rounds \
    2>&1 | tee "$OUT/overhead.log"

echo "=== train.runtime.deterministic on $BACKEND [$((SECONDS - start)) s]"
"$PY" benchmarks/determinism.py "${DATA[@]}" --repeat 2 2>&1 | tee "$OUT/determinism.log"

echo "=== summary [$((SECONDS - start)) s]"
grep -h -E "^=== [a-z]+: exit|ratio|compilation cache|deterministic (on|off)|fastest|same losses" \
    "$OUT/stages.log" "$OUT/overhead.log" "$OUT/determinism.log" | tee "$OUT/summary.log"
