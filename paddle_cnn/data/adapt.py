"""What a user hands to fit -> batches for training: our ImageSet, `(images, labels)` arrays, or any map-style
`paddle.io.Dataset` yielding (image, label) (paddle.vision's MNIST / Cifar10 with their transforms, a user's
own).

A data set whose images fit in a quarter of the device's memory (`memory_budget`) is read once into one tensor on
the device (a progress bar when that takes a while) and batches are index gathers; a larger one streams through
paddle.io.DataLoader (data/stream.py). Either way the images are normalised per channel with the mean and std of
up to STATS_SAMPLES evenly spaced training images (an eval set uses the training set's), so the two paths give
the same batches and the same results. `TrainConfig(in_memory=True/False)` overrides the choice.
"""
from __future__ import annotations


import numpy as np

from paddle_cnn.data.common import DataError, ImageSet
from paddle_cnn.data.loader import Batches, DeviceData
from paddle_cnn.data.samples import collate, image_array, split_sample

STATS_SAMPLES = 2000  # images the normalisation's per-channel mean and std are measured on
MEMORY_SHARE = 4      # a data set is kept on the device when it needs at most 1/4 of the device's memory
READ_CHUNK = 256      # samples read per step while materialising


def memory_budget() -> int:
    """Bytes a data set may take on the device: a quarter of the GPU's memory, or of the RAM available now."""
    from paddle_cnn.device import is_gpu
    if is_gpu():
        import paddle
        return int(paddle.device.cuda.get_device_properties().total_memory) // MEMORY_SHARE
    from paddle_cnn.device import available_ram
    return available_ram() // MEMORY_SHARE


def training_data(data, config, *, augment=(), like: Batches | None = None, log=print,
                  progress: bool | None = None) -> Batches | None:
    """Batches for fit. like: the training set's batches, whose normalisation and classes an eval set shares."""
    if data is None or isinstance(data, Batches):
        return data
    kw = dict(size=config.input_size, channels=config.in_channels, augment=augment)
    if isinstance(data, ImageSet):
        return DeviceData(data, **kw)
    if _is_array_pair(data):
        return DeviceData(image_set_of_arrays(*data, like=like), **kw)
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(v, (list, tuple)) for v in data):
        raise DataError(f"fit got (images, labels) as Python {type(data[0]).__name__}s of {len(data[0])} and "
                        f"{len(data[1])} items: give numpy arrays, fit(model, (np.asarray(images), "
                        "np.asarray(labels))), or a paddle.io.Dataset")
    import paddle
    if isinstance(data, paddle.io.IterableDataset) or not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise DataError(f"fit cannot read a {type(data).__name__}: give a map-style paddle.io.Dataset (__len__ and "
                        "__getitem__ returning (image, label)), (images, labels) arrays or an ImageSet")
    return _dataset(data, config, kw, like, log, progress)


def _is_array_pair(data) -> bool:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        return False
    return all(isinstance(v, np.ndarray) or type(v).__name__ in ("Tensor", "EagerParamBase") for v in data)


def _numpy(v) -> np.ndarray:
    return v if isinstance(v, np.ndarray) else v.numpy()


def image_set_of_arrays(images, labels, like: Batches | None = None, name: str = "arrays") -> ImageSet:
    """(images N x H x W, N x C x H x W or N x H x W x C; labels N) -> ImageSet, normalised as `like` or by its
    own statistics."""
    images, labels = _numpy(images), _numpy(labels)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise DataError(f"{name}: images of shape {images.shape}; give N x H x W, N x C x H x W or N x H x W x C "
                        "with N >= 1")
    labels = labels.reshape(len(labels), -1)[:, 0] if labels.ndim == 2 and labels.shape[1] == 1 else labels
    if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{name}: labels of shape {labels.shape} and type {labels.dtype} for {len(images)} images; "
                        "give one integer class index per image")
    if labels.min() < 0:
        raise DataError(f"{name}: label {int(labels.min())} at index {int(np.argmin(labels))} is negative; fit "
                        "needs class indices 0..classes-1 (no ignore label)")
    first = image_array(images[0], f"{name} image 0")  # the layout rule of one sample, applied to all
    if images.ndim == 3:
        images = images[:, None]
    elif first.shape != images.shape[1:]:
        images = images.transpose(0, 3, 1, 2)
    images = np.ascontiguousarray(images, dtype=first.dtype)
    if images.dtype.kind == "f":  # one non-finite pixel would make the weights NaN at the first step
        bad = np.flatnonzero(~np.isfinite(images.reshape(len(images), -1)).all(axis=1))
        if len(bad):
            raise DataError(f"{name}: image {int(bad[0])} holds NaN or infinite values ({len(bad)} image(s) do); fit "
                            "needs finite pixels: fix or drop those images")
    return _image_set(images, labels.astype(np.int64), like, name)


