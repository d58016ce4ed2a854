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

from paddle_cnn.data.common import DataError, ImageSet, download, gunzip, gzip_unsafe, md5sum

TARBALL = "cifar-10-python.tar.gz"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def _paddle_url():
    from paddle.vision.datasets import cifar
    return cifar.CIFAR10_URL, cifar.CIFAR10_MD5


class _SafeUnpickler(pickle.Unpickler):
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "bytes"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(blob: bytes, where: str) -> dict:
    try:
        return _SafeUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as e:
        raise DataError(f"{where} is not a CIFAR batch ({e})") from None


def load_cifar10(data_dir: str, split: str, download_missing: bool = False) -> ImageSet:
    path = os.path.join(data_dir, TARBALL)
    if not os.path.exists(path):
        if not download_missing:
            raise DataError(f"{path} is missing; run `paddle-cnn data cifar10` to download it, or copy the "
                            f"CIFAR-10 python tarball ({TARBALL}) there")
        url, md5 = _paddle_url()
        download(url, path, md5, hint=f"copy the CIFAR-10 python tarball ({TARBALL}) to {data_dir}")
    wanted = "data_batch" if split == "train" else "test_batch"
    xs, ys = [], []
    try:
        with (tarfile.open(fileobj=io.BytesIO(gunzip(path)), mode="r:") if gzip_unsafe()
              else tarfile.open(path, "r:gz")) as tar:
            for member in tar:
                if member.isfile() and wanted in os.path.basename(member.name):
                    batch = _unpickle(tar.extractfile(member).read(), f"{path}:{member.name}")
                    xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                    ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DataError(f"{path} is corrupt or truncated ({e}); delete it and download it again") from None
    except KeyError as e:
        raise DataError(f"{path}: a batch has no {e} entry; not the CIFAR-10 python version") from None
    if not xs:
        raise DataError(f"{path} holds no {wanted}* files; is it the CIFAR-10 python version?")
    return ImageSet(np.concatenate(xs), np.concatenate(ys), CLASSES, f"cifar10/{split}", MEAN, STD)


def verify_cifar10(data_dir: str) -> list[str]:
    path = os.path.join(data_dir, TARBALL)
    if os.path.exists(path) and md5sum(path) != _paddle_url()[1]:
        return [f"{path} has the wrong checksum (corrupt, truncated or another version); delete it and "
                "download it again"]
    return []
