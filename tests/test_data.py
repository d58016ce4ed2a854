"""Every loader on files in the real on-disk formats; bad files get one clear line."""
import gzip
import os
import pickle
import time

import numpy as np
import pytest

from paddle_cnn.data.fake import make_aistudio_lists, make_caltech_folders, make_cifar_tarball, make_mnist
from paddle_cnn.data import DataError, DeviceData, load_dataset, prepare
from paddle_cnn.data.caltech import CLASSES
from paddle_cnn.data.common import download


def test_embedded_mnist5k_is_real_stratified_and_split():
    d = load_dataset("mnist-5k")
    assert (len(d["train"]), len(d["test"])) == (4000, 1000)
    assert d["train"].images.shape[1:] == (1, 28, 28) and d["train"].images.dtype == np.uint8
    assert np.bincount(d["train"].labels).tolist() == [400] * 10
    assert np.bincount(d["test"].labels).tolist() == [100] * 10
    # real digits: dark background, bright strokes, ~19% ink like MNIST
    ink = (d["train"].images > 128).mean()
    assert 0.08 < ink < 0.25
    # train and test share no image
    tr = {x.tobytes() for x in d["train"].images}
    assert not any(x.tobytes() in tr for x in d["test"].images)


def test_mnist_idx_files(tmp_path):
    make_mnist(str(tmp_path / "mnist"))
    d = load_dataset("mnist", str(tmp_path))
    assert (len(d["train"]), len(d["test"])) == (40, 20)
    assert d["test"].labels.tolist()[:3] == [0, 1, 2]


