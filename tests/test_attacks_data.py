"""Attacks on the data files (issue 15, items 1 and 5): bad files in the real on-disk formats, made here, met
through the CLI as a user types it. Each must end in one line naming the file (and line) and the fix, exit 2,
nothing written under the log folder (or, for `paddle-cnn data`, nothing created); the attacks on memory and
time run in a bounded subprocess and must stay under attacks.PEAK_BOUND_MB and finish in seconds."""
import functools
import gzip
import io
import os
import pickle
import struct
import tarfile
import zlib

import numpy as np
import pytest

from attacks import PEAK_BOUND_MB, cli, cli_bounded, refused, snapshot
from paddle_cnn.data import DataError, fake, load_dataset
from paddle_cnn.data.common import ImageSet
from paddle_cnn.data.mnist import write_idx
from paddle_cnn.data.validate import MAX_CLASSES, MAX_FILE_BYTES, MAX_IMAGE_PIXELS

IMG, LBL = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TIMEOUT = 90  # seconds a bounded attack may take before it counts as a hang


def run(experiment, data_dir, logdir, bounded=False, timeout=TIMEOUT):
    argv = ("run", experiment, "--profile", "smoke", "--seeds", "1", "--data-dir", str(data_dir),
            "--logdir", str(logdir))
    return cli_bounded(*argv, timeout=timeout) if bounded else cli(*argv)


def assert_refused(outcome, logdir, *words):
    line = refused(outcome, *words)
    assert snapshot(logdir) == {}, "the refused run wrote under its log folder"
    return line


def assert_bounded(outcome, timeout=TIMEOUT):
    assert outcome.peak_mb < PEAK_BOUND_MB, outcome.peak_mb
    assert outcome.seconds < timeout / 3, outcome.seconds


# ------------------------------------------------------------------ writers of bad files, in the real formats

def mnist5k(data_dir, train_labels=None, test_labels=None, train_images=None):
    """data_dir/mnist-5k as generated idx.gz files, with the given arrays replacing the generated ones."""
    folder = fake.make_mnist(os.path.join(data_dir, "mnist-5k"), 40, 20)
    for fname, array in ((LBL, train_labels), ("t10k-labels-idx1-ubyte.gz", test_labels), (IMG, train_images)):
        if array is not None:
            write_idx(os.path.join(folder, fname), np.asarray(array))
    return folder


def batch(n=10, labels=None, data=None):
    rng = np.random.RandomState(0)
    return {b"labels": list(range(n)) if labels is None else labels, b"batch_label": b"x",
            b"data": rng.randint(0, 256, (n, 3072)).astype(np.uint8) if data is None else data}


def cifar_tarball(data_dir, **changed):
    """data_dir/cifar-10-python.tar.gz with data_batch_1..5 and test_batch; `changed` replaces a batch (a dict, or
    any object, pickled) by member name."""
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, "cifar-10-python.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            blob = pickle.dumps(changed.get(name, batch()), protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def lists(data_dir, **lines):
    """AI Studio list files (3 classes); `lines` appends lines to Train/Eval/Test by file stem."""
    root = fake.make_aistudio_lists(str(data_dir))
    for stem, extra in lines.items():
        with open(os.path.join(root, f"{stem}.txt"), "ab") as f:
            f.write(extra if isinstance(extra, bytes) else extra.encode())
    return root


@functools.lru_cache(maxsize=1)
def _zeros_member() -> bytes:
    return gzip.compress(bytes(64 << 20), compresslevel=9, mtime=0)  # 64 MB of zeros in ~64 KB


def zeros_gzip(first: bytes, total_mb: int) -> bytes:
    """A gzip file (concatenated members, as gzip reads them) of `first` then about total_mb MB of zeros: ~1 KB
    of file per MB it decompresses to."""
    return gzip.compress(first, mtime=0) + _zeros_member() * (total_mb // 64)


def png_claiming(path, width, height):
    """A small PNG whose IHDR claims width x height (CRC fixed, so PIL reads the header as valid)."""
    from PIL import Image
    Image.new("RGB", (4, 4)).save(path, "PNG")
    b = bytearray(open(path, "rb").read())
    assert b[12:16] == b"IHDR"
    b[16:24] = struct.pack(">II", width, height)
    b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])))
    open(path, "wb").write(bytes(b))


