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
    with pytest.raises(DataError, match="is not a CIFAR batch .*refusing to load|is not one of the CIFAR-10"):
        load_dataset("cifar10", str(tmp_path))  # (an extra member is now refused by its name, before reading)
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


# ------------------------------------------------------------------ labels against the files' own labels

def test_cifar10_labels_and_pixels_are_the_pickled_ones(tmp_path):
    """A tarball written here with random labels: the loader returns each batch's own labels and pixels, in the
    file's order (train = data_batch_1..5, test = test_batch)."""
    import io
    import tarfile
    rng = np.random.RandomState(3)
    batches = {}
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            labels = rng.randint(0, 10, 7).tolist()
            data = rng.randint(0, 256, (7, 3072)).astype(np.uint8)
            batches[name] = (labels, data)
            blob = pickle.dumps({b"labels": labels, b"data": data, b"batch_label": b"x"}, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    d = load_dataset("cifar10", str(tmp_path))
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    assert d["train"].labels.tolist() == sum((b[0] for b in train), [])
    assert d["test"].labels.tolist() == batches["test_batch"][0]
    assert np.array_equal(d["train"].images.reshape(35, 3072), np.concatenate([b[1] for b in train]))
    assert np.array_equal(d["test"].images[2, 1], batches["test_batch"][1][2, 1024:2048].reshape(32, 32))


def test_mnist_labels_are_the_idx_files_own(tmp_path):
    from paddle_cnn.data.mnist import write_idx
    rng = np.random.RandomState(4)
    folder = tmp_path / "mnist"
    folder.mkdir()
    want = {}
    for split in ("train", "t10k"):  # every class has training images (load_dataset refuses a set without)
        want[split] = rng.permutation(np.arange(15) % 10) if split == "train" else rng.randint(0, 10, 9)
        write_idx(str(folder / f"{split}-images-idx3-ubyte.gz"), rng.randint(0, 256, (len(want[split]), 28, 28)))
        write_idx(str(folder / f"{split}-labels-idx1-ubyte.gz"), want[split])
    d = load_dataset("mnist", str(tmp_path))
    assert d["train"].labels.tolist() == want["train"].tolist()
    assert d["test"].labels.tolist() == want["t10k"].tolist()


def test_caltech_labels_follow_the_class_folders(tmp_path):
    """Each class folder gets its own colour; every loaded image's colour names the folder its label says."""
    from PIL import Image
    root = tmp_path / "101_ObjectCategories"
    colours = {c: ((37 * k) % 256, (91 * k + 40) % 256, (53 * k + 100) % 256) for k, c in enumerate(CLASSES)}
    for c in CLASSES:
        (root / c).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (20, 20), colours[c]).save(root / c / f"image_{i:04d}.png")
    d = load_dataset("caltech16", str(tmp_path), size=8)
    for split in ("train", "eval", "test"):
        for img, label in zip(d[split].images, d[split].labels):
            assert tuple(int(v) for v in img[:, 4, 4]) == colours[CLASSES[label]], (split, label)
        assert d[split].own_split is False and d[split].subset(4).own_split is False  # our split, not the article's


def test_caltech_list_file_labels_are_the_files_own(tmp_path):
    root = make_aistudio_lists(str(tmp_path), n_classes=3, per_split=(4, 2, 2))
    d = load_dataset("caltech16", str(tmp_path), size=8)
    for split, fname in (("train", "Train.txt"), ("eval", "Eval.txt"), ("test", "Test.txt")):
        with open(os.path.join(root, fname)) as f:
            assert d[split].labels.tolist() == [int(line.split()[-1]) for line in f if line.strip()]
        assert d[split].own_split is True  # the list files' own split (the article's, on AI Studio)


# ------------------------------------------------------------------ augmentation: where, how often, which axis

def _colour_set(n=2000, size=8):
    from paddle_cnn.data.common import ImageSet
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (n, 3, size, size)).astype(np.uint8)
    return ImageSet(images, np.zeros(n, np.int64), ["a"], "colour", (0.0, 0.0, 0.0), (1 / 255,) * 3)


def test_augmentation_never_touches_eval_batches():
    d = _colour_set(64)
    aug = DeviceData(d, augment=("crop", "flip", "grayscale"))
    idx = np.arange(64)
    plain = DeviceData(d).batch(idx)[0].numpy()
    assert np.array_equal(aug.batch(idx)[0].numpy(), plain)  # evaluation: no rng
    assert np.array_equal(aug.batch(idx, np.random.RandomState(0), train=False)[0].numpy(), plain)
    assert not np.array_equal(aug.batch(idx, np.random.RandomState(0), train=True)[0].numpy(), plain)


