"""Data checked against independent code: normalisation statistics against numpy over all pixels, the pixel a
model receives written out by hand, crop offsets tested for independence with scipy, resizing against PIL and a
numpy bilinear written here, the order of augmentation and normalisation pinned, and the Caltech split against
the rule data/README.md states, written here from its words."""
from __future__ import annotations

import os

import numpy as np
import paddle
import pytest
from paddle import nn

from paddle_cnn.data import load_dataset
from paddle_cnn.data.common import ImageSet
from paddle_cnn.data.loader import DeviceData
from paddle_cnn.training import fit
from paddle_cnn.training.config import TrainConfig

scipy_stats = pytest.importorskip("scipy.stats")
QUIET = dict(progress=False, log=lambda *a: None)


def rgb_images(n=50, h=6, w=5, seed=0):
    """N x H x W x 3 uint8 whose three channels have clearly different means and spreads."""
    rng = np.random.RandomState(seed)
    return np.stack([rng.randint(0, 60, (n, h, w)), rng.randint(100, 256, (n, h, w)),
                     rng.randint(0, 256, (n, h, w))], axis=-1).astype(np.uint8)


class FirstBatch(nn.Layer):
    def __init__(self, channels):
        super().__init__()
        self.fc = nn.Linear(channels, 2)
        self.seen = []

    def forward(self, x):
        if self.training:
            self.seen.append(x.numpy().copy())
        return self.fc(x.mean(axis=[2, 3]))


# --- normalisation -----------------------------------------------------------------------------------------------

def test_per_channel_statistics_are_numpys_over_all_pixels_in_rgb_order():
    from paddle_cnn.data.adapt import image_set_of_arrays
    hwc = rgb_images()
    s = image_set_of_arrays(hwc, np.arange(len(hwc)) % 2)
    x = hwc.astype(np.float64) / 255
    want_mean = [x[..., c].mean() for c in range(3)]  # R, G, B: every pixel of every image
    want_std = [x[..., c].std() for c in range(3)]
    np.testing.assert_allclose(s.mean, want_mean, rtol=1e-6)
    np.testing.assert_allclose(s.std, want_std, rtol=1e-6)
    assert s.images.shape[1] == 3 and np.array_equal(s.images[:, 0], hwc[..., 0])  # channel 0 is red


def test_the_pixel_a_model_receives_is_written_out_by_hand():
    """fit on (images, labels): the model's input is (pixel / 255 - mean_c) / std_c, with mean_c and std_c of
    channel c over every training pixel (numpy here), per channel in RGB order."""
    hwc = rgb_images(n=16)
    labels = np.arange(16) % 2
    paddle.seed(0)
    model = FirstBatch(3)
    fit(model, (hwc, labels), None, TrainConfig(epochs=1, batch_size=16, seed=0), **QUIET)
    x = hwc.astype(np.float64) / 255
    mean = np.array([x[..., c].mean() for c in range(3)])
    std = np.array([x[..., c].std() for c in range(3)])
    want = ((x - mean) / std).transpose(0, 3, 1, 2)  # N x C x H x W
    got = model.seen[0]
    order = np.argsort(got[:, 0].reshape(16, -1).sum(1))  # the batch is shuffled: match images by content
    ref = np.argsort(want[:, 0].reshape(16, -1).sum(1))
    np.testing.assert_allclose(got[order], want[ref], rtol=1e-4, atol=1e-4)


def test_data_sets_normalise_with_their_published_statistics():
    """The constants each loader hands to training, against the published figures: MNIST 0.1307 / 0.3081;
    CIFAR-10 R, G, B means 0.4914, 0.4822, 0.4465 and stds 0.2470, 0.2435, 0.2616; Caltech with ImageNet's
    0.485, 0.456, 0.406 / 0.229, 0.224, 0.225. The embedded digits are MNIST's: numpy over their pixels lands
    within 0.001 of MNIST's figures."""
    d = load_dataset("mnist-5k")
    assert (d["train"].mean, d["train"].std) == ((0.1307,), (0.3081,))
    x = d["train"].images.astype(np.float64) / 255
    assert abs(x.mean() - 0.1307) < 1e-3 and abs(x.std() - 0.3081) < 1e-3


