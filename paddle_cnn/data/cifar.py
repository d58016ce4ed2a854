"""CIFAR-10 from the python tarball (cifar-10-python.tar.gz: pickled batches), as paddle.vision.datasets.Cifar10
reads it. The batches are unpickled with an allow-list (numpy arrays, lists, dicts, bytes, numbers only), so a
crafted tarball cannot run code."""
from __future__ import annotations

import io
import os
import pickle
import tarfile
import zlib

import numpy as np

from paddle_cnn.data.common import DataError, DataMissing, ImageSet, download, md5sum, open_gunzip, regular_file
from paddle_cnn.data.validate import MAX_ARCHIVE_BYTES, MAX_FILE_BYTES

TARBALL = "cifar-10-python.tar.gz"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


TRAIN_MEMBERS = tuple(f"data_batch_{i}" for i in range(1, 6))  # the tarball's batches, by their exact names
TEST_MEMBERS = ("test_batch",)


def _paddle_url():
    from paddle.vision.datasets import cifar
    return cifar.CIFAR10_URL, cifar.CIFAR10_MD5


class _SafeUnpickler(pickle.Unpickler):
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "bytes"), ("__builtin__", "bytes"),
               ("_codecs", "encode")}  # __builtin__.bytes: how protocol 2 pickles an empty bytes (an empty array)

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(blob: bytes, where: str) -> dict:
    try:
        batch = _SafeUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as e:
        raise DataError(f"{where} is not a CIFAR batch ({e})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{where} is not a CIFAR batch (a pickled {type(batch).__name__}, not a dict); not the "
                        "CIFAR-10 python version: delete it and download it again")
    return batch


def _batch_arrays(batch: dict, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(images N x 3 x 32 x 32 uint8, labels N) of one unpickled batch, as the real batches hold them (uint8
    rows of 3072 bytes, a list of N integer labels); DataError naming the member otherwise (no silent cast)."""
    again = "not the CIFAR-10 python version: delete the tarball and download it again"
    missing = [k.decode() for k in (b"data", b"labels") if k not in batch]
    if missing:
        raise DataError(f"{where}: the batch has no '{missing[0]}' entry; {again}")
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        kind = f"{data.dtype} array" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{where}: 'data' is a {kind}, not uint8 pixels (converting would change the images); "
                        f"{again}")
    if data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{where}: 'data' of shape {data.shape} is not N x 3072 (N images of 3 x 32 x 32); {again}")
    images = data.reshape(-1, 3, 32, 32)
    try:
        labels = np.asarray(labels) if len(labels) else np.zeros(0, np.int64)
    except Exception:
        labels = np.asarray([None])
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(images):
        raise DataError(f"{where}: 'labels' ({labels.dtype} of shape {labels.shape}) is not one integer per image "
                        f"for its {len(images)} images; {again}")
    bad = np.flatnonzero((labels < 0) | (labels >= len(CLASSES)))
    if len(bad):
        i = int(bad[0])
        raise DataError(f"{where}: image {i} has label {int(labels[i])}, outside the {len(CLASSES)} classes of "
                        f"CIFAR-10 (0..{len(CLASSES) - 1}); fix or delete that entry, or {again.split(': ')[1]}")
    return images, labels.astype(np.int64)


def load_cifar10(data_dir: str, split: str, download_missing: bool = False) -> ImageSet:
    path = os.path.join(data_dir, TARBALL)
    if not os.path.lexists(path):
        if not download_missing:
            raise DataMissing(f"{path} is missing; run `paddle-cnn data cifar10` to download it, or copy the "
                              f"CIFAR-10 python tarball ({TARBALL}) there")
        url, md5 = _paddle_url()
        download(url, path, md5, hint=f"copy the CIFAR-10 python tarball ({TARBALL}) to {data_dir}")
    regular_file(path)
    wanted = "data_batch" if split == "train" else "test_batch"
    members = TRAIN_MEMBERS if split == "train" else TEST_MEMBERS
    xs, ys, names = [], [], []
    try:  # streamed: members in order, decompression bounded in all and per member
        with open_gunzip(path, MAX_ARCHIVE_BYTES) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
            for member in tar:
                base = os.path.basename(member.name)
                if member.isfile() and base.startswith(("data_batch", "test_batch")) and base not in \
                        TRAIN_MEMBERS + TEST_MEMBERS:  # a copy of the test batch would be trained on
                    raise DataError(f"{path}:{member.name} is not one of the CIFAR-10 python tarball's batches "
                                    f"({', '.join(TRAIN_MEMBERS + TEST_MEMBERS)}); delete the tarball and "
                                    "download it again")
                if member.isfile() and base in members:
                    if base in names:
                        raise DataError(f"{path} holds {base} twice; delete the tarball and download it again")
                    where = f"{path}:{member.name}"
                    if member.size > MAX_FILE_BYTES:
                        raise DataError(f"{where} claims {member.size:,} bytes, more than the {MAX_FILE_BYTES:,} "
                                        "allowed per member (a real batch has 31 MB; see data/README.md, Limits); "
                                        "delete the tarball and download it again")
                    x, y = _batch_arrays(_unpickle(tar.extractfile(member).read(), where), where)
                    xs.append(x)
                    ys.append(y)
                    names.append(os.path.basename(member.name))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DataError(f"{path} is corrupt or truncated ({e}); delete it and download it again") from None
    if not xs:
        raise DataError(f"{path} holds no {wanted}* files; is it the CIFAR-10 python version?")
    if sorted(names) != sorted(members):
        missing = sorted(set(members) - set(names))
        raise DataError(f"{path} lacks {', '.join(missing)} of the CIFAR-10 python tarball; delete it and download "
                        "it again")
    return ImageSet(np.concatenate(xs), np.concatenate(ys), CLASSES, f"cifar10/{split}", MEAN, STD,
                    f"{path} ({', '.join(names)})")


def verify_cifar10(data_dir: str) -> list[str]:
    path = os.path.join(data_dir, TARBALL)
    if os.path.exists(path) and md5sum(path) != _paddle_url()[1]:
        return [f"{path} has the wrong checksum (corrupt, truncated or another version); delete it and "
                "download it again"]
    return []