def test_flip_rate_and_axis():
    """About half the images are mirrored left-right (last axis), the others untouched; none upside down."""
    d = _colour_set()
    x = DeviceData(d).batch(np.arange(len(d)))[0].numpy()
    y = DeviceData(d, augment=("flip",)).batch(np.arange(len(d)), np.random.RandomState(1), train=True)[0].numpy()
    same = np.array([np.array_equal(a, b) for a, b in zip(x, y)])
    mirrored = np.array([np.array_equal(a[..., ::-1], b) for a, b in zip(x, y)])
    assert np.all(same | mirrored)
    assert 0.46 < mirrored.mean() < 0.54  # 2,000 draws: std of the rate ~0.011


def test_grayscale_rate_and_luminance():
    """About 10% of the images become grey (three equal channels of 0.299 R + 0.587 G + 0.114 B)."""
    d = _colour_set()
    x = DeviceData(d).batch(np.arange(len(d)))[0].numpy()
    y = DeviceData(d, augment=("grayscale",)).batch(np.arange(len(d)), np.random.RandomState(2),
                                                   train=True)[0].numpy()
    gray = np.array([np.allclose(b[0], b[1]) and np.allclose(b[1], b[2]) for b in y])
    assert 0.08 < gray.mean() < 0.12  # 2,000 draws: std of the rate ~0.007
    lum = 0.299 * x[gray, 0] + 0.587 * x[gray, 1] + 0.114 * x[gray, 2]
    np.testing.assert_allclose(y[gray, 0], lum, rtol=1e-5, atol=1e-3)
    assert np.array_equal(y[~gray], x[~gray])


def test_crop_is_a_shifted_window_of_the_padded_image():
    """Each crop equals the image zero-padded by 4 and cut at an offset in [0, 8] on both axes; the offsets
    spread over that whole range."""
    d = _colour_set(400)
    x = DeviceData(d).batch(np.arange(400))[0].numpy()
    y = DeviceData(d, augment=("crop",)).batch(np.arange(400), np.random.RandomState(3), train=True)[0].numpy()
    padded = np.pad(x, ((0, 0), (0, 0), (4, 4), (4, 4)))
    offsets = []
    for i in range(400):
        found = [(dy, dx) for dy in range(9) for dx in range(9)
                 if np.array_equal(padded[i, :, dy:dy + 8, dx:dx + 8], y[i])]
        assert found, i
        offsets.append(found[0])
    dys, dxs = zip(*offsets)
    assert set(dys) == set(range(9)) and set(dxs) == set(range(9))


def test_paddle_2_imported_first_still_reads_gzip(tmp_path):
    """paddle 2.x imported before paddle_cnn binds zlib to paddle's bundled one and a gzip read in that process
    crashes (segmentation fault): the idx.gz and tarball reads then go through a fresh Python. In a subprocess that
    imports paddle first (on paddle 3 this reads in-process; the paddle 2.6 run of this test is the real case)."""
    import subprocess
    import sys
    make_cifar_tarball(str(tmp_path))
    code = ("import paddle, sys; sys.path.insert(0, sys.argv[1])\n"
            "from paddle_cnn.data import load_dataset\n"
            "from paddle_cnn.data.common import gzip_unsafe\n"
            "m, c = load_dataset('mnist-5k'), load_dataset('cifar10', sys.argv[2])\n"
            "print(paddle.__version__.split('.')[0], gzip_unsafe(), len(m['train']), len(c['train']))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run([sys.executable, "-c", code, root, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    major, unsafe, n_mnist, n_cifar = p.stdout.split()
    assert unsafe == str(major == "2") and n_mnist == "4000" and int(n_cifar) > 0


def test_the_fresh_python_reader_gives_the_same_bytes(monkeypatch):
    from paddle_cnn.data import common
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "mnist-5k",
                        "t10k-images-idx3-ubyte.gz")
    direct = common.gunzip(path)
    monkeypatch.setattr(common, "gzip_unsafe", lambda: True)
    assert common.gunzip(path) == direct and len(direct) == 4 * 4 + 1000 * 28 * 28
