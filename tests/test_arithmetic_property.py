"""Property: for random conv/pool/linear stacks and inputs, layer_table either returns shapes that match an
actual forward pass or raises ShapeError; never a raw Paddle error (nor a crash: paddle itself does not check)."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_cnn.analysis import ShapeError, layer_table


def random_stack(rng):
    layers, c = [], int(rng.randint(1, 4))
    c_in = c
    for _ in range(rng.randint(1, 5)):
        kind = rng.choice(["conv", "max", "avg"])
        k, s, p = int(rng.randint(1, 6)), int(rng.randint(1, 4)), int(rng.randint(0, 3))
        if kind == "conv":
            out = int(rng.randint(1, 5))
            layers.append(nn.Conv2D(c, out, k, stride=s, padding=min(p, k // 2 + 1)))
            c = out
        else:
            p = min(p, k // 2)  # paddle refuses pool padding above half the window up front
            layers.append((nn.MaxPool2D if kind == "max" else nn.AvgPool2D)(k, s, padding=p,
                                                                             ceil_mode=bool(rng.rand() < .3)))
        if rng.rand() < 0.3:
            layers.append(nn.ReLU())
    if rng.rand() < 0.5:
        layers += [nn.Flatten(), nn.Linear(int(rng.randint(1, 50)), 3)]
    return nn.Sequential(*layers), c_in


@pytest.mark.parametrize("seed", range(60))
def test_random_stacks(seed):
    rng = np.random.RandomState(seed)
    model, c = random_stack(rng)
    shape = (c, int(rng.randint(1, 12)), int(rng.randint(1, 12)))
    try:
        table = layer_table(model, shape)
    except ShapeError as e:
        assert "\n" not in str(e) and str(e).startswith("layer '")
        return
    model.eval()
    out = model(paddle.zeros([1, *shape]))
    assert table.output_shape == tuple(out.shape[1:])
    assert all(min(r.output_shape) >= 1 for r in table if r.output_shape)