def test_cifar_and_caltech_loaders_hand_over_the_published_statistics(tmp_path):
    from paddle_cnn.data import fake
    fake.make_cifar_tarball(str(tmp_path))
    c = load_dataset("cifar10", str(tmp_path))["train"]
    np.testing.assert_allclose(c.mean, (0.4914, 0.4822, 0.4465), atol=5e-5)
    np.testing.assert_allclose(c.std, (0.2470, 0.2435, 0.2616), atol=5e-5)
    fake.make_caltech_folders(str(tmp_path))
    k = load_dataset("caltech16", str(tmp_path), size=16)["train"]
    np.testing.assert_allclose(k.mean, (0.485, 0.456, 0.406))
    np.testing.assert_allclose(k.std, (0.229, 0.224, 0.225))


# --- augmentation: crop offsets, and its place before normalisation ------------------------------------------------

def _raw_batches(images, augment, mean=(0.0,), std=(1.0,), **kw):
    """DeviceData whose normalisation is the identity on [0, 1] pixels: outputs are pixel / 255."""
    s = ImageSet(images, np.zeros(len(images), np.int64), ["a"], "t", mean, std)
    return DeviceData(s, augment=augment, **kw)


def test_crop_offsets_are_uniform_and_independent_on_each_axis():
    """2,000 crops of an 8x8 image padded by 4: the row and column offsets (recovered from where pixel values
    landed) are each uniform over 0..8 and independent of each other (chi-square tests with scipy)."""
    n, side, pad = 2000, 8, 4
    image = (1 + np.arange(side * side)).reshape(1, 1, side, side).astype(np.uint8)  # pixel (r, c) = 1 + 8r + c
    data = _raw_batches(np.repeat(image, n, axis=0), ("crop",))
    x, _ = data.batch(np.arange(n), np.random.RandomState(0), train=True)
    v = np.rint(x.numpy()[:, 0] * 255).astype(int)
    dy, dx = np.empty(n, int), np.empty(n, int)
    for i in range(n):
        rr, cc = np.nonzero(v[i])
        r, c = divmod(v[i][rr[0], cc[0]] - 1, side)  # where that pixel was in the image
        dy[i], dx[i] = r + pad - rr[0], c + pad - cc[0]  # out[R, C] = padded[R + dy, C + dx]
    assert dy.min() == 0 and dy.max() == 2 * pad and dx.min() == 0 and dx.max() == 2 * pad
    for d in (dy, dx):
        assert scipy_stats.chisquare(np.bincount(d, minlength=2 * pad + 1)).pvalue > 1e-3
    table = np.zeros((2 * pad + 1, 2 * pad + 1))
    np.add.at(table, (dy, dx), 1)
    assert scipy_stats.chi2_contingency(table).pvalue > 1e-3
    assert np.mean(dy == dx) < 0.2  # 1/9 when independent


def test_a_subset_is_stratified_random_within_each_class_and_fixed_by_its_seed():
    """A subset of 1,000 of 10,000 images in 10 classes stored class by class: 100 of each class, each image's
    pixels still beside its label, and the picks spread over each class's images (their ranks uniform over
    0..999, a Kolmogorov-Smirnov test with scipy), not its first 100; the same for a seed, another for another."""
    k, per_class = 10, 1000
    labels = np.repeat(np.arange(k), per_class).astype(np.int64)
    images = np.arange(k * per_class, dtype=np.float32)[:, None, None, None]  # pixel = the image's index
    s = ImageSet(images, labels, [str(c) for c in range(k)], "t", (0.0,), (1.0,))
    sub = s.subset(1000, seed=0)
    picked = sub.images[:, 0, 0, 0].astype(np.int64)
    np.testing.assert_array_equal(sub.labels, labels[picked])
    assert np.bincount(sub.labels, minlength=k).tolist() == [100] * k
    ranks = picked - labels[picked] * per_class  # position within its class
    assert scipy_stats.kstest((ranks + 0.5) / per_class, "uniform").pvalue > 1e-3
    assert len(np.unique(picked)) == 1000
    np.testing.assert_array_equal(s.subset(1000, seed=0).images, sub.images)
    assert not np.array_equal(s.subset(1000, seed=1).images, sub.images)
    assert s.subset(None) is s and s.subset(10 ** 6) is s


