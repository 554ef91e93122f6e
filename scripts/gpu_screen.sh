#!/usr/bin/env bash
# scripts/screen_seeds.py in one call on the lent GPU machine (docs/gpu.md, "Screening on a GPU").
#
#   SCREEN_ARMS=scripts/screens/round6-1.yaml bash scripts/gpu_screen.sh [screen_seeds.py options]
#
# Installs the wheels in .whl/ (git-ignored; docs/gpu.md says how to fill them), then screens
# SCREEN_ARMS over SCREEN_SEEDS with SCREEN_WORKERS processes on the reviews table
# SCREEN_REVIEWS (data/raw/reviews.parquet: carry it), stopping after SCREEN_SECONDS so that
# the call returns within its limit; the rows finished by then are in $OUT/runs.jsonl.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu-screen-out}"
mkdir -p "$OUT"
start=$SECONDS
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
# Several processes share the card: each takes GPU memory as it needs it, not 75% up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
nvidia-smi -L 2>/dev/null || echo "nvidia-smi: none"
echo "setup $((SECONDS - start)) s"
# shellcheck disable=SC2086  # SCREEN_SEEDS is a list of words
timeout -k 10 "${SCREEN_SECONDS:-480}" python3 scripts/screen_seeds.py \
    --arms "${SCREEN_ARMS:?name an arms file}" --seeds ${SCREEN_SEEDS:-42 1 2 3 4 5} \
    --workers "${SCREEN_WORKERS:-6}" --reviews "${SCREEN_REVIEWS:-data/raw/reviews.parquet}" \
    --cache /tmp/gpu-screen-cache --out "$OUT/runs.jsonl" "$@" >"$OUT/screen.log" 2>&1
echo "screen exit $? at $((SECONDS - start)) s"
grep -E '^\{|n=|workers gone' "$OUT/screen.log" | tail -80