# ------------------------------------------------------------------ 1. silently wrong

@pytest.mark.parametrize("case", ["mnist-train", "cifar-test", "lists-test"])
def test_an_empty_split_is_refused(tmp_path, case):
    logs = tmp_path / "logs"
    if case == "mnist-train":
        mnist5k(tmp_path, train_labels=np.zeros(0), train_images=np.zeros((0, 28, 28)))
        o, words = run("pool-vs-stride", tmp_path, logs), (IMG, "empty", "get the real files again")
    elif case == "cifar-test":
        cifar_tarball(tmp_path, test_batch=batch(0, [], np.zeros((0, 3072), np.uint8)))
        o, words = run("bn-ablation", tmp_path, logs), ("cifar-10-python.tar.gz", "test_batch", "empty",
                                                       "get the real files again")
    else:
        root = lists(tmp_path)
        open(os.path.join(root, "Test.txt"), "w").close()
        o, words = run("tricks-caltech16", tmp_path, logs), ("Test.txt", "empty", "list at least one image")
    assert_refused(o, logs, *words)


def test_cifar_pixels_that_are_not_uint8_are_refused_not_cast(tmp_path):
    cifar_tarball(tmp_path, data_batch_2=batch(data=np.random.RandomState(0).rand(10, 3072) * 255))
    assert_refused(run("bn-ablation", tmp_path, tmp_path / "logs"), tmp_path / "logs",
                   "cifar-10-python.tar.gz:cifar-10-batches-py/data_batch_2", "float64", "not uint8",
                   "download it again")


@pytest.mark.parametrize("case", ["mnist-200", "cifar-99", "list-minus-1", "class-only-in-test"])
def test_labels_outside_the_classes_are_refused(tmp_path, case):
    logs = tmp_path / "logs"
    if case == "mnist-200":
        mnist5k(tmp_path, train_labels=[200] + [i % 10 for i in range(39)])
        o, words = run("pool-vs-stride", tmp_path, logs), (LBL, "label 200", "0..9", "fix or delete")
    elif case == "cifar-99":
        cifar_tarball(tmp_path, data_batch_3=batch(labels=[0, 1, 2, 99, 4, 5, 6, 7, 8, 9]))
        o, words = run("bn-ablation", tmp_path, logs), ("data_batch_3", "label 99", "0..9", "fix or delete")
    elif case == "list-minus-1":
        lists(tmp_path, Eval="cls/img_000.jpg -1\n")
        o, words = run("tricks-caltech16", tmp_path, logs), ("Eval.txt line 7", "label -1",
                                                            f"0..{MAX_CLASSES - 1}", "fix that line")
    else:  # train has digits 0..8 only, test has a 9: found only after training before
        mnist5k(tmp_path, train_labels=[i % 9 for i in range(40)])
        o, words = run("pool-vs-stride", tmp_path, logs), ("t10k-images-idx3-ubyte.gz", "class 9",
                                                          "no training image", "fix the split")
    assert_refused(o, logs, *words)


# ------------------------------------------------------------------ 2. containment of list-file paths

@pytest.mark.parametrize("how", ["absolute", "dot-dot"])
def test_list_file_paths_must_stay_inside_the_data_folder(tmp_path, how):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    fake.make_jpeg(str(outside / "secret.jpg"), (1, 2, 3))
    rel = str(outside / "secret.jpg") if how == "absolute" else "../../elsewhere/secret.jpg"
    lists(tmp_path / "d", Train=f"{rel} 0\n")
    assert_refused(run("tricks-caltech16", tmp_path / "d", tmp_path / "logs"), tmp_path / "logs",
                   "Train.txt line 13", "leads outside", "relative, no '..'")


# ------------------------------------------------------------------ 3. memory and hangs (bounded subprocesses)

