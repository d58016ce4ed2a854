"""Data sets, loaded once into memory (uint8) and served to training from the device (see loader.py).

`load_dataset(name, data_dir)` -> {'train': ImageSet, 'test': ImageSet[, 'eval': ImageSet]}
`prepare(name, data_dir)` downloads where possible and verifies; used by `paddle-cnn data NAME`.
"""
from __future__ import annotations

import os

from paddle_cnn.data.common import DataError, DataMissing, ImageSet
from paddle_cnn.data.loader import DeviceData
from paddle_cnn.text import did_you_mean

DATASETS = {
    "mnist-5k": "5,000 real MNIST digits shipped in data/mnist-5k (4,000 train / 1,000 test, stratified)",
    "mnist": "full MNIST (60,000 / 10,000) from data/mnist/*.gz or paddle's download",
    "cifar10": "CIFAR-10 (50,000 / 10,000) from data/cifar-10-python.tar.gz or paddle's download",
    "caltech16": "16 classes of Caltech-101, fixed split train/eval/test (by hand: no downloader exists)",
}


def describe_dataset(name: str) -> str:
    """One paragraph on a data set's fixed choices (classes, split) for reports; '' where DATASETS says it all."""
    if name == "caltech16":
        from paddle_cnn.data.caltech import describe
        return describe()
    return DATASETS.get(name, "")


def default_data_dir() -> str:
    """$PADDLE_CNN_DATA, else work/data on AI Studio, else the checkout's data/ (see paddle_cnn.places)."""
    from paddle_cnn.places import default_data_dir as where
    return where()


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise DataError(did_you_mean("data set", name, DATASETS))


def embedded_dir() -> str:
    """The embedded digits: data/mnist-5k of this checkout, or the copy inside an installed package (also found
    when the data dir is elsewhere)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "embedded", "mnist-5k")


def load_dataset(name: str, data_dir: str | None = None, *, size: int | None = None, download: bool = False,
                 progress: bool = False) -> dict[str, ImageSet]:
    """All splits of a data set as ImageSets, validated (data/validate.py: non-empty, labels in range, every
    eval/test class in train, uint8 images); DataMissing when its files are absent, DataError when they are
    corrupt. size: image side for caltech16 (default 224)."""
    from paddle_cnn.data.validate import validate_splits
    _check_name(name)
    data_dir = data_dir or default_data_dir()
    if name == "mnist-5k":
        from paddle_cnn.data.mnist import load_mnist
        folder = os.path.join(data_dir, "mnist-5k")
        folder = folder if os.path.isdir(folder) else embedded_dir()
        return validate_splits({s: load_mnist(folder, s, "mnist-5k") for s in ("train", "test")}, name)
    from paddle_cnn.places import data_folder
    folder = data_folder(name, data_dir)  # data_dir, or an AI Studio data set holding the files
    if name == "mnist":
        from paddle_cnn.data.mnist import load_mnist
        splits = {s: load_mnist(folder, s, "mnist", download) for s in ("train", "test")}
    elif name == "cifar10":
        from paddle_cnn.data.cifar import load_cifar10
        splits = {s: load_cifar10(folder, s, download) for s in ("train", "test")}
    else:
        from paddle_cnn.data.caltech import load_caltech16
        splits = load_caltech16(folder, size or 224, progress)
    return validate_splits(splits, name)


def prepare(name: str, data_dir: str | None = None) -> list[str]:
    """Download (where the network allows) and verify a data set; returns lines describing it."""
    _check_name(name)
    data_dir = data_dir or default_data_dir()
    problems = []
    if name == "mnist":
        from paddle_cnn.data.mnist import verify_full_mnist
        problems = verify_full_mnist(os.path.join(data_dir, "mnist"))
    elif name == "cifar10":
        from paddle_cnn.data.cifar import verify_cifar10
        problems = verify_cifar10(data_dir)
    if problems:
        raise DataError(problems[0])
    splits = load_dataset(name, data_dir, download=True, progress=True)
    lines = [f"{name}: {DATASETS[name]}"]
    for s, d in splits.items():
        counts = ", ".join(str(int((d.labels == c).sum())) for c in range(len(d.classes)))
        lines.append(f"  {s:5s} {len(d):6d} images {'x'.join(map(str, d.shape))}, per class: {counts}")
    return lines


__all__ = ["DATASETS", "DataError", "DataMissing", "DeviceData", "ImageSet", "load_dataset", "prepare", "embedded_dir",
           "default_data_dir"]
