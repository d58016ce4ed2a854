"""fit takes what paddle users have: paddle.vision data sets (with their transforms), their own paddle.io.Dataset,
(images, labels) arrays, or our ImageSet; a set too large for the device streams through paddle.io.DataLoader and
gives the same results as one held in memory."""
import os

import numpy as np
import paddle
import pytest

from paddle_cnn import TrainConfig, create_model, fit, load_dataset
from paddle_cnn.data import DataError, embedded_dir

EMBEDDED = embedded_dir()


def quiet(lines=None):
    return dict(progress=False, log=(lines.append if lines is not None else lambda *a: None))


def vision_mnist(mode, transform=None):
    prefix = "train" if mode == "train" else "t10k"
    return paddle.vision.datasets.MNIST(image_path=os.path.join(EMBEDDED, f"{prefix}-images-idx3-ubyte.gz"),
                                        label_path=os.path.join(EMBEDDED, f"{prefix}-labels-idx1-ubyte.gz"),
                                        mode=mode, transform=transform, download=False)


class Digits(paddle.io.Dataset):
    """A user's own data set: H x W x 1 uint8 arrays (channels last) and Tensor labels, one image at a time."""

    def __init__(self, split, n=None):
        d = load_dataset("mnist-5k")[split]
        self.images, self.labels = d.images[:n], d.labels[:n]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i].transpose(1, 2, 0), paddle.to_tensor(self.labels[i])


def test_paddle_vision_mnist_with_its_transforms_learns():
    """paddle.vision.datasets.MNIST on the embedded idx files, with ToTensor + Normalize (float32 C x H x W), for
    training and evaluation: LeNet learns (article 002's recipe, 2 epochs)."""
    from paddle.vision.transforms import Compose, Normalize, ToTensor
    t = Compose([ToTensor(), Normalize(mean=[0.5], std=[0.5])])
    lines = []
    hist = fit(create_model("lenet"), vision_mnist("train", t), vision_mnist("test", t),
               TrainConfig(epochs=2, batch_size=64, seed=0), **quiet(lines))
    assert hist["eval_acc"][-1] > 0.90, hist["eval_acc"]
    assert any(l.startswith("MNIST: 4,000 images 1x28x28 float32 read into the CPU's memory") for l in lines), lines


def test_a_users_own_dataset_learns_and_arrays_equal_it():
    """A user's Dataset (channels last, Tensor labels) learns; the same images given as (images, labels) arrays
    train to the same history (one normalisation rule for both)."""
    config = TrainConfig(epochs=2, batch_size=64, seed=1)
    paddle.seed(0)
    hist = fit(create_model("lenet"), Digits("train"), Digits("test"), config, **quiet())
    assert hist["eval_acc"][-1] > 0.90, hist["eval_acc"]
    d = load_dataset("mnist-5k")
    paddle.seed(0)
    same = fit(create_model("lenet"), (d["train"].images[:, 0], paddle.to_tensor(d["train"].labels)),
               (d["test"].images, d["test"].labels), config, **quiet())
    assert same["train_loss"] == hist["train_loss"] and same["eval_acc"] == hist["eval_acc"]


def test_streaming_through_a_dataloader_equals_holding_in_memory():
    """in_memory=False streams through paddle.io.DataLoader with 2 worker processes and augmentation: the same
    seed gives the same history as the data held on the device, and the choice is said in one line."""
    base = dict(epochs=2, batch_size=50, seed=2, augment=("crop", "flip"))
    runs = {}
    for in_memory in (True, False):
        lines = []
        paddle.seed(0)
        runs[in_memory] = fit(create_model("lenet"), Digits("train", 600), Digits("test", 200),
                              TrainConfig(in_memory=in_memory, workers=2, **base), **quiet(lines))
        runs[in_memory, "lines"] = lines
    assert runs[False]["train_loss"] == runs[True]["train_loss"]
    assert runs[False]["eval_acc"] == runs[True]["eval_acc"]
    streamed = [l for l in runs[False, "lines"] if "streamed through paddle.io.DataLoader (TrainConfig(in_memory="
                "False)), 2 workers" in l]
    assert len(streamed) == 2 and streamed[0].startswith("Digits: 600 images"), runs[False, "lines"]


