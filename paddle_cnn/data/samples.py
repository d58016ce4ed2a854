"""One sample of a user's data set -> (image C x H x W, integer label), whatever form paddle's data sets give.

paddle.vision data sets yield (PIL image or H x W [x C] array, label array [1]); with transforms such as ToTensor
the image is a float32 C x H x W array or Tensor. A user's own Dataset may yield numpy arrays, paddle Tensors or
PIL images, channels first or last, and labels as ints, numpy scalars, 1-element arrays or Tensors.
"""
from __future__ import annotations

import numbers

import numpy as np

from paddle_cnn.data.common import DataError, label_range_error


def image_array(img, where: str) -> np.ndarray:
    """C x H x W, uint8 when the sample is uint8, else float32. Channels last (PIL images, H x W x C arrays with
    1, 3 or 4 channels last and neither first) is transposed; a 2-d image gets one channel."""
    pil = type(img).__module__.startswith("PIL.")
    if not isinstance(img, np.ndarray) and hasattr(img, "numpy"):  # a paddle Tensor
        img = img.numpy()
    a = np.asarray(img)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise DataError(f"{where}: the image is {type(img).__name__} of {a.dtype}, not numbers; give a PIL image, "
                        "an array or a Tensor")
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        raise DataError(f"{where}: the image holds {int((~np.isfinite(a)).sum())} NaN or infinite value(s); fit needs "
                        "finite pixels: fix or drop that sample")
    if a.ndim == 2:
        a = a[None]
    elif a.ndim == 3:
        if pil or (a.shape[-1] in (1, 3, 4) and a.shape[0] not in (1, 3, 4)):
            a = a.transpose(2, 0, 1)
    else:
        raise DataError(f"{where}: an image of shape {a.shape}; fit needs H x W, C x H x W or H x W x C")
    return np.ascontiguousarray(a, dtype=np.uint8 if a.dtype == np.uint8 else np.float32)


def label_int(label, where: str) -> int:
    """A class index: an int, a numpy integer, or an integer array / Tensor of one element."""
    if not isinstance(label, np.ndarray) and hasattr(label, "numpy"):
        label = label.numpy()
    a = np.asarray(label)
    if a.size != 1 or not (np.issubdtype(a.dtype, np.integer) or isinstance(label, numbers.Integral)):
        raise DataError(f"{where}: the label {label!r} is not one integer class index; give ints 0..classes-1")
    value = int(a.reshape(()))
    if value < 0:
        raise DataError(f"{where}: label {value} is negative; fit needs class indices 0..classes-1 (no ignore "
                        "label)")
    return value


def split_sample(sample, where: str) -> tuple:
    """(image, label) from a sample that is a tuple or list of at least two items."""
    if not isinstance(sample, (tuple, list)) or len(sample) < 2:
        raise DataError(f"{where}: a sample is {type(sample).__name__}, not (image, label); make __getitem__ "
                        "return (image, label)")
    return sample[0], sample[1]


def collate(items, shape: tuple, dtype, name: str,
            outputs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(index, sample) pairs of data set `name` as (images N x C x H x W of `dtype`, int64 labels N). Every image
    must be `shape` and `dtype`, every label below `outputs` (the model's classes) when given; errors name the
    sample by its index in the data set."""
    images = np.empty((len(items), *shape), dtype=dtype)
    labels = np.empty(len(items), dtype=np.int64)
    for k, (i, sample) in enumerate(items):
        where = f"{name} sample {i}"
        img, label = split_sample(sample, where)
        a = image_array(img, where)
        if a.dtype != dtype:
            raise DataError(f"{where}: a {a.dtype} image, the first was {np.dtype(dtype)}; give every image in "
                            "one type")
        if a.shape != tuple(shape):
            raise DataError(f"{where}: image {'x'.join(map(str, a.shape))}, the first was "
                            f"{'x'.join(map(str, shape))}; fit needs one image size (resize in the data set's "
                            "transform; TrainConfig.input_size then resizes on the device)")
        images[k] = a
        labels[k] = label_int(label, where)
        if outputs is not None and labels[k] >= outputs:
            raise label_range_error(name, int(i), int(labels[k]), outputs)
    return images, labels