def _image_set(images, labels, like, name, classes=None) -> ImageSet:
    idx = stats_indices(len(images))
    mean, std, classes = normalisation(images[idx], labels[idx], like, classes)
    return ImageSet(images, labels, classes, name, tuple(mean), tuple(std))


def normalisation(images, labels, like: Batches | None, classes=None) -> tuple:
    """(mean, std, classes): the training set's (`like`) for an eval set, else measured on these images (the
    stats_indices sample); classes: the data set's own list, else 0..the highest label seen."""
    if like is not None:
        return like.mean, like.std, like.classes
    mean, std = channel_stats(images)
    return mean, std, list(classes) if classes else list(range(int(labels.max()) + 1))


def stats_indices(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, STATS_SAMPLES)).round().astype(np.int64))


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of N x C x H x W images, in fractions of 255 for uint8 (as ImageSet keeps them)."""
    x = images.astype(np.float64) / (255.0 if images.dtype == np.uint8 else 1.0)
    mean, std = x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))
    return mean, np.where(std > 0, std, 1.0)


def _dataset(data, config, kw, like, log, progress) -> Batches:
    from paddle_cnn.data.stream import StreamData
    from paddle_cnn.device import available_cores, gpu_paths, is_gpu
    n = len(data)
    name = getattr(data, "name", None) or type(data).__name__
    if n == 0:
        raise DataError(f"{name}: the data set is empty; fit needs at least one (image, label)")
    first = image_array(split_sample(data[0], f"{name} sample 0")[0], f"{name} sample 0")
    shape, dtype = first.shape, first.dtype
    need, budget = n * first.nbytes, memory_budget()
    in_memory = config.in_memory if config.in_memory is not None else need <= budget
    device = "GPU" if is_gpu() else "CPU"
    if in_memory:
        images, labels = _read_all(data, shape, dtype, name, progress)
        log(f"{name}: {n:,} images {'x'.join(map(str, shape))} {dtype} read into the {device}'s memory "
            f"({need / 2**20:,.0f} MB)")
        return DeviceData(_image_set(images, labels, like, name, getattr(data, "classes", None)), **kw)
    idx = stats_indices(n)
    mean, std, classes = normalisation(*collate([(int(i), data[int(i)]) for i in idx], shape, dtype, name), like,
                                       getattr(data, "classes", None))
    workers = config.workers if config.workers is not None else min(4, available_cores() - 1)
    why = ("TrainConfig(in_memory=False)" if config.in_memory is False else
           f"{need / 2**30:,.1f} GB as {dtype} exceed a quarter of the {device}'s memory ({budget / 2**30:,.1f} GB)")
    log(f"{name}: {n:,} images streamed through paddle.io.DataLoader ({why}), {workers} "
        f"worker{'s' if workers != 1 else ''}" + (", pinned memory" if gpu_paths() else ""))
    return StreamData(data, shape, dtype, classes, mean, std, name=name, workers=workers, **kw)


def _read_all(data, shape, dtype, name, progress) -> tuple[np.ndarray, np.ndarray]:
    """Every sample once, in order, into one array (a bar when it takes more than a second and progress is on)."""
    from tqdm.auto import tqdm
    n = len(data)
    images, labels = np.empty((n, *shape), dtype=dtype), np.empty(n, dtype=np.int64)
    with tqdm(total=n, desc=f"reading {name}", unit="img", delay=1.0, leave=False,
              disable=progress is False) as bar:
        for start in range(0, n, READ_CHUNK):
            stop = min(n, start + READ_CHUNK)
            images[start:stop], labels[start:stop] = collate([(i, data[i]) for i in range(start, stop)], shape,
                                                             dtype, name)
            bar.update(stop - start)
    return images, labels
