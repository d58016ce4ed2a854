"""What every data set shares: the in-memory ImageSet, one-line DataError, checksums and a download that
cannot hang."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field

import numpy as np

DOWNLOAD_TIMEOUT_S = 10  # per network operation; offline machines fail in seconds, never hang


class DataError(ValueError):
    """Missing, corrupt or malformed data; the message is one line naming the file and the fix."""


def gzip_unsafe() -> bool:
    """Whether gzip would crash this process: paddle 2.x imported before this package binds CPython's zlib to
    paddle's bundled zlib, and a gzip read then ends in a segmentation fault (inflateReset2)."""
    import sys

    import paddle_cnn
    paddle = sys.modules.get("paddle")
    return paddle_cnn.PADDLE_FIRST and paddle is not None and str(paddle.__version__).split(".")[0] == "2"


def gunzip(path: str) -> bytes:
    """A gzip file's contents; in a process where gzip would crash (gzip_unsafe), read by a fresh Python."""
    import gzip
    import subprocess
    import sys
    if not gzip_unsafe():
        with gzip.open(path, "rb") as f:
            return f.read()
    code = "import gzip, sys; sys.stdout.buffer.write(gzip.open(sys.argv[1], 'rb').read())"
    proc = subprocess.run([sys.executable, "-c", code, path], capture_output=True)
    if proc.returncode:
        why = (proc.stderr.decode(errors="replace").strip().splitlines() or ["unreadable"])[-1]
        raise OSError(why)
    return proc.stdout


def label_range_error(name: str, index: int, label: int, outputs: int) -> DataError:
    return DataError(f"{name} sample {index}: label {label} is not a class of a model with {outputs} outputs; "
                     f"labels must be 0..{outputs - 1} (or build the model with num_classes={label + 1})")


@dataclass
class ImageSet:
    """A whole split in memory: images N x C x H x W and int64 labels N. The data sets here are uint8; images
    handed to fit as floats (a paddle transform's output) stay float32, mean and std then in their own units."""
    images: np.ndarray
    labels: np.ndarray
    classes: list
    name: str = ""
    mean: tuple = field(default=(0.5,))  # per channel, in [0, 1] pixel units, for normalisation
    std: tuple = field(default=(0.5,))

    def __post_init__(self):
        if self.images.dtype not in (np.uint8, np.float32) or self.images.ndim != 4:
            raise DataError(f"{self.name}: images must be uint8 (or float32) N x C x H x W, got {self.images.dtype} "
                            f"{self.images.shape}")
        if len(self.images) != len(self.labels):
            raise DataError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")
        self.labels = self.labels.astype(np.int64)

    def __len__(self):
        return len(self.labels)

    @property
    def shape(self) -> tuple:
        return tuple(self.images.shape[1:])

    def subset(self, n: int | None, seed: int = 0) -> "ImageSet":
        """A stratified, deterministic subset of about n images (all of them when n is None or too large)."""
        if n is None or n >= len(self):
            return self
        rng = np.random.RandomState(seed)
        picks = []
        classes = np.unique(self.labels)
        per = max(1, n // len(classes))
        for c in classes:
            idx = np.flatnonzero(self.labels == c)
            picks.append(rng.permutation(idx)[:per])
        idx = np.sort(np.concatenate(picks))[:n]
        return ImageSet(self.images[idx], self.labels[idx], self.classes, self.name, self.mean, self.std)


def md5sum(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: str, md5: str | None = None, hint: str = "") -> str:
    """Fetch url to dest atomically (temporary file + rename), check md5; DataError in one line on failure."""
    os.makedirs(os.path.dirname(os.path.abspath(dest)) or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(dest)), suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r:
            shutil.copyfileobj(r, out)
        if md5 and md5sum(tmp) != md5:
            raise DataError(f"download of {url} is corrupt (md5 mismatch); delete {dest} and retry")
        os.replace(tmp, dest)
        return dest
    except DataError:
        raise
    except Exception as e:
        reason = getattr(e, "reason", None) or e
        raise DataError(f"{dest} is missing and could not be downloaded from {url} ({reason}); "
                        f"{hint or 'place the file there by hand'}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
