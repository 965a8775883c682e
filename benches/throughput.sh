#!/usr/bin/env bash
# `make bench`: rifle-tui's engine against PyTorch eager, same model, batch, image size,
# thread count and augmentation, on the CPU. Prints both figures and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${RIFLE_PYTHON:-python3}
REPEATS=${BENCH_REPEATS:-3}
# The venv has no numpy; torch warns about it on import.
export PYTHONWARNINGS=ignore
BIN=./target/release/rifle-tui
THREADS=${BENCH_THREADS:-$(nproc)}

bench_pair() {
  local arch=$1 size=$2 batch=$3 images=$4
  local classes=6
  local per_class=$((images / classes))
  local ours=() theirs=()
  # Alternate the two so that any drift in machine load hits both alike.
  for _ in $(seq "$REPEATS"); do
    ours+=("$("$BIN" bench benches/throughput.yaml \
      --set model.arch="$arch" --set data.image_size="$size" --set train.batch_size="$batch" \
      --set data.train_per_class="$per_class" --set train.threads="$THREADS")")
    theirs+=("$("$PY" benches/reference_train.py --arch "$arch" --size "$size" --batch "$batch" \
      --images $((per_class * classes)) --threads "$THREADS" --classes "$classes")")
  done
  "$PY" - "${ours[@]}" "${theirs[@]}" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[1:]]
half = len(runs) // 2
ours, theirs = runs[:half], runs[half:]
o = statistics.median(r["images_per_sec"] for r in ours)
t = statistics.median(r["images_per_sec"] for r in theirs)
first = ours[0]
each = lambda rs: " ".join("%.0f" % r["images_per_sec"] for r in rs)
print(f'{first["arch"]:<10} {first["size"]:>4}px batch {first["batch"]:>3} threads {first["threads"]}: '
      f'rifle-tui {o:8.1f} img/s   pytorch eager {t:8.1f} img/s   ratio {o / t:.3f}   '
      f'(median of {half}; each: {each(ours)} vs {each(theirs)})')
PYEOF
}

echo "training throughput on the CPU (steady state: epochs 2+, evaluation excluded)"
bench_pair small_cnn 32 32 2400
bench_pair small_cnn 64 64 1200

# The TUI must not slow training down: the same run headless and with the app open
# (fed every event, drawn at its 10 Hz frame rate off-screen). Goal: within 2%.
tui_pair() {
  local arch=$1 size=$2 batch=$3 images=$4
  local per_class=$((images / 6))
  local args=(benches/throughput.yaml --set model.arch="$arch" --set data.image_size="$size"
    --set train.batch_size="$batch" --set data.train_per_class="$per_class"
    --set train.threads="$THREADS" --set metrics.log_every_steps=1
    --set metrics.layer_update_every_steps=5)
  local plain=() tui=()
  for _ in $(seq "$REPEATS"); do
    plain+=("$("$BIN" bench "${args[@]}")")
    tui+=("$("$BIN" bench --with-tui "${args[@]}")")
  done
  "$PY" - "${plain[@]}" "${tui[@]}" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[1:]]
half = len(runs) // 2
plain, tui = runs[:half], runs[half:]
p = statistics.median(r["images_per_sec"] for r in plain)
t = statistics.median(r["images_per_sec"] for r in tui)
each = lambda rs: " ".join("%.0f" % r["images_per_sec"] for r in rs)
first = plain[0]
print(f'{first["arch"]:<10} {first["size"]:>4}px batch {first["batch"]:>3}: headless {p:8.1f} img/s   '
      f'TUI open {t:8.1f} img/s   TUI/headless {t / p:.3f}   (median of {half}; each: {each(plain)} vs {each(tui)})')
PYEOF
}

echo
echo "training throughput with the TUI open (every step logged, layer updates every 5 steps)"
tui_pair small_cnn 32 32 2400
