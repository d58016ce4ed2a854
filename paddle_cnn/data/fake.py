"""Writers of tiny data sets in the real on-disk formats (idx.gz, the CIFAR-10 python tarball, class folders of
JPEGs, AI Studio list files). The tests use them to drive the loaders through their real code paths, and the
smoke profile uses them when a data set is not present locally (and says so in its results).

The images are synthetic but learnable: each class has its own colour/bar pattern plus noise."""
import io
import os
import pickle
import tarfile

import numpy as np

from paddle_cnn.data.mnist import write_idx


def make_mnist(folder, n_train=40, n_test=20, seed=0):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.RandomState(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        y = np.arange(n) % 10
        x = rng.randint(0, 40, size=(n, 28, 28))
        for i, c in enumerate(y):  # a class-dependent bright bar, so a model can learn it
            x[i, 2 + 2 * c:4 + 2 * c, 4:24] = 255
        write_idx(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"), x)
        write_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz"), y)
    return folder


def _batch_bytes(n, rng, offset=0):
    labels = [int((i + offset) % 10) for i in range(n)]
    data = rng.randint(0, 60, size=(n, 3, 32, 32))
    for i, c in enumerate(labels):  # class c: a bright horizontal band at rows 3c..3c+2 in channel c % 3
        data[i, c % 3, 3 * c:3 * c + 3, :] = 255
    data = data.reshape(n, 3072).astype(np.uint8)
    return pickle.dumps({b"batch_label": b"x", b"labels": labels, b"data": data, b"filenames": [b"f"] * n},
                        protocol=2)


def make_cifar_tarball(data_dir, per_batch=10, seed=0, extra_member=None):
    os.makedirs(data_dir, exist_ok=True)
    rng = np.random.RandomState(seed)
    path = os.path.join(data_dir, "cifar-10-python.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        members = [(f"cifar-10-batches-py/data_batch_{i}", _batch_bytes(per_batch, rng, i)) for i in range(1, 6)]
        members.append(("cifar-10-batches-py/test_batch", _batch_bytes(per_batch, rng)))
        if extra_member:
            members.append(extra_member)
        for name, blob in members:
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def make_jpeg(path, colour, size=40):
    from PIL import Image
    Image.new("RGB", (size, size + 8), colour).save(path, "JPEG")


def make_caltech_folders(data_dir, classes=None, per_class=7):
    if classes is None:
        from paddle_cnn.data.caltech import CLASSES as classes
    root = os.path.join(data_dir, "101_ObjectCategories")
    for k, c in enumerate(classes):
        os.makedirs(os.path.join(root, c), exist_ok=True)
        for i in range(per_class):
            make_jpeg(os.path.join(root, c, f"image_{i:04d}.jpg"), ((k * 16) % 256, (i * 30) % 256, 100))
    os.makedirs(os.path.join(root, "BACKGROUND_Google"), exist_ok=True)
    return root


def make_aistudio_lists(data_dir, n_classes=3, per_split=(4, 2, 2)):
    root = os.path.join(data_dir, "caltech16")
    os.makedirs(os.path.join(root, "Images", "cls"), exist_ok=True)
    n = 0
    for fname, count in zip(("Train.txt", "Eval.txt", "Test.txt"), per_split):
        lines = []
        for i in range(count * n_classes):
            rel = f"cls/img_{n:03d}.jpg"
            make_jpeg(os.path.join(root, "Images", rel), (n * 7 % 256, 50, 50))
            lines.append(f"{rel} {i % n_classes}")
            n += 1
        with open(os.path.join(root, fname), "w") as f:
            f.write("\n".join(lines) + "\n")
    return root


def make(name: str, folder: str) -> str:
    """Small generated files of data set `name` in its real format under `folder`, where load_dataset(name,
    folder) reads them (the smoke profile's stand-in when the real set is absent)."""
    if name == "cifar10":
        make_cifar_tarball(folder, per_batch=60)
    elif name == "caltech16":
        make_caltech_folders(folder, per_class=10)
    elif name in ("mnist", "mnist-5k"):
        make_mnist(os.path.join(folder, name), 300, 100)
    else:
        raise ValueError(f"no generator for the data set {name!r}")
    return folder
