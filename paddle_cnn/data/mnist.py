"""MNIST in its idx.gz files: the full set (paddle.vision.datasets.MNIST's files and URLs) and the embedded
5,000-digit subset data/mnist-5k (same format and file names; see data/README.md)."""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy as np

from paddle_cnn.data.common import DataError, DataMissing, ImageSet, download, md5sum, open_gunzip, regular_file
from paddle_cnn.data.validate import MAX_FILE_BYTES

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


def read_idx(path: str, max_bytes: int = MAX_FILE_BYTES) -> np.ndarray:
    """Parse an idx(.gz) file of unsigned bytes; DataError for a missing, truncated or malformed file, or one
    whose header announces more than max_bytes of data (the header is read first: decompression stops at the
    size it announces, so a gzip bomb costs nothing)."""
    regular_file(path)
    folder = os.path.dirname(os.path.abspath(path))
    again = (f"delete {folder} to use the embedded digits (or copy the checkout's data/mnist-5k there)"
             if os.path.basename(folder) == "mnist-5k" else "delete it and download it again")
    try:
        with (open_gunzip(path, 4 + 16 + max_bytes + 1) if path.endswith(".gz") else open(path, "rb")) as f:
            head = f.read(4)
            if len(head) < 4:
                raise DataError(f"{path} is not an idx file (only {len(head)} bytes); {again}")
            zero, dtype, ndim = struct.unpack(">HBB", head)
            if zero != 0 or dtype != 0x08 or not 1 <= ndim <= 4:
                raise DataError(f"{path} is not an idx file of unsigned bytes (header {head.hex()}); {again}")
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise DataError(f"{path} is truncated: its header announces {ndim} dimensions but holds "
                                f"{len(raw_dims) // 4}; {again}")
            dims = struct.unpack(f">{ndim}I", raw_dims)
            size = math.prod(dims)
            if size > max_bytes:
                raise DataError(f"{path}: its header announces {'x'.join(map(str, dims))} bytes of data, more than "
                                f"the {max_bytes:,} allowed per file (see data/README.md, Limits); {again}")
            body = f.read(size + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is corrupt or truncated ({e}); {again}") from None
    if len(body) < size:
        raise DataError(f"{path} is truncated: header says {dims}, found {len(body)} bytes of data; {again}")
    if len(body) > size:
        raise DataError(f"{path} has more data than its header says ({'x'.join(map(str, dims))} bytes); {again}")
    return np.frombuffer(body, dtype=np.uint8, count=size).reshape(dims)


def load_mnist(folder: str, split: str, name: str = "mnist", download_missing: bool = False) -> ImageSet:
    img_file, lbl_file = FILES[split]
    absent = not any(os.path.exists(os.path.join(folder, f)) for pair in FILES.values() for f in pair)
    paths = []
    for fname in (img_file, lbl_file):
        path = os.path.join(folder, fname)
        if not os.path.lexists(path):
            if not download_missing:  # DataMissing only when the whole set is absent; a lone gap is an error
                how = (f"restore it from the checkout's data/mnist-5k, or delete {folder} to use the embedded digits"
                       if name == "mnist-5k" else
                       f"run `paddle-cnn data {name}` to download it, or copy MNIST's {fname} there")
                raise (DataMissing if absent else DataError)(f"{path} is missing; {how}")
            url, md5 = _paddle_urls()[fname]
            download(url, path, md5, hint=f"copy MNIST's {fname} to {folder}")
        paths.append(path)
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    source = f"{paths[0]} / {lbl_file}"
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{source}: images {images.shape} and labels {labels.shape} do not match (N x 28 x 28 "
                        "images, N labels); get the real files again")
    return ImageSet(images[:, None], labels, [str(i) for i in range(10)], f"{name}/{split}", MEAN, STD, source)


def verify_full_mnist(folder: str) -> list[str]:
    """md5 of each present full-MNIST file against paddle's; returns the problems found."""
    problems = []
    for fname, (_, md5) in _paddle_urls().items():
        path = os.path.join(folder, fname)
        if os.path.exists(path) and md5sum(path) != md5:
            problems.append(f"{path} has the wrong checksum (corrupt or truncated); delete it and download again")
    return problems