def test_augmentation_acts_on_pixels_before_normalisation():
    """The crop pads with black pixels (0), which normalise to -mean/std; grayscale mixes the raw R, G, B with
    0.299 / 0.587 / 0.114 and then each channel is normalised with its own mean and std."""
    white = np.full((64, 1, 8, 8), 255, np.uint8)
    x, _ = _raw_batches(white, ("crop",), mean=(0.5,), std=(0.25,)).batch(np.arange(64), np.random.RandomState(1),
                                                                          train=True)
    values = set(np.round(x.numpy().ravel(), 5).tolist())
    assert values == {2.0, -2.0}  # (1 - 0.5) / 0.25 and (0 - 0.5) / 0.25
    red = np.zeros((4, 3, 2, 2), np.uint8)
    red[:, 0] = 255
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.4, 0.2)
    x, _ = _raw_batches(red, ("grayscale",), mean=mean, std=std, grayscale_p=1.0).batch(
        np.arange(4), np.random.RandomState(0), train=True)
    for c in range(3):
        np.testing.assert_allclose(x.numpy()[:, c], (0.299 - mean[c]) / std[c], atol=1e-5)


# --- resizing ------------------------------------------------------------------------------------------------------

def numpy_bilinear(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resampling with half-pixel centres (align_corners=False), edges clamped: a C x H x W array."""
    c, h, w = img.shape

    def axis(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, fy = axis(h, out_h)
    x0, x1, fx = axis(w, out_w)
    top = img[:, y0][:, :, x0] * (1 - fx) + img[:, y0][:, :, x1] * fx
    bottom = img[:, y1][:, :, x0] * (1 - fx) + img[:, y1][:, :, x1] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]


@pytest.mark.parametrize("side", [64, 19])
def test_resizing_on_the_device_is_bilinear_as_numpy_computes_it(side):
    """TrainConfig.input_size: MNIST's 28x28 to AlexNet's input (quick: 64) and down, against numpy."""
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (3, 1, 28, 28)).astype(np.uint8)
    x, _ = _raw_batches(images, (), size=side).batch(np.arange(3))
    for i in range(3):
        np.testing.assert_allclose(x.numpy()[i], numpy_bilinear(images[i] / 255.0, side, side), atol=1e-5)


# --- the Caltech split: the rule of data/README.md, written here from its words -------------------------------------

README_CLASSES = ["airplanes", "Motorbikes", "Faces_easy", "watch", "Leopards", "bonsai", "car_side", "ketch",
                  "chandelier", "hawksbill", "grand_piano", "brain", "butterfly", "helicopter", "menorah", "starfish"]


def readme_split(root: str) -> dict:
    """data/README.md: 'Per class the sorted JPEG names are permuted with RandomState(101), at most 150 kept, and
    split 70 / 15 / 15 % into train / eval / test'; labels are the classes' places in the listed order."""
    out = {"train": [], "eval": [], "test": []}
    for label, c in enumerate(README_CLASSES):
        names = sorted(os.listdir(os.path.join(root, c)))
        names = [names[i] for i in np.random.RandomState(101).permutation(len(names))][:150]
        k_train, k_eval = round(0.70 * len(names)), round(0.15 * len(names))
        parts = {"train": names[:k_train], "eval": names[k_train:k_train + k_eval],
                 "test": names[k_train + k_eval:]}
        for s, part in parts.items():
            out[s] += [(os.path.join(root, c, n), label) for n in part]
    return out


def test_caltech_split_labels_and_pixels_follow_the_readme_and_pils_bilinear_resize(tmp_path):
    from PIL import Image
    root = tmp_path / "101_ObjectCategories"
    rng = np.random.RandomState(0)
    for k, c in enumerate(README_CLASSES):
        os.makedirs(root / c)
        count = 160 if c == "airplanes" else 20  # airplanes beyond the cap of 150
        for i in rng.permutation(count):  # written in a shuffled order: the order on disk must not matter
            h, w = rng.randint(10, 30, 2)
            Image.fromarray(rng.randint(0, 256, (h, w, 3)).astype(np.uint8)).save(root / c / f"image_{i:04d}.png")
    want = readme_split(str(root))
    assert [len(want[s]) for s in ("train", "eval", "test")] == [105 + 15 * 14, 22 + 15 * 3, 23 + 15 * 3]
    d = load_dataset("caltech16", str(tmp_path), size=12)
    for s in ("train", "eval", "test"):
        assert d[s].labels.tolist() == [lbl for _, lbl in want[s]], s
        ref = np.stack([np.asarray(Image.open(p).convert("RGB").resize((12, 12), Image.BILINEAR)).transpose(2, 0, 1)
                        for p, _ in want[s]])
        assert np.array_equal(d[s].images, ref), f"{s}: pixels are not PIL's bilinear resize of the listed files"
