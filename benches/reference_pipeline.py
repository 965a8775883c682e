"""PyTorch reference for the image-pipeline section of `make bench`: the usual
torchvision-style training pipeline, written with PIL since torchvision is not installed
(Resize(256) -> RandomCrop(224) -> RandomHorizontalFlip -> ToTensor -> Normalize), each
JPEG decoded on every epoch by DataLoader workers. Each batch is summed, as rifle-tui's
`bench --data-only` does, so both force the same work. Prints one JSON line with every
epoch's images per second (epoch 1 includes starting the workers and a cold page cache
where there is one)."""
import argparse
import json
import os
import random
import time

import torch
from torch.utils.data import DataLoader, Dataset

try:
    from PIL import Image
except ImportError:  # `make bench` installs Pillow into the venv (Makefile, $(MODELS))
    raise SystemExit("reference_pipeline.py: Pillow (PIL) is not installed in this environment")

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class ImageFolder(Dataset):
    """torchvision's ImageFolder layout: one sub-folder per class, sorted."""

    def __init__(self, root, resize, crop):
        self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.files = []
        for label, c in enumerate(self.classes):
            folder = os.path.join(root, c)
            for name in sorted(os.listdir(folder)):
                if name.lower().endswith(EXTENSIONS):
                    self.files.append((os.path.join(folder, name), label))
        self.resize, self.crop = resize, crop

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        path, label = self.files[i]
        with open(path, "rb") as f:
            img = Image.open(f).convert("RGB")
        # Resize(256): the shorter side to 256, bilinear (PIL's filter, antialiased).
        w, h = img.size
        if w <= h:
            size = (self.resize, int(self.resize * h / w))
        else:
            size = (int(self.resize * w / h), self.resize)
        img = img.resize(size, Image.BILINEAR)
        # RandomCrop(224)
        w, h = img.size
        x = random.randint(0, w - self.crop)
        y = random.randint(0, h - self.crop)
        img = img.crop((x, y, x + self.crop, y + self.crop))
        # RandomHorizontalFlip()
        if random.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        # ToTensor() without numpy (the venv has none), then Normalize(ImageNet).
        t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
        t = t.view(self.crop, self.crop, 3).permute(2, 0, 1).float().div(255.0)
        return (t - MEAN) / STD, label


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, help="the training split: one folder per class")
    ap.add_argument("--resize", type=int, default=256)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    a = ap.parse_args()

    torch.manual_seed(0)
    data = ImageFolder(a.root, a.resize, a.size)
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
        "resize": a.resize,
        "train_images": len(data),
        "epochs": epochs,
    }))


if __name__ == "__main__":
    main()
