"""Batches for training: a split resident on the training device (one uint8 tensor, batches by index; no
per-sample Python in the training loop), with normalisation and augmentation done per batch on the device
(`Batches`, shared with the streaming source in data/stream.py).

Randomness (order, crops, flips) comes from a numpy RandomState the caller seeds per epoch, so a resumed run
draws exactly what an uninterrupted one would.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F

from paddle_cnn.data.common import ImageSet

AUGMENTATIONS = ("crop", "flip", "grayscale")


class Batches:
    """What every source of training batches shares: normalisation (per-channel mean/std in the images' own
    units: fractions of 255 for uint8 images, as they are for float32 ones), channel adaptation, resizing and the
    seeded augmentation, all per batch on the device. Subclasses say where the images come from (`iterate`)."""

    def __init__(self, name: str, classes, stored_shape: tuple, dtype, mean, std, *, size=None, channels=None,
                 augment=(), pad: int = 4, grayscale_p: float = 0.1):
        unknown = set(augment) - set(AUGMENTATIONS)
        if unknown:
            raise ValueError(f"unknown augmentation {sorted(unknown)}; choose from {', '.join(AUGMENTATIONS)}")
        self.name, self.classes, self.stored_shape = name, classes, tuple(int(v) for v in stored_shape)
        c = self.stored_shape[0]
        scale = 255.0 if np.dtype(dtype) == np.uint8 else 1.0
        self.mean = np.resize(np.asarray(mean, np.float32), c)
        self.std = np.resize(np.asarray(std, np.float32), c)
        self._mean = paddle.to_tensor((self.mean * scale).reshape(1, c, 1, 1))
        self._std = paddle.to_tensor((self.std * scale).reshape(1, c, 1, 1))
        self.size = (size, size) if isinstance(size, int) else (tuple(size) if size else None)
        self.channels = channels or c
        self.augment, self.pad, self.grayscale_p = tuple(augment), pad, grayscale_p

    def __len__(self):
        raise NotImplementedError

    @property
    def sample_shape(self) -> tuple:
        h, w = self.size or self.stored_shape[1:]
        return self.channels, int(h), int(w)

    def iterate(self, batches, rng: np.random.RandomState | None = None, train: bool = False):
        """(images, labels) of each batch of indices in turn, ready for the model."""
        raise NotImplementedError

    def check_labels(self, outputs: int) -> None:
        """Every label must be a class the model predicts (0..outputs-1); DataError naming the first that is not."""
        raise NotImplementedError

    def prepare(self, x, y, rng: np.random.RandomState | None = None, train: bool = False):
        """Stored images (uint8 or float32, N x C x H x W, on the device) -> normalised float32 model input."""
        x = x.astype("float32")
        if train and self.augment and rng is not None:
            x = self._augment(x, rng)
        x = (x - self._mean) / self._std
        if x.shape[1] != self.channels:
            x = x.mean(axis=1, keepdim=True) if self.channels == 1 else x.expand(
                [x.shape[0], self.channels, x.shape[2], x.shape[3]])
        if self.size and tuple(x.shape[2:]) != self.size:
            x = F.interpolate(x, size=list(self.size), mode="bilinear", align_corners=False)
        return x, y

    def _augment(self, x, rng):
        n, c, h, w = x.shape
        if "crop" in self.augment:  # random crop of the zero-padded image, a different offset per image
            p = self.pad
            xp = F.pad(x, [p, p, p, p])
            dy = rng.randint(0, 2 * p + 1, size=n)
            dx = rng.randint(0, 2 * p + 1, size=n)
            rows = paddle.to_tensor((dy[:, None] + np.arange(h)[None]).astype(np.int64)).reshape([n, 1, h, 1])
            x = paddle.take_along_axis(xp, rows.expand([n, c, h, w + 2 * p]), axis=2)
            cols = paddle.to_tensor((dx[:, None] + np.arange(w)[None]).astype(np.int64)).reshape([n, 1, 1, w])
            x = paddle.take_along_axis(x, cols.expand([n, c, h, w]), axis=3)
        if "flip" in self.augment:
            flip = paddle.to_tensor(rng.rand(n) < 0.5).reshape([n, 1, 1, 1])
            x = paddle.where(flip, x.flip(axis=[3]), x)
        if "grayscale" in self.augment and c == 3:
            gray = paddle.to_tensor(rng.rand(n) < self.grayscale_p).reshape([n, 1, 1, 1])
            lum = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand([n, 3, h, w])
            x = paddle.where(gray, lum, x)
        return x



class DeviceData(Batches):
    """A whole split resident on the training device as one tensor (uint8, or float32 for data handed over as
    floats); a batch is an index gather."""

    def __init__(self, data: ImageSet, **kw):
        super().__init__(data.name, data.classes, data.images.shape[1:], data.images.dtype, data.mean, data.std,
                         **kw)
        self.images = paddle.to_tensor(data.images)  # N x C x H x W, on the current device
        self.labels = paddle.to_tensor(data.labels)

    def __len__(self):
        return int(self.labels.shape[0])

    def batch(self, idx: np.ndarray, rng: np.random.RandomState | None = None, train: bool = False):
        """(float32 N x C x H x W normalised images, int64 labels) for the given indices."""
        ids = paddle.to_tensor(np.asarray(idx, dtype=np.int64))
        return self.prepare(paddle.gather(self.images, ids), paddle.gather(self.labels, ids), rng, train)

    def iterate(self, batches, rng=None, train=False):
        for idx in batches:
            yield self.batch(idx, rng, train)

    def check_labels(self, outputs: int) -> None:
        from paddle_cnn.data.common import label_range_error
        labels = self.labels.numpy()
        bad = np.flatnonzero((labels < 0) | (labels >= outputs))
        if len(bad):
            raise label_range_error(self.name or "the data", int(bad[0]), int(labels[bad[0]]), outputs)


def epoch_order(n: int, batch_size: int, rng: np.random.RandomState | None, rank: int = 0, world: int = 1,
                limit: int | None = None) -> list[np.ndarray]:
    """Index batches of one epoch: a permutation (or 0..n-1 without rng) cut into global batches; under data
    parallelism rank r takes every world-th index of each global batch. limit: at most that many batches."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if limit:
        batches = batches[:limit]
    return [b[rank::world] for b in batches] if world > 1 else batches
