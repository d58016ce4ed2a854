"""Metrics on hand-made logits: top-1, top-2 and the loss averaged over samples when the last batch is short;
evaluation in eval mode (dropout off, BatchNorm on its running statistics)."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_cnn.data import DeviceData
from paddle_cnn.data.common import ImageSet
from paddle_cnn.training import TrainConfig, evaluate, fit

# seven samples, four classes; the label of each and where it ranks in its row of logits
LOGITS = np.array([[4.0, 1.0, 0.0, -1.0],   # label 0: first
                   [0.0, 3.0, 2.5, 0.0],    # label 2: second
                   [1.0, 2.0, 3.0, 4.0],    # label 1: third
                   [2.0, 0.0, 0.0, 1.0],    # label 3: second
                   [0.0, 0.0, 5.0, 0.0],    # label 2: first
                   [1.0, 1.5, 2.0, 2.5],    # label 0: fourth
                   [0.5, 0.0, 0.2, 0.1]],   # label 0: first
                  dtype=np.float32)
LABELS = np.array([0, 2, 1, 3, 2, 0, 0])
TOP1, TOP2 = 3 / 7, 5 / 7


def hand_cross_entropy(logits, labels):
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return -logp[np.arange(len(labels)), labels]


class Lookup(nn.Layer):
    """Returns the hand-made logits of the sample whose index is written in its one pixel; its one parameter
    does not change them (so training cannot move the figures)."""

    def __init__(self):
        super().__init__()
        self.table = paddle.to_tensor(LOGITS)
        self.w = self.create_parameter([1], default_initializer=nn.initializer.Constant(1.0))

    def forward(self, x):
        idx = x.reshape([-1]).round().astype("int64")
        return paddle.gather(self.table, idx) + 0.0 * self.w


def indexed_set():
    images = np.arange(len(LABELS), dtype=np.uint8).reshape(-1, 1, 1, 1)
    return ImageSet(images, LABELS, list("abcd"), "hand", mean=(0.0,), std=(1 / 255,))  # pixel value = index


def test_hand_made_cross_entropy_is_what_we_think():
    assert hand_cross_entropy(np.array([[0.0, 0.0]]), np.array([1]))[0] == pytest.approx(np.log(2))


@pytest.mark.parametrize("batch", [1, 2, 3, 7, 100])
def test_evaluate_top1_top2_and_loss_on_hand_made_logits(batch):
    """Whatever the batch size (3 leaves a last batch of 1), the figures are per-sample averages."""
    ev = evaluate(Lookup(), DeviceData(indexed_set()), batch_size=batch)
    assert ev["acc"] == pytest.approx(TOP1, abs=1e-12)
    assert ev["top2"] == pytest.approx(TOP2, abs=1e-12)
    assert ev["loss"] == pytest.approx(hand_cross_entropy(LOGITS, LABELS).mean(), rel=1e-6)


def test_fit_train_loss_and_accuracy_average_over_samples_with_a_short_last_batch():
    """batch 3 over 7 samples: batches of 3, 3 and 1. The epoch's train loss is the mean over the 7 samples (not
    the mean of the 3 batch means), its accuracy 3/7."""
    h = fit(Lookup(), indexed_set(), indexed_set(), TrainConfig(epochs=2, batch_size=3, lr=0.1), progress=False,
            log=lambda *a: None)
    per_sample = hand_cross_entropy(LOGITS, LABELS)
    for epoch in range(2):
        assert h["train_loss"][epoch] == pytest.approx(per_sample.mean(), rel=1e-6)
        assert h["train_acc"][epoch] == pytest.approx(TOP1)
        assert h["eval_acc"][epoch] == pytest.approx(TOP1) and h["eval_top2"][epoch] == pytest.approx(TOP2)
    batch_means = np.mean([per_sample[i:i + 3].mean() for i in range(0, 7, 3)])
    assert abs(batch_means - per_sample.mean()) > 1e-3  # the two averages differ here, so the test can tell


def dropout_bn_net():
    return nn.Sequential(nn.Conv2D(1, 4, 3, padding=1), nn.BatchNorm2D(4), nn.ReLU(), nn.Flatten(),
                         nn.Dropout(0.5), nn.Linear(4 * 8 * 8, 3))


def test_evaluate_runs_in_eval_mode_twice_the_same():
    """A dropout + BatchNorm model evaluated twice gives identical figures, equal to a plain eval-mode forward
    (dropout off, BN on its running statistics), even when the model was left in training mode."""
    rng = np.random.RandomState(0)
    data = ImageSet(rng.randint(0, 256, (40, 1, 8, 8)).astype(np.uint8), rng.randint(0, 3, 40), list("abc"))
    paddle.seed(1)
    model = dropout_bn_net()
    model.train()
    dev = DeviceData(data)
    a, b = evaluate(model, dev, batch_size=16), evaluate(model, dev, batch_size=16)
    assert a == b
    model.eval()
    with paddle.no_grad():
        x, y = dev.batch(np.arange(40))
        logits = model(x).numpy()
    assert a["acc"] == pytest.approx((logits.argmax(1) == data.labels).mean())
    assert a["loss"] == pytest.approx(hand_cross_entropy(logits, data.labels).mean(), rel=1e-5)
    model.train()
    with paddle.no_grad():  # in training mode the same forward differs (dropout), so the check above can fail
        assert not np.allclose(model(x).numpy(), logits)


def test_fit_eval_figures_are_eval_mode_figures():
    """fit's per-epoch eval figures equal evaluate() of the trained model on un-augmented data."""
    rng = np.random.RandomState(1)
    data = ImageSet(rng.randint(0, 256, (64, 1, 8, 8)).astype(np.uint8), rng.randint(0, 3, 64), list("abc"))
    paddle.seed(2)
    model = dropout_bn_net()
    h = fit(model, data, data, TrainConfig(epochs=1, batch_size=16, augment=("crop", "flip")), progress=False,
            log=lambda *a: None)
    ev = evaluate(model, DeviceData(data))
    assert h["eval_acc"][-1] == ev["acc"] and h["eval_loss"][-1] == pytest.approx(ev["loss"], rel=1e-6)