def test_a_data_set_larger_than_the_budget_streams(monkeypatch):
    """The choice is by size: with a memory budget smaller than the data set, fit streams without being told."""
    from paddle_cnn.data import adapt
    monkeypatch.setattr(adapt, "memory_budget", lambda: 100_000)  # 600 digits take 470 kB
    lines = []
    fit(create_model("lenet"), Digits("train", 600), None, TrainConfig(epochs=1, batch_size=100, workers=0),
        **quiet(lines))
    assert any(l.startswith("Digits: 600 images streamed through paddle.io.DataLoader (0.0 GB as uint8 exceed a "
                            "quarter of the CPU's memory (0.0 GB)), 0 workers") for l in lines), lines


class Bad(paddle.io.Dataset):
    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


IMG = np.zeros((28, 28), np.uint8)


@pytest.mark.parametrize("data, message", [
    (Bad([]), "Bad: the data set is empty; fit needs at least one (image, label)"),
    (Bad([(IMG, 1), (IMG, -100)]), "Bad sample 1: label -100 is negative; fit needs class indices 0..classes-1"),
    (Bad([(IMG, 1), (IMG, 2.5)]), "Bad sample 1: the label 2.5 is not one integer class index"),
    (Bad([(IMG, 1), (np.zeros((30, 30), np.uint8), 1)]), "Bad sample 1: image 1x30x30, the first was 1x28x28"),
    (Bad([(IMG, 1), (IMG.astype(np.float32), 1)]), "Bad sample 1: a float32 image, the first was uint8"),
    (Bad([IMG]), "Bad sample 0: a sample is ndarray, not (image, label)"),
    (Bad([("a picture", 1)]), "Bad sample 0: the image is str of <U9, not numbers"),
    ((np.zeros((4, 28, 28), np.uint8), np.array([0, 1, -1, 2])), "arrays: label -1 at index 2 is negative"),
    ((np.zeros((4, 28, 28), np.uint8), np.zeros(3, np.int64)), "arrays: labels of shape (3,) and type int64 for 4"),
    (iter([(IMG, 1)]), "fit cannot read a list_iterator: give a map-style paddle.io.Dataset"),
])
def test_bad_data_is_one_line_naming_it(data, message):
    with pytest.raises(DataError) as err:
        fit(create_model("lenet"), data, None, TrainConfig(epochs=1, batch_size=2), **quiet())
    text = str(err.value)
    assert text.startswith(message) and "\n" not in text, text


@pytest.mark.parametrize("in_memory, workers", [(True, 0), (False, 0), (False, 2)])
def test_a_label_the_model_cannot_predict_is_one_line_naming_the_sample(in_memory, workers):
    """Label 10 for a 10-class model: one line naming the sample and both fixes, held in memory or streamed (also
    from DataLoader worker processes, whose errors paddle re-raises with their traceback)."""
    samples = [(IMG, i % 10) for i in range(40)]
    samples[33] = (IMG, 10)
    with pytest.raises(DataError) as err:
        fit(create_model("lenet"), Bad(samples), None,
            TrainConfig(epochs=1, batch_size=8, in_memory=in_memory, workers=workers), **quiet())
    assert str(err.value) == ("Bad sample 33: label 10 is not a class of a model with 10 outputs; labels must be "
                              "0..9 (or build the model with num_classes=11)")


def test_a_streamed_bad_sample_is_named_by_its_index():
    samples = [(IMG, 1)] * 30 + [(IMG, -1)]
    with pytest.raises(DataError) as err:
        fit(create_model("lenet"), Bad(samples), None, TrainConfig(epochs=1, batch_size=8, in_memory=False,
                                                                   workers=2), **quiet())
    assert str(err.value).startswith("Bad sample 30: label -1 is negative"), err.value


def test_the_eval_set_is_normalised_as_the_training_set(monkeypatch):
    """An eval set whose own statistics differ (here: all white) is normalised with the training set's mean and
    std, as the model was trained (its own would shift every input)."""
    from paddle_cnn.training import loop
    seen = []
    real = loop.evaluate
    monkeypatch.setattr(loop, "evaluate", lambda model, data, *a: seen.append(data) or real(model, data, *a))
    white = Bad([(np.full((28, 28), 255, np.uint8), i % 10) for i in range(20)])
    fit(create_model("lenet"), Digits("train", 200), white, TrainConfig(epochs=1, batch_size=50), **quiet())
    train_mean = load_dataset("mnist-5k")["train"].images[:200].mean() / 255
    assert abs(float(seen[0].mean[0]) - train_mean) < 0.01 and seen[0].mean[0] < 0.5