def test_the_first_label_past_the_classes_bound_is_refused(tmp_path):
    """MAX_CLASSES itself is one too many (labels are 0..MAX_CLASSES-1)."""
    lists(tmp_path, Train=f"cls/img_000.jpg {MAX_CLASSES}\n")
    assert_refused(run("tricks-caltech16", tmp_path, tmp_path / "logs"), tmp_path / "logs", "Train.txt line 13",
                   f"label {MAX_CLASSES}", f"0..{MAX_CLASSES - 1}")


def test_a_huge_list_file_label_is_refused_without_the_memory(tmp_path):
    lists(tmp_path, Train="cls/img_000.jpg 100000000\n")
    o = run("tricks-caltech16", tmp_path, tmp_path / "logs", bounded=True)
    assert_refused(o, tmp_path / "logs", "Train.txt line 13", "label 100000000", f"0..{MAX_CLASSES - 1}",
                   "fix that line")
    assert_bounded(o)


def test_an_idx_gzip_bomb_is_refused_from_its_header(tmp_path):
    """3 MB of gzip that decompress to 3 GB, its header announcing 1,000,000 x 100 x 100 bytes."""
    folder = mnist5k(tmp_path)
    header = struct.pack(">HBB", 0, 8, 3) + struct.pack(">3I", 1_000_000, 100, 100)
    open(os.path.join(folder, IMG), "wb").write(zeros_gzip(header, 3072))
    o = run("pool-vs-stride", tmp_path, tmp_path / "logs", bounded=True)
    assert_refused(o, tmp_path / "logs", IMG, "1000000x100x100", f"{MAX_FILE_BYTES:,}", "to use the embedded digits")
    assert_bounded(o)


def test_idx_data_beyond_its_header_stops_decompressing(tmp_path):
    """A plausible header (40 x 28 x 28) followed by 1 GB of zeros: read up to the announced size and refused."""
    folder = mnist5k(tmp_path)
    header = struct.pack(">HBB", 0, 8, 3) + struct.pack(">3I", 40, 28, 28)
    open(os.path.join(folder, IMG), "wb").write(zeros_gzip(header, 1024))
    o = run("pool-vs-stride", tmp_path, tmp_path / "logs")
    assert_refused(o, tmp_path / "logs", IMG, "more data than its header says", "to use the embedded digits")
    assert o.seconds < 10


def test_a_tarball_member_claiming_a_huge_size_is_refused_before_reading(tmp_path):
    path = cifar_tarball(tmp_path)
    info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
    info.size = 5 * 10 ** 9  # the header only: its data never comes
    with open(path, "wb") as f:
        f.write(gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT) + bytes(4096)))
    assert_refused(run("bn-ablation", tmp_path, tmp_path / "logs"), tmp_path / "logs",
                   "data_batch_1", "5,000,000,000 bytes", "download it again")


def test_a_tarball_that_decompresses_without_end_is_refused_at_its_bound(tmp_path):
    """A member of 3 GB of zeros that is not a batch: skipped by reading, so bounded in all."""
    info = tarfile.TarInfo("cifar-10-batches-py/readme.html")
    info.size = 3 << 30
    open(tmp_path / "cifar-10-python.tar.gz", "wb").write(zeros_gzip(info.tobuf(format=tarfile.GNU_FORMAT), 3072))
    o = run("bn-ablation", tmp_path, tmp_path / "logs")
    assert_refused(o, tmp_path / "logs", "cifar-10-python.tar.gz", "decompresses to more than", "download it again")
    assert o.seconds < 15


