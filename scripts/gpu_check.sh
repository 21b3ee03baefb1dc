#!/usr/bin/env bash
# The prepared check for a machine with a GPU: one short script (under 10 minutes on one GPU) that
#   1. says what it runs on (torch, CUDA, the GPU, the CPU's threads);
#   2. times the loops users wait for, the CD-1 epoch, a fine-tuning epoch of the hinton2006-dbn net
#      (784-500-500-2000-10) and the DBM's joint PCD epoch, on the GPU and on this machine's CPU, each
#      against its device's large-matmul rate (scripts/bench_floor.py; needs full MNIST under
#      $REVIVAL_DATA_DIR, skipped with a line otherwise);
#   3. runs the README's main job on the GPU and times it.
# Everything it prints also lands in $OUT (default gpu_check/): floor-cpu.md, floor-cuda.md, the main
# job's run folder and its console. The numbers go into docs/benchmarks.md by hand, with the machine.
#
#   bash scripts/gpu_check.sh                     # on the GPU machine
#   DEVICE=cpu ROWS=300 bash scripts/gpu_check.sh # a dry run of the script itself on a CPU
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
ROWS=${ROWS:-10000}
OUT=${OUT:-gpu_check}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
exec > >(tee "$OUT/console.txt") 2>&1

echo "== machine"
date -u
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
"$PY" - <<'EOF'
import os, torch
print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}, CPU threads: {torch.get_num_threads()}, cores: {os.cpu_count()}")
if torch.cuda.is_available():
    print(f"GPU: {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}")
EOF

echo "== loops against each device's matmul floor ($ROWS MNIST images an epoch, scaled to 60,000)"
if [ -n "${REVIVAL_DATA_DIR:-}" ] && [ -d "$REVIVAL_DATA_DIR/mnist" ]; then
  for dev in cpu "$DEVICE"; do
    [ "$dev" = cpu ] && [ "$DEVICE" = cpu ] && [ -f "$OUT/floor-cpu.md" ] && continue
    echo "-- $dev"
    timeout 240 "$PY" scripts/bench_floor.py --rows "$ROWS" --repeats 2 --device "$dev" \
      --only rbm-cd1,finetune,dbm-joint | grep -v "^USDT" | tee "$OUT/floor-$dev.md"
  done
else
  echo "skipped: REVIVAL_DATA_DIR does not hold mnist/ (the benchmark reads full MNIST)"
fi

echo "== the README's main job on $DEVICE"
start=$(date +%s.%N)
timeout 300 "$PY" -m revival pretrain-rbm --dataset mnist-sample --epochs 5 --ais-betas 2000 \
  --device "$DEVICE" --logdir "$OUT/runs" --no-progress --no-figures
rc=$?
echo "exit $rc, wall $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $start}") s"
exit $rc
