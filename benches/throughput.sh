#!/usr/bin/env bash
# `make bench`: rifle-tui's engine against PyTorch eager, same model, batch, image size,
# thread count and augmentation, on the CPU. Prints both figures and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${RIFLE_PYTHON:-python3}
BIN=./target/release/rifle-tui
THREADS=${BENCH_THREADS:-$(nproc)}

bench_pair() {
  local arch=$1 size=$2 batch=$3 images=$4
  local classes=6
  local per_class=$((images / classes))
  local ours theirs
  ours=$("$BIN" bench benches/throughput.yaml \
    --set model.arch="$arch" --set data.image_size="$size" --set train.batch_size="$batch" \
    --set data.train_per_class="$per_class" --set train.threads="$THREADS")
  theirs=$("$PY" benches/reference_train.py --arch "$arch" --size "$size" --batch "$batch" \
    --images $((per_class * classes)) --threads "$THREADS" --classes "$classes")
  "$PY" - "$ours" "$theirs" <<'PYEOF'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ratio = ours["images_per_sec"] / theirs["images_per_sec"]
print(f'{ours["arch"]:<10} {ours["size"]:>4}px batch {ours["batch"]:>3} threads {ours["threads"]}: '
      f'rifle-tui {ours["images_per_sec"]:8.1f} img/s   pytorch eager {theirs["images_per_sec"]:8.1f} img/s'
      f'   ratio {ratio:.3f}')
PYEOF
}

echo "training throughput on the CPU (steady state: epochs 2+, evaluation excluded)"
bench_pair small_cnn 32 32 2400
bench_pair small_cnn 64 64 1200