@pytest.mark.parametrize("kind", ["idx", "tarball", "truncated"])
def test_the_fresh_python_gzip_reader_is_bounded_too(tmp_path, monkeypatch, kind):
    """Where paddle 2.x was imported first, gzip is read by a fresh Python through a pipe: the same bounds."""
    from paddle_cnn.data import common
    monkeypatch.setattr(common, "gzip_unsafe", lambda: True)
    if kind == "idx":
        header = struct.pack(">HBB", 0, 8, 3) + struct.pack(">3I", 40, 28, 28)
        open(os.path.join(mnist5k(tmp_path), IMG), "wb").write(zeros_gzip(header, 1024))
        name, match = "mnist-5k", "more data than its header says"
    elif kind == "tarball":
        info = tarfile.TarInfo("cifar-10-batches-py/readme.html")
        info.size = 3 << 30
        open(tmp_path / "cifar-10-python.tar.gz", "wb").write(zeros_gzip(info.tobuf(format=tarfile.GNU_FORMAT),
                                                                          3072))
        name, match = "cifar10", "decompresses to more than"
    else:
        path = os.path.join(mnist5k(tmp_path), IMG)
        blob = open(path, "rb").read()
        open(path, "wb").write(blob[:len(blob) // 2])
        name, match = "mnist-5k", "corrupt or truncated"
    with pytest.raises(DataError, match=match):
        load_dataset(name, str(tmp_path))


@pytest.mark.parametrize("side", [30000, 8000])
def test_an_image_claiming_huge_dimensions_is_refused_before_decoding(tmp_path, side):
    """30000x30000 (past PIL's own bound: its DecompressionBombError) bounded; 8000x8000 (64 megapixels, under
    PIL's bound, over ours) in this process."""
    root = fake.make_caltech_folders(str(tmp_path), per_class=3)
    png_claiming(os.path.join(root, "watch", "image_0001.png"), side, side)
    o = run("classic-caltech16", tmp_path, tmp_path / "logs", bounded=side == 30000)
    assert_refused(o, tmp_path / "logs", os.path.join("watch", "image_0001.png"), f"{MAX_IMAGE_PIXELS:,} pixels",
                   "replace or delete it")
    if side == 30000:
        assert_bounded(o)


@pytest.mark.parametrize("where", ["class-folder", "list-file"])
def test_a_fifo_named_like_an_image_is_refused_not_read(tmp_path, where):
    if where == "class-folder":
        root = fake.make_caltech_folders(str(tmp_path), per_class=3)
        fifo, experiment, words = os.path.join(root, "bonsai", "image_0009.jpg"), "classic-caltech16", ()
    else:
        root = lists(tmp_path, Test="cls/pipe.jpg 1\n")
        fifo, experiment, words = os.path.join(root, "Images", "cls", "pipe.jpg"), "tricks-caltech16", \
            ("Test.txt line 7",)
    os.mkfifo(fifo)
    o = run(experiment, tmp_path, tmp_path / "logs", bounded=True)
    assert_refused(o, tmp_path / "logs", fifo, "FIFO", "not a regular file", "replace it", *words)
    assert_bounded(o)


# ------------------------------------------------------------------ 4. malformed files: one line, never a traceback

def test_an_idx_header_shorter_than_its_dimensions(tmp_path):
    folder = mnist5k(tmp_path)
    open(os.path.join(folder, IMG), "wb").write(gzip.compress(struct.pack(">HBB", 0, 8, 3) + b"\0\0\0\x05"))
    assert_refused(run("pool-vs-stride", tmp_path, tmp_path / "logs"), tmp_path / "logs",
                   IMG, "announces 3 dimensions but holds 1", "to use the embedded digits")


@pytest.mark.parametrize("bad", ["list", "shape"])
def test_a_malformed_cifar_batch_names_its_member(tmp_path, bad):
    blob = [1, 2, 3] if bad == "list" else batch(data=np.zeros((10, 3000), np.uint8))
    cifar_tarball(tmp_path, data_batch_4=blob)
    assert_refused(run("bn-ablation", tmp_path, tmp_path / "logs"), tmp_path / "logs",
                   "cifar-10-python.tar.gz:cifar-10-batches-py/data_batch_4",
                   "not a dict" if bad == "list" else "is not N x 3072", "download it again")


def test_a_list_file_that_is_not_utf8(tmp_path):
    lists(tmp_path, Eval=b"cls/img_\xff\xfe.jpg 0\n")
    assert_refused(run("tricks-caltech16", tmp_path, tmp_path / "logs"), tmp_path / "logs",
                   "Eval.txt line 7 is not UTF-8", "save the file as UTF-8")


def test_a_list_file_saved_with_a_bom_is_read():
    """UTF-8 with a byte-order mark (as Windows' Notepad saves it) is UTF-8: its first path is found."""
    import tempfile
    from paddle_cnn.data import load_dataset
    from paddle_cnn.data.fake import make_aistudio_lists
    with tempfile.TemporaryDirectory() as d:
        root = make_aistudio_lists(d)
        train = os.path.join(root, "Train.txt")
        with open(train, "rb") as f:
            text = f.read()
        with open(train, "wb") as f:
            f.write(b"\xef\xbb\xbf" + text)
        assert len(load_dataset("caltech16", d, size=32)["train"]) == 12


# ------------------------------------------------------------------ 5. a failed download creates nothing

@pytest.mark.parametrize("how", ["env", "option"])
def test_a_failed_download_leaves_no_folder_behind(tmp_path, monkeypatch, how):
    target = tmp_path / "nonexistent" / "x"
    if how == "env":
        monkeypatch.setenv("PADDLE_CNN_DATA", str(target))
        o = cli("data", "cifar10")
    else:
        o = cli("data", "mnist", "--data-dir", str(target))
    refused(o, str(target), "could not be downloaded", "copy")
    assert snapshot(tmp_path) == {}


# ------------------------------------------------------------------ 6. the smoke profile's generated stand-ins

def test_smoke_with_absent_files_trains_on_generated_data_and_says_so(tmp_path):
    o = run("bn-ablation", tmp_path / "nodata", tmp_path / "logs")
    assert o.code == 0, o.err[-2000:]
    said = [ln for ln in o.out.splitlines() if "GENERATED" in ln]
    assert len(said) == 1 and said[0].startswith("cifar10: not present locally") and "cifar-10-python.tar.gz" \
        in said[0], o.out[-3000:]
    assert not (tmp_path / "nodata").exists()  # generated in a temporary folder, nothing left in the data folder
    assert not [p for p in os.listdir(tmp_path / "logs" / "bn-ablation") if p.startswith("_generated")]


@pytest.mark.parametrize("experiment", ["bn-ablation", "classic-caltech16", "pool-vs-stride"])
def test_smoke_with_corrupt_files_is_refused_not_replaced(tmp_path, experiment):
    if experiment == "bn-ablation":
        path = fake.make_cifar_tarball(str(tmp_path))
        blob = open(path, "rb").read()
        open(path, "wb").write(blob[:-300])  # a cut download
        words = ("cifar-10-python.tar.gz", "corrupt or truncated", "download it again")
    elif experiment == "classic-caltech16":
        fake.make_caltech_folders(str(tmp_path), per_class=3)
        open(tmp_path / "101_ObjectCategories" / "ketch" / "image_0002.jpg", "wb").write(b"broken")
        words = ("image_0002.jpg", "not a readable image", "replace or delete it")
    else:  # a present mnist-5k folder missing one file is incomplete, not absent
        os.remove(os.path.join(mnist5k(tmp_path), LBL))
        words = (LBL, "is missing", "restore it", "embedded digits")
    assert_refused(run(experiment, tmp_path, tmp_path / "logs"), tmp_path / "logs", *words)


@pytest.mark.parametrize("name", ["mnist-5k", "mnist", "cifar10", "caltech16"])
def test_generated_files_load_as_what_they_are_named(tmp_path, name):
    """fake.make writes where load_dataset reads that name (mnist-5k once fell back to the embedded digits)."""
    fake.make(name, str(tmp_path))
    d = load_dataset(name, str(tmp_path), size=16)
    assert len(d["train"]) == {"mnist-5k": 300, "mnist": 300, "cifar10": 300, "caltech16": 16 * 7}[name]
    assert d["train"].source.startswith(str(tmp_path))


# ------------------------------------------------------------------ 7. the same checks from Python

def test_load_dataset_raises_one_line(tmp_path):
    mnist5k(tmp_path, train_labels=[200] + [i % 10 for i in range(39)])
    with pytest.raises(DataError) as e:
        load_dataset("mnist-5k", str(tmp_path))
    assert "\n" not in str(e.value) and "label 200" in str(e.value) and LBL in str(e.value)


def test_image_sets_refuse_emptiness_and_negative_labels():
    with pytest.raises(DataError, match=r"^mine: the mine set is empty \(no images\); give at least one image$"):
        ImageSet(np.zeros((0, 1, 4, 4), np.uint8), np.zeros(0, np.int64), ["a"], "mine")
    with pytest.raises(DataError, match=r"^mine: image 1 has the negative label -3; labels are class indices"):
        ImageSet(np.zeros((2, 1, 4, 4), np.uint8), np.array([0, -3]), ["a"], "mine")


@pytest.mark.parametrize("extra, words", [
    ("data_batch_6", ["data_batch_6", "is not one of the CIFAR-10 python tarball's batches"]),
    ("data_batch_1 (copy)", ["data_batch_1 (copy)", "is not one of"]),
    ("test_batch_2", ["test_batch_2", "is not one of"]),
    ("data_batch_3", ["holds data_batch_3 twice"]),
    (None, ["lacks data_batch_5"]),
])
def test_a_cifar_tarball_is_read_by_its_exact_members(tmp_path, extra, words):
    """Before: any member whose name held 'data_batch' was trained on (a copy of the test batch, say); only
    `paddle-cnn data cifar10` checked the md5."""
    path = os.path.join(tmp_path, "cifar-10-python.tar.gz")
    names = [f"data_batch_{i}" for i in range(1, 5 if extra is None else 6)] + ["test_batch"] + \
        ([extra] if extra else [])
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            blob = pickle.dumps(batch(), protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    assert_refused(run("bn-ablation", tmp_path, tmp_path / "logs"), tmp_path / "logs", *words)


def _decoded(tmp_path, im, name, **save):
    """The 8x8 image as our Caltech loader decodes it (at its own size)."""
    from paddle_cnn.data.caltech import _decode
    path = str(tmp_path / name)
    im.save(path, **save)
    return _decode([path], 8, False)[0]


def test_16_bit_and_float_images_are_scaled_not_clipped_to_white_or_black(tmp_path):
    """Before: PIL's convert('RGB') made a 16-bit PNG of mid-grey solid white and a float TIFF of 0..1 black."""
    from PIL import Image
    grey16 = Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16))  # half of 65535
    assert grey16.mode.startswith("I;16")
    assert np.all(_decoded(tmp_path, grey16, "a.png") == 128)
    ramp = Image.fromarray(np.tile(np.linspace(0, 1, 8, dtype=np.float32), (8, 1)), mode="F")
    got = _decoded(tmp_path, ramp, "b.tiff")
    assert got[0, 0].tolist() == [round(v * 255) for v in np.linspace(0, 1, 8)], got[0, 0]
    hot = Image.fromarray(np.full((8, 8), 7.5, dtype=np.float32), mode="F")  # not an image scale we can know
    from paddle_cnn.data import DataError
    with pytest.raises(DataError, match=r"c.tiff is a F image \(values 7.5..7.5\) that cannot be read as 8-bit"):
        _decoded(tmp_path, hot, "c.tiff")


def test_exif_orientation_is_applied(tmp_path):
    """A photo stored sideways with EXIF 'rotate 90' (orientation 6) is read upright, as viewers show it."""
    from PIL import Image
    a = np.zeros((8, 8, 3), dtype=np.uint8)
    a[0, :] = 255  # a white top row as stored
    exif = Image.Exif()
    exif[0x0112] = 6
    got = _decoded(tmp_path, Image.fromarray(a), "d.jpg", exif=exif, quality=100)
    assert got[:, :, -1].mean() > 200 and got[:, 0, :].mean() < 60  # the stored top row is now the right column


@pytest.mark.parametrize("label", ["1_0", "١", "+1", "0x1"])
def test_list_file_labels_are_plain_digits(tmp_path, label):
    """Before: int('1_0') is 10 (Python's digit separators), int('١') is 1."""
    lists(tmp_path, Train=f"cls/img_000.jpg {label}\n")
    o = run("classic-caltech16", tmp_path, tmp_path / "logs")
    assert_refused(o, tmp_path / "logs", "Train.txt line", "is not '<image path> <label>'")
