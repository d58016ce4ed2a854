"""What every data set shares: the in-memory ImageSet, one-line DataError, checksums and a download that
cannot hang."""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

DOWNLOAD_TIMEOUT_S = 10  # per network operation; offline machines fail in seconds, never hang


class DataError(ValueError):
    """Missing, corrupt or malformed data; the message is one line naming the file and the fix."""

    def _render_traceback_(self) -> list[str]:  # IPython: the line that says what to do, not our call stack
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


class DataMissing(DataError):
    """The data set's files are absent (not corrupt): the only case where the smoke profile may train on
    generated stand-ins instead."""

    def _render_traceback_(self) -> list[str]:
        return super()._render_traceback_() + [
            "In a notebook: PROFILE = \"smoke\" in the parameters cell runs it in seconds on generated files in the "
            "real format (a check of the code, no real numbers)."]


def regular_file(path: str, what: str = "", max_bytes: int | None = None, missing=DataMissing) -> int:
    """Size of `path` when it is a regular file (not a FIFO, device or folder, which could hang a read or never
    end) of at most max_bytes; DataError (`missing` when it does not exist) in one line otherwise."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise missing(f"{path} is missing{'; ' + what if what else ''}") from None
    except OSError as e:
        raise DataError(f"{path} cannot be read ({e.strerror or e}); check its permissions") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                else "a device or socket")
        raise DataError(f"{path} is {kind}, not a regular file; replace it with the real file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise DataError(f"{path} has {st.st_size:,} bytes, more than the {max_bytes:,} allowed for it (see "
                        "data/README.md, Limits); is it the right file?")
    return st.st_size


def gzip_unsafe() -> bool:
    """Whether gzip would crash this process: paddle 2.x imported before this package binds CPython's zlib to
    paddle's bundled zlib, and a gzip read then ends in a segmentation fault (inflateReset2)."""
    import sys

    import paddle_cnn
    paddle = sys.modules.get("paddle")
    return paddle_cnn.PADDLE_FIRST and paddle is not None and str(paddle.__version__).split(".")[0] == "2"


