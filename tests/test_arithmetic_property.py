"""Layer arithmetic against independent computations.

- The shape formulas of paddle_cnn.arithmetic.shapes (the ones that predict a shape before anything runs, used to size the
  models' heads and to refuse impossible inputs) against paddle's own forward pass, for every layer type and mode
  the package supports: padded, strided, dilated, grouped and 'SAME'/'VALID' convolutions, max/avg pools with
  and without ceil_mode, adaptive pools, Linear, BatchNorm. Inputs are drawn at random, not derived from the
  formulas; inputs too small for a layer must be refused, never run (paddle itself does not check them).
- Weights, biases and MACs of layer_table against numbers written out by hand.
- Random stacks through layer_table: a table whose shapes match a real forward pass, or one ShapeError line.
"""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_cnn.arithmetic.tables import ShapeError, layer_table
from paddle_cnn.arithmetic.shapes import layer_output_shape


def random_layer(rng):
    """A random conv or pool layer, and the smallest input side it can take (from its window and padding)."""
    kind = rng.choice(["conv", "conv", "max", "avg", "adaptive"])
    k, s = int(rng.randint(1, 6)), int(rng.randint(1, 4))
    if kind == "conv":
        c_in, groups = int(rng.choice([2, 4, 6])), int(rng.choice([1, 1, 2]))
        c_out = groups * int(rng.randint(1, 4))
        d = int(rng.choice([1, 1, 2]))
        mode = rng.choice(["int", "pair", "four", "same", "valid"])
        pad = {"int": int(rng.randint(0, 3)), "pair": [int(rng.randint(0, 3)), int(rng.randint(0, 3))],
               "four": [int(rng.randint(0, 3)) for _ in range(4)], "same": "SAME", "valid": "VALID"}[mode]
        if mode == "same":
            s = 1 if d > 1 else s  # paddle: 'SAME' with dilation needs stride 1
        layer = nn.Conv2D(c_in, c_out, k, stride=s, padding=pad, dilation=d, groups=groups)
        eff = d * (k - 1) + 1
        tb = {"int": (pad, pad, pad, pad) if mode == "int" else None}.get(mode)
        if mode == "pair":
            tb = (pad[0], pad[0], pad[1], pad[1])
        elif mode == "four":
            tb = tuple(pad)
        elif mode in ("same", "valid"):
            tb = (eff, eff, eff, eff) if mode == "same" else (0, 0, 0, 0)
        need = (max(1, eff - tb[0] - tb[1]), max(1, eff - tb[2] - tb[3]))
        return layer, c_in, need
    if kind == "adaptive":
        out = int(rng.randint(1, 4))
        return (nn.AdaptiveAvgPool2D(out) if rng.rand() < .5 else nn.AdaptiveMaxPool2D(out)), 3, (out, out)
    p = int(rng.randint(0, k // 2 + 1))  # paddle refuses pool padding above half the window
    ceil = bool(rng.rand() < 0.5)
    layer = (nn.MaxPool2D if kind == "max" else nn.AvgPool2D)(k, s, padding=p, ceil_mode=ceil)
    return layer, 3, (max(1, k - 2 * p),) * 2  # windows inside the padded input (smaller: see the C-division test)


@pytest.mark.parametrize("seed", range(150))
def test_shape_formula_matches_paddles_forward(seed):
    """shapes.layer_output_shape predicts the output paddle's forward pass produces, for an input drawn at random
    from the sizes the layer can take; for a smaller input it raises ShapeError (and nothing is run)."""
    rng = np.random.RandomState(seed)
    layer, c, (min_h, min_w) = random_layer(rng)
    h, w = min_h + int(rng.randint(0, 12)), min_w + int(rng.randint(0, 12))
    predicted = layer_output_shape(layer, (c, h, w), "x")
    layer.eval()
    out = layer(paddle.rand([2, c, h, w]))
    assert predicted == tuple(out.shape[1:]), (layer, (c, h, w))
    if min_h > 1 and isinstance(layer, nn.Conv2D):
        with pytest.raises(ShapeError, match=r"^layer 'x' \(.*\) cannot take input"):
            layer_output_shape(layer, (c, min_h - 1, w), "x")


@pytest.mark.parametrize("k,s,p,h", [(2, 2, 0, 5), (3, 2, 0, 6), (3, 2, 1, 6), (3, 3, 0, 7), (2, 2, 1, 4),
                                     (3, 2, 1, 7), (5, 3, 2, 9)])
def test_ceil_mode_pools_by_hand(k, s, p, h):
    """ceil_mode: ceil((h + 2p - k) / s) + 1, written out, and paddle agrees."""
    want = -(-(h + 2 * p - k) // s) + 1
    for pool in (nn.MaxPool2D(k, s, padding=p, ceil_mode=True), nn.AvgPool2D(k, s, padding=p, ceil_mode=True)):
        assert layer_output_shape(pool, (1, h, h)) == (1, want, want)
        assert tuple(pool(paddle.rand([1, 1, h, h])).shape[2:]) == (want, want)


def test_pools_on_maps_smaller_than_the_window():
    """paddle sizes pools with C integer division: a 2/2 pool keeps a 1x1 map (article 000's table: pool3 -> 1x1),
    a 3/2 pool on 1x1 would give 0x0 (paddle returns an empty tensor): refused."""
    assert layer_output_shape(nn.MaxPool2D(2, 2), (50, 1, 1)) == (50, 1, 1)
    assert tuple(nn.MaxPool2D(2, 2)(paddle.rand([1, 50, 1, 1])).shape) == (1, 50, 1, 1)
    with pytest.raises(ShapeError, match=r"cannot take input 5x1x1: the output would be 0x0"):
        layer_output_shape(nn.MaxPool2D(3, 2), (5, 1, 1), "pool")


def test_linear_bn_and_flatten_formulas():
    assert layer_output_shape(nn.Linear(12, 5), (12,)) == (5,)
    assert layer_output_shape(nn.Flatten(), (3, 2, 2)) == (12,)
    assert layer_output_shape(nn.BatchNorm2D(3), (3, 4, 5)) == (3, 4, 5)
    assert layer_output_shape(nn.BatchNorm1D(7), (7,)) == (7,)
    with pytest.raises(ShapeError, match="expects 12 input features, got 11"):
        layer_output_shape(nn.Linear(12, 5), (11,), "fc")
    with pytest.raises(ShapeError, match="normalises 3 channels, got 4"):
        layer_output_shape(nn.BatchNorm2D(3), (4, 2, 2), "bn")
    with pytest.raises(ShapeError, match="expects 4 input channels, got 3"):
        layer_output_shape(nn.Conv2D(4, 2, 3), (3, 8, 8), "conv")


def test_counts_and_macs_by_hand():
    """weights, bias, params and MACs (bias excluded, pooling/BN 0) of each layer type, against hand arithmetic."""
    net = nn.Sequential(
        nn.Conv2D(4, 6, 3, padding=1, groups=2),   # 6 x 2 x 3 x 3 = 108 weights + 6; MACs 3*3*2 * 5*5 * 6 = 2,700
        nn.BatchNorm2D(6),                         # 6 scale + 6 shift, 0 MACs
        nn.MaxPool2D(2, 2, ceil_mode=True),        # 5x5 -> 3x3, 0 MACs
        nn.Conv2D(6, 2, 1, bias_attr=False),       # 12 weights, no bias; MACs 6 * 3*3 * 2 = 108
        nn.Flatten(),                              # 18 features
        nn.Linear(18, 4),                          # 72 weights + 4; MACs 72 (the bias adds no multiply)
    )
    t = layer_table(net, (4, 5, 5))
    assert [(r.type, r.weights, r.bias, r.params, r.macs) for r in t] == [
        ("Conv2D", 108, 6, 114, 2_700), ("BatchNorm2D", 6, 6, 12, 0), ("MaxPool2D", 0, 0, 0, 0),
        ("Conv2D", 12, 0, 12, 108), ("Flatten", 0, 0, 0, 0), ("Linear", 72, 4, 76, 72)]
    assert t.totals == {"weights": 198, "bias": 16, "params": 214, "macs": 2_880, "flops": 5_760}


def test_lenet_macs_by_hand():
    """article 002's LeNet at 28x28: 5*5*1*28*28*6 + 5*5*6*10*10*16 + 400*120 + 120*84 + 84*10 MACs."""
    from paddle_cnn.models import create_model
    t = layer_table(create_model("lenet"), (1, 28, 28))
    assert [r.macs for r in t if r.macs] == [117_600, 240_000, 48_000, 10_080, 840]
    assert t.totals["macs"] == 416_520 and t.totals["params"] == 61_706


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
            p = min(p, k // 2)
            layers.append((nn.MaxPool2D if kind == "max" else nn.AvgPool2D)(k, s, padding=p,
                                                                             ceil_mode=bool(rng.rand() < .3)))
        if rng.rand() < 0.3:
            layers.append(nn.ReLU())
    if rng.rand() < 0.5:
        layers += [nn.Flatten(), nn.Linear(int(rng.randint(1, 50)), 3)]
    return nn.Sequential(*layers), c_in


@pytest.mark.parametrize("seed", range(60))
def test_random_stacks(seed):
    """layer_table on random stacks: its shapes equal a forward pass run layer by layer where the formula let each
    layer run; a ShapeError names the first layer whose input is too small (one line)."""
    rng = np.random.RandomState(seed)
    model, c = random_stack(rng)
    shape = (c, int(rng.randint(1, 12)), int(rng.randint(1, 12)))
    x, expected, refused_at = paddle.zeros([1, *shape]), [], None
    model.eval()
    for i, layer in enumerate(model):  # the forward pass, one layer at a time, stopping where paddle cannot go
        try:
            layer_output_shape(layer, tuple(x.shape[1:]), str(i))
        except ShapeError:
            refused_at = i
            break
        x = layer(x)
        expected.append(tuple(x.shape[1:]))
    if refused_at is not None:
        with pytest.raises(ShapeError) as e:
            layer_table(model, shape)
        assert "\n" not in str(e.value) and str(e.value).startswith(f"layer '{refused_at}' (")
        return
    table = layer_table(model, shape)
    assert [r.output_shape for r in table] == expected


def test_60790_is_lenet5_with_lecuns_sparse_c3_without_its_biases():
    """By hand: C1 (5*5+1)*6 = 156; C3 sparse: 6 maps read 3 of S2's, 9 read 4, 1 reads all 6 = 60 inputs of 5*5 =
    1,500 weights (its 16 biases left out); C5 (5*5*16+1)*120 = 48,120; F6 (120+1)*84 = 10,164; output (84+1)*10 =
    850: 60,790, the article's figure. The check saying so agrees; the total with C3's biases does not."""
    from paddle_cnn.arithmetic.claims import article001_checks
    hand = 156 + (6 * 3 + 9 * 4 + 6) * 25 + 48_120 + 10_164 + 850
    assert hand == 60_790
    row = next(c for c in article001_checks() if c.claim.startswith("60,790 ="))
    assert row.ours == hand and row.verdict == "agrees"
    total = next(c for c in article001_checks() if "about 60k" in c.claim)
    assert total.ours == 61_706 and total.verdict != "agrees" and "60,790 is LeCun's sparse C3" in total.note
