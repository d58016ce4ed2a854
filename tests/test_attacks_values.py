"""Reliability round 3, silently wrong numbers: a non-finite pixel or weight is stopped, never trained on, and the
way it is stopped names what and where (fit's API and the CLI)."""
import numpy as np
import paddle
import pytest

from paddle_cnn import TrainConfig, create_model, fit
from paddle_cnn.data import DataError
from paddle_cnn.training import NonFiniteLoss

QUIET = dict(progress=False, log=lambda *a: None)


def digits(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


class Floats(paddle.io.Dataset):
    """A user's own data set of float images, one of them spoiled."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], int(self.labels[i])


@pytest.mark.parametrize("spoil", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["train", "eval"])
def test_a_non_finite_pixel_in_arrays_is_refused_before_training(where, spoil):
    x, y = digits()
    ex, ey = digits(32, 1)
    (x if where == "train" else ex)[17, 0, 3, 4] = spoil
    trained = []
    model = create_model("lenet")
    from paddle_cnn.training import Callback

    class Seen(Callback):
        def on_epoch_end(self, state):
            trained.append(state.epoch)
    with pytest.raises(DataError, match=r"image 17 holds NaN or infinite values"):
        fit(model, (x, y), (ex, ey), TrainConfig(epochs=1, batch_size=16), [Seen()], **QUIET)
    assert trained == []


@pytest.mark.parametrize("in_memory", [True, False])
def test_a_non_finite_pixel_in_a_users_dataset_is_named_by_its_sample(in_memory):
    x, y = digits()
    x[41, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match=r"sample 41: the image holds 1 NaN or infinite value"):
        fit(create_model("lenet"), Floats(x, y), None,
            TrainConfig(epochs=1, batch_size=16, in_memory=in_memory, workers=0), **QUIET)


def test_weights_that_become_non_finite_stop_fit_even_when_the_loss_stays_finite():
    """NaN weights in conv1: the ReLU after it turns the NaN activations into 0, the logits are the last layer's
    bias and the loss stays at a finite ln(10)-like value; the weight check stops fit at its first read."""
    x, y = digits()
    model = create_model("lenet")
    w = model.parameters()[0]
    w.set_value(paddle.full_like(w, float("nan")))
    with pytest.raises(NonFiniteLoss) as e:
        fit(model, (x, y), None, TrainConfig(epochs=2, batch_size=16, sync_every=2), **QUIET)
    model.eval()  # the loss alone would not have stopped it: finite on these weights
    loss = paddle.nn.functional.cross_entropy(model(paddle.to_tensor(x[:16])), paddle.to_tensor(y[:16]))
    assert np.isfinite(float(loss)), float(loss)
    assert str(e.value).startswith("the weights became NaN/Inf in epoch 1 by step 2; stopped")
