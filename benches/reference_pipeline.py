"""PyTorch reference for the image-pipeline section of `make bench`: the usual
torchvision-style training pipeline, written with PIL since torchvision is not installed
(RandomResizedCrop(224, scale=(0.35, 1)) -> RandomHorizontalFlip -> ToTensor -> Normalize,
the transforms of reference_epoch.py), each JPEG decoded on every epoch by DataLoader
workers. Each batch is summed, as rifle-tui's `bench --data-only` does, so both force the
same work. Prints one JSON line with every
epoch's images per second (epoch 1 includes starting the workers and a cold page cache
where there is one)."""
import argparse
import json
import os
import time

import torch
from torch.utils.data import DataLoader

from reference_epoch import ImageFolder  # benches/, next to this script


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, help="the training split: one folder per class")
    ap.add_argument("--scale-min", type=float, default=0.35)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    a = ap.parse_args()

    torch.manual_seed(0)
    data = ImageFolder(a.root, a.size, (a.scale_min, 1.0))
    loader = DataLoader(data, batch_size=a.batch, shuffle=True, num_workers=a.workers)
    epochs = []
    for epoch in range(1, a.epochs + 1):
        start = time.perf_counter()
        images, total = 0, torch.zeros(())
        for x, y in loader:
            images += y.shape[0]
            total += x.sum()
        checksum = total.item()
        seconds = time.perf_counter() - start
        epochs.append({"epoch": epoch, "images": images, "seconds": seconds,
                       "images_per_sec": images / seconds, "checksum": checksum})
    print(json.dumps({
        "impl": "pytorch DataLoader + PIL",
        "torch": torch.__version__,
        "workers": a.workers,
        "batch": a.batch,
        "size": a.size,
        "scale_min": a.scale_min,
        "train_images": len(data),
        "epochs": epochs,
    }))


if __name__ == "__main__":
    main()
