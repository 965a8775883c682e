"""PyTorch eager reference for `make bench`: the same model, batch, image size, thread
count and augmentation as rifle-tui's engine, timed the same way (training steps of the
epochs after the first, evaluation excluded). Prints one JSON line."""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def small_cnn(classes):
    layers = []
    widths = [(3, 16), (16, 32), (32, 48), (48, 64)]
    for i, (ci, co) in enumerate(widths):
        layers += [nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU(inplace=True)]
        if i % 2 == 1:
            layers.append(nn.MaxPool2d(2))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes)]
    return nn.Sequential(*layers)


def resnet(arch, classes):
    import importlib.util
    if importlib.util.find_spec("torchvision") is None:
        raise SystemExit(f"{arch}: torchvision is not installed in this environment")
    import torchvision
    return getattr(torchvision.models, arch)(num_classes=classes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="small_cnn")
    ap.add_argument("--classes", type=int, default=6)
    ap.add_argument("--images", type=int, default=2400)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--channels-last", action="store_true",
                    help="weights and batches in NHWC, as rifle-tui's train.channels_last")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = small_cnn(a.classes) if a.arch == "small_cnn" else resnet(a.arch, a.classes)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    images = torch.randint(0, 256, (a.images, 3, a.size, a.size), dtype=torch.uint8)
    labels = torch.randint(0, a.classes, (a.images,))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    timed_images, timed_seconds = 0, 0.0
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(a.images)
        window_loss, window_images = torch.zeros(()), 0
        start = time.perf_counter()
        for i in range(0, a.images - 1, a.batch):
            idx = perm[i:i + a.batch]
            x = images[idx]
            flip = torch.rand(x.shape[0], 1, 1, 1) < 0.5
            x = torch.where(flip, x.flip(3), x)
            x = ((x.float() / 255.0 - mean) / std).contiguous(memory_format=fmt)
            y = labels[idx]
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            window_loss += loss.detach()
            window_images += x.shape[0]
            if (i // a.batch + 1) % a.log_every == 0:
                window_loss.item()  # the engine syncs once a logging window too
                window_loss = torch.zeros(())
        window_loss.item()
        seconds = time.perf_counter() - start
        if epoch > 0:
            timed_images += a.images
            timed_seconds += seconds
    print(json.dumps({
        "impl": "pytorch-eager",
        "arch": a.arch,
        "torch": torch.__version__,
        "threads": a.threads,
        "batch": a.batch,
        "size": a.size,
        "images_per_sec": timed_images / timed_seconds,
    }))


if __name__ == "__main__":
    main()