class _Bounded:
    """A binary reader that refuses (DataError) once more than `limit` bytes have come out of it, so a
    decompression bomb stops at the bound instead of filling the memory."""

    def __init__(self, f, limit: int, path: str, at_eof=None):
        self.f, self.limit, self.path, self.at_eof, self.count = f, limit, path, at_eof, 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:  # all of it, in chunks (a reader may allocate the whole size asked for at once)
            chunks = []
            while chunk := self.read(1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        want = min(n, self.limit + 1 - self.count)
        data = self.f.read(want) if want > 0 else b""
        self.count += len(data)
        if self.count > self.limit:
            raise DataError(f"{self.path} decompresses to more than {self.limit:,} bytes, the bound for this file "
                            "(see data/README.md, Limits); it is not the real file: delete it and download it again")
        if len(data) < want and self.at_eof:
            self.at_eof()
        return data


@contextmanager
def open_gunzip(path: str, limit: int):
    """A gzip file's decompressed bytes as a stream that refuses to give more than `limit` bytes; in a process
    where gzip would crash (gzip_unsafe), decompressed by a fresh Python through a pipe (also streamed)."""
    import gzip
    import subprocess
    import sys
    if not gzip_unsafe():
        with gzip.open(path, "rb") as f:
            yield _Bounded(f, limit, path)
        return
    code = ("import gzip, shutil, sys\n"
            "with gzip.open(sys.argv[1], 'rb') as f: shutil.copyfileobj(f, sys.stdout.buffer, 1 << 20)")
    proc = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def at_eof():
        if proc.wait():
            why = (proc.stderr.read().decode(errors="replace").strip().splitlines() or ["unreadable"])[-1]
            raise OSError(why)
    try:
        yield _Bounded(proc.stdout, limit, path, at_eof)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def gunzip(path: str, max_size: int | None = None) -> bytes:
    """A gzip file's contents (DataError past max_size bytes; unbounded when None); in a process where gzip
    would crash (gzip_unsafe), read by a fresh Python."""
    with open_gunzip(path, max_size if max_size is not None else 1 << 62) as f:
        return f.read()


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
    source: str = ""  # the file(s) it was read from, named by messages about it
    own_split: bool = True  # the split is the data set's own (official, or its list files), not one drawn here

    def __post_init__(self):
        where = self.source or self.name or "the image set"
        if self.images.dtype not in (np.uint8, np.float32) or self.images.ndim != 4:
            raise DataError(f"{where}: images must be uint8 (or float32) N x C x H x W, got {self.images.dtype} "
                            f"{self.images.shape}")
        labels = np.asarray(self.labels)
        if len(self.images) != len(labels) or labels.ndim != 1:
            raise DataError(f"{where}: {len(self.images)} images but labels of shape {labels.shape}; give one "
                            "label per image")
        if len(labels) == 0:
            raise DataError(f"{where}: the {self.name or 'image'} set is empty (no images); "
                            f"{'get the real files again' if self.source else 'give at least one image'}")
        if labels.dtype.kind not in "iu":
            raise DataError(f"{where}: labels are {labels.dtype}, not integers; give class indices 0..classes-1")
        if labels.min() < 0:
            i = int(np.argmin(labels))
            raise DataError(f"{where}: image {i} has the negative label {int(labels[i])}; labels are class indices "
                            "0..classes-1")
        self.labels = labels.astype(np.int64)

    def __len__(self):
        return len(self.labels)

    def __repr__(self) -> str:  # print(load_dataset(...)["train"]): what it is, not its pixels
        classes = ", ".join(map(str, self.classes[:4])) + (", ..." if len(self.classes) > 4 else "")
        return (f"ImageSet({self.name or 'images'}: {len(self):,} images {'x'.join(map(str, self.shape))} "
                f"{self.images.dtype}, {len(self.classes)} classes [{classes}]"
                + (f", from {self.source}" if self.source else "") + ")")

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
        return ImageSet(self.images[idx], self.labels[idx], self.classes, self.name, self.mean, self.std,
                        self.source, self.own_split)


def data_digest(splits: dict) -> str:
    """A short hash of the data a run reads, as decoded (every split's images, labels and class names): files
    replaced under data/ give another digest, and so another plan. Hashes about 1 GB/s."""
    h = hashlib.sha256()
    for name in sorted(splits):
        s = splits[name]
        images, labels = np.ascontiguousarray(s.images), np.ascontiguousarray(s.labels, dtype=np.int64)
        h.update(f"{name} {images.dtype.str} {images.shape} {[str(c) for c in s.classes]}\n".encode("utf-8"))
        h.update(memoryview(images).cast("B"))
        h.update(memoryview(labels).cast("B"))
    return h.hexdigest()[:16]


def md5sum(path: str) -> str:
    regular_file(path, missing=DataError)  # a FIFO would hang the read
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _absent_folders(folder: str) -> list[str]:
    """The folders os.makedirs(folder) would create, outermost first."""
    absent, f = [], os.path.abspath(folder)
    while not os.path.isdir(f) and os.path.dirname(f) != f:
        absent.append(f)
        f = os.path.dirname(f)
    return absent[::-1]


def download(url: str, dest: str, md5: str | None = None, hint: str = "") -> str:
    """Fetch url to dest atomically (temporary file + rename), check md5; DataError in one line on failure (the
    folders it made for dest removed again: a failed download leaves nothing behind)."""
    folder = os.path.dirname(os.path.abspath(dest)) or "."
    made, tmp = [], None
    try:
        made = _absent_folders(folder)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r:
            shutil.copyfileobj(r, out)
        if md5 and md5sum(tmp) != md5:
            raise DataError(f"download of {url} is corrupt (md5 mismatch); delete {dest} and retry")
        os.replace(tmp, dest)
        made = []
        return dest
    except DataError:
        raise
    except Exception as e:
        reason = getattr(e, "reason", None) or e
        raise DataMissing(f"{dest} is missing and could not be downloaded from {url} ({reason}); "
                          f"{hint or 'place the file there by hand'}") from None
    finally:
        if tmp and os.path.exists(tmp):
            os.remove(tmp)
        for f in reversed(made):
            try:
                os.rmdir(f)
            except OSError:
                break
