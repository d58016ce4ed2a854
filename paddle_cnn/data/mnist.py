"""MNIST in its idx.gz files: the full set (paddle.vision.datasets.MNIST's files and URLs) and the embedded
5,000-digit subset data/mnist-5k (same format and file names; see data/README.md)."""
from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

from paddle_cnn.data.common import DataError, ImageSet, download, gunzip, md5sum

FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
MEAN, STD = (0.1307,), (0.3081,)  # the usual MNIST statistics, in [0, 1] units


def _paddle_urls() -> dict:
    """File name -> (url, md5), from paddle.vision.datasets.MNIST (the download paddle itself would do)."""
    from paddle.vision.datasets import MNIST as P
    return {os.path.basename(u): (u, m) for u, m in ((P.TRAIN_IMAGE_URL, P.TRAIN_IMAGE_MD5),
                                                      (P.TRAIN_LABEL_URL, P.TRAIN_LABEL_MD5),
                                                      (P.TEST_IMAGE_URL, P.TEST_IMAGE_MD5),
                                                      (P.TEST_LABEL_URL, P.TEST_LABEL_MD5))}


def write_idx(path: str, array: np.ndarray) -> None:
    """Write unsigned bytes in the idx format: magic (0x0000, type 0x08, ndim), big-endian int32 dims, the bytes;
    gzip-compressed when path ends in .gz, with mtime 0 so the file is byte-for-byte reproducible."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    blob = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    if path.endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
            f.write(blob)
    else:
        with open(path, "wb") as f:
            f.write(blob)


def read_idx(path: str) -> np.ndarray:
    """Parse an idx(.gz) file of unsigned bytes; DataError for a missing, truncated or malformed file."""
    if not os.path.exists(path):
        raise DataError(f"{path} is missing")
    try:
        if path.endswith(".gz"):
            raw = gunzip(path)
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is corrupt or truncated ({e}); delete it and download it again") from None
    if len(raw) < 4:
        raise DataError(f"{path} is not an idx file (only {len(raw)} bytes); delete it and download it again")
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08 or not 1 <= ndim <= 4:
        raise DataError(f"{path} is not an idx file of unsigned bytes (header {raw[:4].hex()})")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path} is truncated: header says {dims}, found {data.size} bytes of data; "
                        "delete it and download it again")
    return data.reshape(dims)


def load_mnist(folder: str, split: str, name: str = "mnist", download_missing: bool = False) -> ImageSet:
    img_file, lbl_file = FILES[split]
    paths = []
    for fname in (img_file, lbl_file):
        path = os.path.join(folder, fname)
        if not os.path.exists(path):
            if not download_missing:
                raise DataError(f"{path} is missing; run `paddle-cnn data {name}` to download it, or copy "
                                f"MNIST's {fname} there")
            url, md5 = _paddle_urls()[fname]
            download(url, path, md5, hint=f"copy MNIST's {fname} to {folder}")
        paths.append(path)
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{folder}: {img_file} {images.shape} and {lbl_file} {labels.shape} do not match")
    return ImageSet(images[:, None], labels, [str(i) for i in range(10)], f"{name}/{split}", MEAN, STD)


def verify_full_mnist(folder: str) -> list[str]:
    """md5 of each present full-MNIST file against paddle's; returns the problems found."""
    problems = []
    for fname, (_, md5) in _paddle_urls().items():
        path = os.path.join(folder, fname)
        if os.path.exists(path) and md5sum(path) != md5:
            problems.append(f"{path} has the wrong checksum (corrupt or truncated); delete it and download again")
    return problems