def test_mnist_missing_truncated_and_malformed(tmp_path):
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz is missing; run `paddle-cnn data mnist`"):
        load_dataset("mnist", str(tmp_path))
    folder = make_mnist(str(tmp_path / "mnist"))
    path = os.path.join(folder, "train-images-idx3-ubyte.gz")
    blob = open(path, "rb").read()
    open(path, "wb").write(blob[: len(blob) // 2])  # a cut download
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_dataset("mnist", str(tmp_path))
    raw = gzip.decompress(blob)
    with gzip.open(path, "wb") as f:  # valid gzip, but the data stops short of what the header says
        f.write(raw[:-100])
    with pytest.raises(DataError, match="is truncated: header says"):
        load_dataset("mnist", str(tmp_path))
    with gzip.open(path, "wb") as f:
        f.write(b"not an idx file at all")
    with pytest.raises(DataError, match="is not an idx file"):
        load_dataset("mnist", str(tmp_path))


def test_cifar10_tarball(tmp_path):
    make_cifar_tarball(str(tmp_path), per_batch=6)
    d = load_dataset("cifar10", str(tmp_path))
    assert (len(d["train"]), len(d["test"])) == (30, 6)
    assert d["train"].images.shape[1:] == (3, 32, 32)
    assert d["train"].classes[0] == "airplane"


def test_cifar10_truncated_and_missing(tmp_path):
    with pytest.raises(DataError, match="cifar-10-python.tar.gz is missing"):
        load_dataset("cifar10", str(tmp_path))
    path = make_cifar_tarball(str(tmp_path))
    blob = open(path, "rb").read()
    open(path, "wb").write(blob[: len(blob) - 200])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_dataset("cifar10", str(tmp_path))


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = ""


def test_cifar_batches_are_never_unpickled_freely(tmp_path):
    global MARKER
    MARKER = str(tmp_path / "pwned")
    evil = pickle.dumps({b"data": _Evil(), b"labels": [0]})
    make_cifar_tarball(str(tmp_path), extra_member=("cifar-10-batches-py/data_batch_6", evil))
    with pytest.raises(DataError, match="is not a CIFAR batch .*refusing to load"):
        load_dataset("cifar10", str(tmp_path))
    assert not os.path.exists(MARKER)


def test_caltech_class_folders_fixed_split(tmp_path):
    make_caltech_folders(str(tmp_path), CLASSES, per_class=7)
    d = load_dataset("caltech16", str(tmp_path), size=32)
    assert [len(d[s]) for s in ("train", "eval", "test")] == [16 * 5, 16 * 1, 16 * 1]
    assert d["train"].images.shape[1:] == (3, 32, 32)
    assert sorted(set(d["test"].labels.tolist())) == list(range(16))
    again = load_dataset("caltech16", str(tmp_path), size=32)
    assert np.array_equal(again["train"].images, d["train"].images)  # the split is fixed


def test_caltech_missing_classes_and_bad_image(tmp_path):
    with pytest.raises(DataError, match="no Caltech-101 data under"):
        load_dataset("caltech16", str(tmp_path))
    root = make_caltech_folders(str(tmp_path), CLASSES[:3])
    with pytest.raises(DataError, match="lacks the class folders watch, Leopards"):
        load_dataset("caltech16", str(tmp_path))
    make_caltech_folders(str(tmp_path), CLASSES)
    open(os.path.join(root, "watch", "image_0000.jpg"), "wb").write(b"broken")
    with pytest.raises(DataError, match="image_0000.jpg is not a readable image"):
        load_dataset("caltech16", str(tmp_path), size=16)


def test_caltech_aistudio_list_files(tmp_path):
    make_aistudio_lists(str(tmp_path))
    d = load_dataset("caltech16", str(tmp_path), size=24)
    assert [len(d[s]) for s in ("train", "eval", "test")] == [12, 6, 6]
    assert d["eval"].images.shape[1:] == (3, 24, 24)


def test_download_fails_fast_offline(tmp_path):
    t = time.time()
    with pytest.raises(DataError, match="could not be downloaded from http://127.0.0.1:9/"):
        download("http://127.0.0.1:9/x.gz", str(tmp_path / "x.gz"), hint="copy it by hand")
    assert time.time() - t < 15
    assert os.listdir(tmp_path) == []  # no partial file left behind


def test_unknown_dataset_name():
    with pytest.raises(DataError, match="unknown data set 'mnist5k': did you mean mnist-5k"):
        load_dataset("mnist5k")


def test_prepare_reports_counts():
    lines = prepare("mnist-5k")
    assert "4000 images 1x28x28" in lines[1] and "400" in lines[1]


def test_device_batches_augment_deterministically():
    d = load_dataset("mnist-5k")["train"]
    dev = DeviceData(d, augment=("crop", "flip"))
    idx = np.arange(16)
    a, ya = dev.batch(idx, np.random.RandomState(5), train=True)
    b, _ = dev.batch(idx, np.random.RandomState(5), train=True)
    c, _ = dev.batch(idx, np.random.RandomState(6), train=True)
    plain, _ = dev.batch(idx)
    assert np.array_equal(a.numpy(), b.numpy()) and not np.array_equal(a.numpy(), c.numpy())
    assert not np.array_equal(a.numpy(), plain.numpy())
    assert ya.numpy().tolist() == d.labels[:16].tolist()
    # normalised with MNIST's statistics
    assert abs(float(plain.mean().item()) - (d.images[:16].mean() / 255 - 0.1307) / 0.3081) < 1e-3
    big = DeviceData(d, size=32, channels=3).batch(idx)[0]
    assert tuple(big.shape) == (16, 3, 32, 32)


def test_crop_and_flip_move_pixels_as_specified():
    from paddle_cnn.data.common import ImageSet
    img = np.zeros((1, 1, 6, 6), np.uint8)
    img[0, 0, 0, 0] = 255
    ds = ImageSet(img, np.array([0]), ["a"], "t", (0.0,), (1 / 255,))
    flipped = DeviceData(ds, augment=("flip",))._augment(DeviceData(ds).images.astype("float32"),
                                                         np.random.RandomState(1))  # rand < .5 -> flip
    rng = np.random.RandomState(1)
    assert (rng.rand(1) < 0.5)[0] == (flipped.numpy()[0, 0, 0, 5] == 255)
