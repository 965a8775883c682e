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
      --images $((per_class * classes)) --threads "$THREADS" --classes "$classes" --channels-last)")
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

echo "training throughput on the CPU (steady state: epochs 2+, evaluation excluded;"
echo "  both sides in channels-last memory format, rifle-tui's default)"
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

# The data pipeline alone, no model: rifle-tui decodes and resizes every image once into a
# uint8 cache (`load`), then makes each epoch's batches from it on the training device
# (shuffle, random resized crop + flip in one batched resample, normalise); the reference
# is the usual PyTorch pipeline, a DataLoader whose workers PIL-decode, random-resized-crop,
# flip and normalise every JPEG each epoch. Epoch 1 of rifle-tui counts its load (train and val) and upload; epoch 2+ come
# from the cache.
DATA_DIR=../shared/datasets/hymenoptera_data
echo
echo "image pipeline over $DATA_DIR at 224 px (batch 32, no model, training split)"
if [ ! -d "$DATA_DIR/train" ]; then
  echo "  skipped: $DATA_DIR is not here (ants vs bees, train/ and val/ with one folder per class)"
elif ! "$PY" -c 'import PIL' 2>/dev/null; then
  echo "  skipped: the reference needs Pillow in $PY (make bench installs it; see the Makefile)"
else
  DATA_ABS=$(cd "$DATA_DIR" && pwd)
  ours=() theirs=()
  for _ in $(seq "$REPEATS"); do
    ours+=("$("$BIN" bench --data-only profiles/hymenoptera.yaml --set data.root="$DATA_ABS" \
      --set data.image_size=224 --set data.resize=256 --set train.batch_size=32 \
      --set train.epochs=3 --set train.threads="$THREADS")")
    theirs+=("$("$PY" benches/reference_pipeline.py --root "$DATA_ABS/train" \
      --size 224 --batch 32 --epochs 2 --workers "$THREADS")")
  done
  "$PY" - "${ours[@]}" "${theirs[@]}" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[1:]]
half = len(runs) // 2
ours, theirs = runs[:half], runs[half:]
med = lambda xs: statistics.median(xs)
each = lambda xs: " ".join("%.0f" % x for x in xs)
load = [r["load_images_per_sec"] for r in ours]
o1 = [r["epochs"][0]["images_per_sec_with_load"] for r in ours]
o1b = [r["epochs"][0]["images_per_sec"] for r in ours]
o2 = [sum(e["images"] for e in r["epochs"][1:]) / sum(e["seconds"] for e in r["epochs"][1:])
      for r in ours]
t1 = [r["epochs"][0]["images_per_sec"] for r in theirs]
t2 = [r["epochs"][1]["images_per_sec"] for r in theirs]
f, g = ours[0], theirs[0]
print(f'rifle-tui load (decode + resize into the {f["stored_side"]} px uint8 cache, '
      f'{f["train_images"] + f["val_images"]} images, {f["threads"]} threads): '
      f'{med(load):7.1f} img/s   (each: {each(load)})')
print(f'rifle-tui batches on {f["device"]}: epoch 1 with the load {med(o1):7.1f} img/s '
      f'(batches alone {med(o1b):.1f})   epoch 2+ from the cache {med(o2):7.1f} img/s   '
      f'(each: {each(o1)} / {each(o2)})')
print(f'pytorch DataLoader({g["workers"]} workers) + PIL: epoch 1 {med(t1):7.1f} img/s   '
      f'epoch 2 {med(t2):7.1f} img/s   (each: {each(t1)} / {each(t2)})')
print(f'ratio rifle-tui / pytorch: epoch 1 {med(o1) / med(t1):.3f}   epoch 2 {med(o2) / med(t2):.3f}   '
      f'(median of {half}, {f["train_images"]} training images)')
PYEOF
fi

# A whole training epoch with the data path included (its own script, to run alone too).
echo
bash benches/epoch.sh
