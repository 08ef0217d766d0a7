#!/usr/bin/env bash
# GPU check: one prepared script for a CUDA machine (run from the repository root, after
# `make setup`). Prints figures; asserts nothing. About 5-10 minutes on an H200-class GPU.
#   1. the device and the software
#   2. the paper-size video model (1x16x256x256, memory 2000 x 256): training clips/s, scoring
#      frames/s and peak memory, bf16 autocast (train.precision auto on CUDA) and cudnn.benchmark,
#      plain fp32 eager beside it, then the same under torch.compile; the issue's targets on an
#      H200-class GPU: scoring >= 2,000 frames/s, training >= 700 clips/s
#   3. a short Ped2-size run on synthetic video (240x360 frames prepared to 256x256, the paper's
#      network and memory, 1 epoch): `memae train` and `memae evaluate` as the pipeline runs them
#   4. whether one job leaves the GPU idle: utilisation sampled while a training job runs; when it
#      is low, let several jobs share the GPU: snakemake --resources gpu=N (N slots: a small model's
#      job takes one, a video job all of them)
#   5. GPU slots measured: MNIST-size training jobs (synthetic digits at the real size, the paper
#      network, 10 epochs) one at a time against four side by side on the one GPU: runs per minute
# Usage: bash benchmarks/gpu_check.sh [OUT_DIR]      (default: a temporary folder)
set -euo pipefail
PY=${PY:-.venv/bin/python}
MEMAE=${MEMAE:-.venv/bin/memae}
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
echo "== 1. device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "NONE")'
"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA device: this script is for a GPU machine")'

echo "== 2. paper-size video model (bf16 autocast vs plain fp32 eager; then compiled)"
"$PY" benchmarks/bench_video.py --paths official,auto --sizes 16x256x256,16x128x128,8x64x64 \
    --batch 14 --score-batch 16 --steps 20 --frames 180 | tee "$OUT/bench_video.txt"
"$PY" benchmarks/bench_video.py --paths auto --compile --sizes 16x256x256 --batch 14 --score-batch 16 \
    --steps 20 --frames 180 --no-auc | tee "$OUT/bench_video_compile.txt"
echo "targets (H200-class): scoring >= 2000 frames/s, training >= 700 clips/s: compare the 16x256x256 rows above"

echo "== 3. short Ped2-size run on synthetic video"
"$PY" - "$OUT" <<'PY'
import json, sys, time
from pathlib import Path
from memae.config import load_params
from memae.data import ped2, synthetic
out = Path(sys.argv[1])
p = load_params("ped2", "paper")
t0 = time.perf_counter()
synthetic.make_mirror("ped2", out / "raw", {"train_videos": 4, "test_videos": 2, "frames": 180,
                                            "height": 240, "width": 360})
ped2.prepare(out / "raw" / "ped2", out / "prepared", p, workers=8)
print(f"synthetic Ped2-size data prepared in {time.perf_counter() - t0:.0f} s")
# one epoch of the paper settings
params_dir = out / "params"
params_dir.mkdir(exist_ok=True)
import shutil, yaml
for f in Path("params").glob("*.yaml"):
    shutil.copy(f, params_dir / f.name)
doc = yaml.safe_load((params_dir / "ped2.yaml").read_text())
doc["train"]["epochs"] = 1
(params_dir / "ped2.yaml").write_text(yaml.safe_dump(doc))
PY
/usr/bin/time -v "$MEMAE" train ped2 --prepared "$OUT/prepared" --variant memae --split all --seed 1 \
    --out "$OUT/run" --profile paper --params-dir "$OUT/params" 2> "$OUT/train.err" &
TRAIN=$!
echo "sampling GPU utilisation while the training job runs:"
( for i in $(seq 1 30); do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; sleep 2; done ) \
    > "$OUT/util.txt" 2>&1 &
SAMPLER=$!
wait $TRAIN || { tail -20 "$OUT/train.err"; exit 1; }
kill $SAMPLER 2>/dev/null || true
grep -E "Elapsed|Maximum resident" "$OUT/train.err"
"$PY" -c "import json; l = json.load(open('$OUT/run/train_log.json')); print('train_s', round(l['train_s'], 1), 'clips', l['n_per_epoch'], 'clips/s', round(l['n_per_epoch'] / l['train_s'], 1), l['device'])"
"$MEMAE" evaluate ped2 --prepared "$OUT/prepared" --run "$OUT/run" --profile paper --params-dir "$OUT/params" 2>/dev/null
"$PY" -c "import json; m = json.load(open('$OUT/run/metrics.json')); print('eval_s', round(m['eval_s'], 1), 'frames', m['n_test'], 'frames/s', round(m['n_test'] / m['eval_s'], 1))"
echo "GPU utilisation during training (%, MiB):"; sort -n "$OUT/util.txt" | awk -F, '{print $1}' | tr '\n' ' '; echo
echo "When the utilisation stays well under 100%, several training jobs can share the GPU:"
echo "  snakemake --cores all --workflow-profile workflow/profiles/gpu --resources gpu=4 ...   (the gpu profile declares 1 slot)"
echo "== 5. GPU slots: MNIST-size training jobs, 1 at a time vs 4 side by side"
"$PY" - "$OUT" <<'PY'
import sys
from pathlib import Path
from memae.data import mnist, synthetic
out = Path(sys.argv[1])
n = int(__import__("os").environ.get("SLOT_TRAIN_PER_CLASS", "6000"))   # MNIST's size; smaller to try the script
synthetic.make_mirror("mnist", out / "raw", {"train_per_class": n, "test_per_class": max(10, n // 6)})
mnist.prepare(out / "raw" / "mnist", out / "prepared_mnist")
PY
slot_run() {   # $1: how many jobs side by side; each trains one class for 10 epochs (profile quick)
  local t0 pids=()
  t0=$("$PY" -c 'import time; print(time.time())')
  for c in $(seq 0 $(($1 - 1))); do
    "$MEMAE" train mnist --prepared "$OUT/prepared_mnist" --variant memae --split class$c --seed 0 \
        --out "$OUT/slots$1/class$c" --profile quick --threads 2 2> "$OUT/slots$1_class$c.err" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait $p || { tail -5 "$OUT"/slots$1_class*.err; exit 1; }; done
  "$PY" -c "import sys, time; n, w = int(sys.argv[1]), time.time() - float(sys.argv[2]); print(f'{n} job(s) side by side: {w:.1f} s wall, {60 * n / w:.2f} runs per minute')" "$1" "$t0"
}
slot_run 1
slot_run 4
echo "figures written to $OUT"
