#!/usr/bin/python3
"""Trains hone's demo image classifier: a small CNN on scikit-learn's bundled digits data
(8x8 grey images of handwritten digits, 1797 samples, shipped inside Debian's python3-sklearn;
nothing is downloaded), and exports it to ONNX.

usage: /usr/bin/python3 tools/zoo/make_digits.py [OUTDIR]   (default OUTDIR: models)

Writes
  OUTDIR/digits_cnn.onnx     input `input` float32 [batch, 1, 8, 8] (pixels / 16, so in [0, 1]),
                             output `logits` float32 [batch, 10]; opset 17
  OUTDIR/digits_test.npz     the held-out test split: `input` [N, 1, 8, 8] float32, `labels` [N] int64
  OUTDIR/digits_calib.npz    128 samples of the *training* split (`input`, `labels`): the
                             calibration data `hone demo` uses for static quantization, so that
                             the test split is never seen while quantizing
and prints the fp32 test accuracy measured in PyTorch (`hone eval` measures the exported file).
Deterministic: fixed seeds, one thread.
"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0
OPSET = 17
TEST_FRACTION = 0.2
CALIB_SAMPLES = 128
EPOCHS = 40


class DigitsCNN(nn.Module):
    """conv3x3(16) relu, conv3x3(32) relu, maxpool2, fc(512->64) relu, fc(64->10): ~38k parameters."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "models"
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # the build machine is shared; one thread trains this in seconds
    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=SEED, stratify=y)

    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    gen = torch.Generator().manual_seed(SEED)
    t0 = time.time()
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 32):
            idx = perm[i:i + 32]
            xb = xt[idx]
            # Small random shifts (one pixel) make the net robust to the digits' placement.
            dx, dy = torch.randint(-1, 2, (2,), generator=gen).tolist()
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = nn.functional.cross_entropy(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
    print(f"digits_cnn: trained {EPOCHS} epochs in {time.time() - t0:.1f} s; "
          f"train {len(x_train)}, test {len(x_test)}; fp32 test accuracy {acc * 100:.2f} %")
    if acc < 0.97:
        print("make_digits: error: test accuracy below 97 %", file=sys.stderr)
        sys.exit(1)

    path = os.path.join(out, "digits_cnn.onnx")
    torch.onnx.export(model, torch.from_numpy(x_test[:1]), path, opset_version=OPSET,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    np.savez(os.path.join(out, "digits_test.npz"), input=x_test, labels=y_test)
    rng = np.random.default_rng(SEED)
    calib = rng.choice(len(x_train), CALIB_SAMPLES, replace=False)
    np.savez(os.path.join(out, "digits_calib.npz"), input=x_train[calib], labels=y_train[calib])

    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    print(f"digits_cnn: wrote {path} ({os.path.getsize(path)} bytes); "
          f"ops {sorted({n.op_type for n in m.graph.node})}")


if __name__ == "__main__":
    main()
