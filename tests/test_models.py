"""The model zoo against the articles' arithmetic and against paddle's own summary."""
import contextlib
import io

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_cnn.arithmetic.tables import ShapeError, arithmetic_only_init, count_params, layer_table
from paddle_cnn.models import UnknownModelError, create_model, list_models, model_spec

DESIGN_NAMES = ["lenet", "lenet_nopool", "lenet5", "convpool3", "convpool3_bn", "alexnet", "vgg11", "vgg13",
                "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn", "vgg16_cifar", "googlenet",
                "googlenet_bn", "cnn_sigmoid", "cnn_bn", "cnn_leakyrelu", "cnn_gap", "cnn_dropout", "cnn_3x3",
                "cnn_concat", "cnn_alltricks"]


def rows_of(table, type_name):
    return [r for r in table if r.type == type_name]


def test_every_contract_name_is_registered():
    assert set(DESIGN_NAMES) <= set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_model_forward_table_and_paddle_summary_agree(name):
    """Per model: forward (N, classes) at the native input; layer_table params == paddle.summary trainable."""
    spec = model_spec(name)
    with arithmetic_only_init():  # constant weights: shapes and counts are the same, creation 5x faster
        model = create_model(name, num_classes=7)
    model.train()
    out = model(paddle.randn([2, *spec.input_shape]))
    assert tuple(out.shape) == (2, 7)
    assert bool(paddle.isfinite(out).all())
    table = layer_table(model, spec.input_shape, name)
    with contextlib.redirect_stdout(io.StringIO()):
        info = paddle.summary(model, (1, *spec.input_shape))
    assert table.totals["params"] == int(info["trainable_params"])  # paddle's own count
    # every parameter is accounted for by a row (no layer owns parameters the table misses)
    assert sum(r.params for r in table) == int(info["trainable_params"])
    assert table.output_shape == (7,)


def test_lenet_article002_counts():
    assert count_params(create_model("lenet")) == 61_706
    assert count_params(create_model("lenet_nopool")) == 66_346


def test_convpool3_article000_q1_table():
    t = layer_table(create_model("convpool3"), (3, 32, 32))
    spatial = [r.output_shape[1] for r in t if r.type in ("Conv2D", "MaxPool2D")]
    assert spatial == [28, 14, 10, 5, 1, 1]
    assert [r.weights for r in t if r.weights] == [1_500, 25_000, 62_500, 500]
    assert t.totals["weights"] == 89_500
    # with BN the conv/fc weights are the same 89,500; BN adds its own scale and shift
    tb = layer_table(create_model("convpool3_bn"), (3, 32, 32))
    assert sum(r.weights for r in tb if r.type in ("Conv2D", "Linear")) == 89_500
    assert len(rows_of(tb, "BatchNorm2D")) == 2


def test_convpool_fourth_block_is_a_shape_error_naming_the_layer():
    """Article 000 Q3: a 4th conv5x5+pool after the 1x1 map. Paddle says EnforceNotMet (or worse); we say why."""
    with pytest.raises(ShapeError) as e:
        create_model("convpool3", depth=4)
    msg = str(e.value)
    assert "features.9" in msg and "Conv2D 5x5" in msg and "50x1x1" in msg and "-3x-3" in msg
    assert "\n" not in msg


def test_lenet5_article001_arithmetic():
    t = layer_table(create_model("lenet5"), (1, 32, 32))
    convs = rows_of(t, "Conv2D")
    assert (convs[0].params, convs[0].macs) == (156, 117_600)
    assert (convs[2].params, convs[2].macs) == (48_120, 48_000)
    assert convs[2].output_shape == (120, 1, 1)


def test_alexnet_article001_conv1():
    t = layer_table(create_model("alexnet", input_size=227, conv1_padding=0), (3, 227, 227))
    c1 = t[0]
    assert c1.type == "Conv2D" and c1.output_shape == (96, 55, 55)
    assert (c1.weights, c1.bias) == (34_848, 96)
    assert rows_of(t, "MaxPool2D")[0].output_shape == (96, 27, 27)
    assert rows_of(t, "MaxPool2D")[-1].output_shape == (256, 6, 6)


@pytest.mark.parametrize("name,count", [("vgg11", 132_863_336), ("vgg13", 133_047_848), ("vgg16", 138_357_544),
                                        ("vgg19", 143_667_240)])
def test_vgg_imagenet_counts(name, count):
    with arithmetic_only_init():
        assert count_params(create_model(name, num_classes=1000)) == count


def test_vgg_bn_modes():
    def bns(m):
        return [n for n, l in m.named_sublayers() if isinstance(l, nn.BatchNorm2D)]
    assert len(bns(create_model("vgg13_bn", input_size=32))) == 10
    assert bns(create_model("vgg13")) == []
    # article 003 VGG_BN: BN after conv4 (last of block 2) and conv9 (first of block 4), after the ReLU
    m = create_model("vgg13_bn", bn="article003", input_size=32)
    layers = list(m.features)
    where = [i for i, l in enumerate(layers) if isinstance(l, nn.BatchNorm2D)]
    assert len(where) == 2
    convs_before = [sum(isinstance(l, nn.Conv2D) for l in layers[:i]) for i in where]
    assert convs_before == [4, 7]  # vgg13 executes conv1-6 then conv9: the 7th conv is the article's conv9
    assert all(isinstance(layers[i - 1], nn.ReLU) for i in where)
    # article 003 with every BN line uncommented ('more BN hurts'): conv, ReLU, BN at each of the 10 convs
    layers = list(create_model("vgg13_bn", bn="article003_all", input_size=32).features)
    convs = [i for i, l in enumerate(layers) if isinstance(l, nn.Conv2D)]
    assert len(convs) == 10
    assert all(isinstance(layers[i + 1], nn.ReLU) and isinstance(layers[i + 2], nn.BatchNorm2D) for i in convs)
    with pytest.raises(ValueError, match="unknown VGG bn mode"):
        create_model("vgg13", bn="some")


def test_googlenet_bn_positions_and_shapes():
    m = create_model("googlenet_bn")
    t = layer_table(m, (3, 224, 224))
    bn = rows_of(t, "BatchNorm2D")
    assert [r.output_shape for r in bn] == [(64, 56, 56), (480, 14, 14), (1024, 1, 1)]
    assert len(rows_of(layer_table(create_model("googlenet"), (3, 224, 224)), "BatchNorm2D")) == 0
    # every conv has a ReLU (paddle.vision's GoogLeNet has none)
    convs = [l for l in m.sublayers() if isinstance(l, nn.Conv2D)]
    relus = [l for l in m.sublayers() if isinstance(l, nn.ReLU)]
    assert len(convs) == len(relus) == 57


def test_googlenet_with_all_of_article_003s_bn_lines():
    """GoogLeNet_BN's forward() calls bn64, bn480, bn1024 and leaves bn192 (after pool2) and bn832 (after pool4)
    commented out: batch_norm='all' uncomments them, each right after its max-pool."""
    layers = list(create_model("googlenet", batch_norm="all").features)
    bn = [i for i, l in enumerate(layers) if isinstance(l, nn.BatchNorm2D)]
    assert [layers[i]._num_features if hasattr(layers[i], "_num_features") else layers[i].weight.shape[0]
            for i in bn] == [64, 192, 480, 832, 1024]
    assert all(isinstance(layers[i - 1], (nn.MaxPool2D, nn.AdaptiveAvgPool2D)) for i in bn)
    t = layer_table(create_model("googlenet", batch_norm="all"), (3, 224, 224))
    assert [r.output_shape for r in rows_of(t, "BatchNorm2D")] == [(64, 56, 56), (192, 28, 28), (480, 14, 14),
                                                                    (832, 7, 7), (1024, 1, 1)]
    with pytest.raises(ValueError, match="batch_norm must be"):
        create_model("googlenet", batch_norm="some")


def test_trick_cnn_variants_are_one_class_configured():
    from paddle_cnn.models.tricks import VARIANTS
    assert len(VARIANTS) == 8
    kinds = {}
    for name in VARIANTS:
        with arithmetic_only_init():
            m = create_model(name, input_size=64)
        subs = m.sublayers()
        kinds[name] = {
            "bn": sum(isinstance(l, nn.BatchNorm2D) for l in subs),
            "sig": sum(isinstance(l, nn.Sigmoid) for l in subs),
            "leaky": sum(isinstance(l, nn.LeakyReLU) for l in subs),
            "gap": sum(isinstance(l, nn.AdaptiveAvgPool2D) for l in subs),
            "drop": sum(isinstance(l, nn.Dropout) for l in subs),
            "incep": sum(type(l).__name__ == "Inception" for l in subs),
        }
    assert kinds["cnn_sigmoid"]["bn"] == 0 and kinds["cnn_bn"]["bn"] == 6
    assert kinds["cnn_leakyrelu"]["sig"] == 0 and kinds["cnn_leakyrelu"]["leaky"] == 7  # 6 convs + fc1
    assert kinds["cnn_gap"]["gap"] == 1 and kinds["cnn_bn"]["gap"] == 0
    assert kinds["cnn_dropout"]["drop"] == 1 and kinds["cnn_bn"]["drop"] == 0
    assert kinds["cnn_3x3"]["bn"] == 12
    assert kinds["cnn_concat"]["incep"] == 1 and kinds["cnn_alltricks"]["incep"] == 2
    a = kinds["cnn_alltricks"]
    assert a["gap"] == 1 and a["drop"] == 1 and a["sig"] == 0 and a["bn"] == 6


def test_table_for_a_wrong_input_names_the_linear_layer():
    with pytest.raises(ShapeError, match="'classifier.0' .* expects 9216 input features, got 12544"):
        layer_table(create_model("alexnet"), (3, 256, 256))


def test_the_default_alexnet_is_the_canonical_one_tower_network():
    """224x224 with conv1 padding 2: 55x55 after conv1, 6x6x256 before fc6, 62,378,344 parameters at 1000
    classes (article 001's padding 0 at 224 would give 54x54 and 5x5x256)."""
    t = layer_table(create_model("alexnet", num_classes=1000), (3, 224, 224))
    assert t[0].output_shape == (96, 55, 55) and rows_of(t, "MaxPool2D")[-1].output_shape == (256, 6, 6)
    assert t.totals["params"] == 62_378_344
    relu = create_model("alexnet", num_classes=16, relu_logits=True)  # article 003's code: ReLU on the logits
    assert type(relu.classifier[-1]).__name__ == "ReLU" and type(create_model("alexnet").classifier[-1]).__name__ \
        == "Linear"


def test_layer_table_on_foreign_models():
    from paddle.vision.models import resnet18
    m = resnet18(num_classes=10)
    t = layer_table(m, (3, 64, 64))
    with contextlib.redirect_stdout(io.StringIO()):
        info = paddle.summary(m, (1, 3, 64, 64))
    assert t.totals["params"] == int(info["trainable_params"])
    assert t.output_shape == (10,)
    # a layer shared across calls (article 003 reuses one pool module 5 times): one row per call, params once
    pool = nn.MaxPool2D(2, 2)
    conv = nn.Conv2D(1, 1, 3, padding=1)

    class Shared(nn.Layer):
        def __init__(self):
            super().__init__()
            self.pool, self.conv = pool, conv

        def forward(self, x):
            return self.pool(self.conv(self.pool(self.conv(x))))
    t = layer_table(Shared(), (1, 8, 8))
    assert [r.output_shape for r in t] == [(1, 8, 8), (1, 4, 4), (1, 4, 4), (1, 2, 2)]
    assert t.totals["params"] == 10 and sum(r.params for r in t) == 10
    assert [r.macs for r in t if r.type == "Conv2D"] == [9 * 64, 9 * 16]


def test_unused_layers_are_listed_with_their_params():
    class Unused(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)
            self.spare = nn.BatchNorm1D(3)  # never called, like article 003's commented-out BN lines

        def forward(self, x):
            return self.fc(paddle.flatten(x, 1))
    t = layer_table(Unused(), (1, 2, 2))
    assert t.totals["params"] == 10 + 6
    assert [r.output_shape for r in t if r.name == "spare"] == [()]


def test_models_take_other_inputs_and_heads():
    assert tuple(create_model("vgg16", num_classes=16, input_size=32)(paddle.randn([2, 3, 32, 32])).shape) == (2, 16)
    m = create_model("alexnet", num_classes=10, in_channels=1, input_size=(227, 227))
    assert tuple(m(paddle.randn([2, 1, 227, 227])).shape) == (2, 10)
    t = layer_table(create_model("alexnet", conv1_padding=2), (3, 224, 224))  # article 003's padding
    assert t[0].output_shape == (96, 55, 55)
    assert tuple(create_model("googlenet", num_classes=16)(paddle.randn([2, 3, 64, 64])).shape) == (2, 16)


def test_unknown_model_and_bad_num_classes():
    with pytest.raises(UnknownModelError, match="did you mean lenet"):
        create_model("lenett")
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        create_model("lenet", num_classes=1)


def test_same_seed_same_initial_weights():
    paddle.seed(3)
    a = create_model("lenet").state_dict()
    paddle.seed(3)
    b = create_model("lenet").state_dict()
    paddle.seed(4)
    c = create_model("lenet").state_dict()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert not np.array_equal(a["features.0.weight"].numpy(), c["features.0.weight"].numpy())


@pytest.mark.parametrize("kw,hw", [(dict(kernel_size=5, padding=2), (11, 9)), (dict(kernel_size=3, stride=2), (11, 9)),
                                   (dict(kernel_size=3, padding=[1, 2]), (11, 9)), (dict(kernel_size=1, groups=2), (11, 9)),
                                   (dict(kernel_size=3, padding="SAME", dilation=2), (11, 9)),
                                   # small outputs: the batch-wide GEMM path
                                   (dict(kernel_size=3, padding=1), (2, 2)), (dict(kernel_size=3, stride=2), (5, 5)),
                                   (dict(kernel_size=1), (1, 3)), (dict(kernel_size=[2, 3], padding=[1, 0]), (2, 3))])
def test_fast_conv_equals_paddle_conv(kw, hw):
    """training.cpu_kernels' Conv2D (bias added as [C,1,1]; one GEMM over the batch for small outputs) gives
    paddle.nn.Conv2D's outputs and gradients, for the input as well as the parameters."""
    from paddle_cnn.training.cpu_kernels import GEMM_MAX_PIXELS, apply_cpu_kernels
    paddle.seed(1)
    ref = nn.Conv2D(4, 6, **kw)
    paddle.seed(1)
    fast = nn.Conv2D(4, 6, **kw)
    apply_cpu_kernels(fast)
    x = paddle.randn([3, 4, *hw])
    x.stop_gradient = False
    a = ref(x)
    gx_ref = paddle.grad(a.square().sum(), x)[0].numpy()
    b = fast(x)
    assert type(fast).__name__ == "FastConv2D"
    assert (fast.kernel_for(x.shape) == "gemm") == (a.shape[2] * a.shape[3] <= GEMM_MAX_PIXELS
                                                    and kw.get("groups", 1) == 1 and "dilation" not in kw)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    gx = paddle.grad(b.square().sum(), x)[0].numpy()
    np.testing.assert_allclose(gx_ref, gx, rtol=1e-4, atol=1e-5)
    ref(x).square().sum().backward()
    fast(x).square().sum().backward()
    for p, q in zip(ref.parameters(), fast.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_fast_dropout_has_paddles_semantics():
    """training.cpu_kernels' Dropout: identity in eval; in training a fraction p of zeros and the rest scaled by
    1/(1-p) (paddle's upscale_in_train), the gradient through the same mask, the same mask for the same paddle.seed.
    Swapped in and out of a model by cpu_kernels(); the model itself stays plain paddle.nn."""
    from paddle_cnn.training.cpu_kernels import FastDropout, cpu_kernels
    d = nn.Dropout(0.4)
    with cpu_kernels(d):
        assert type(d) is FastDropout
        _check_fast_dropout(d)
    assert type(d) is nn.Dropout
    model = create_model("vgg16_cifar")
    with cpu_kernels(model):
        assert any(isinstance(layer, FastDropout) for layer in model.sublayers())
    assert not any(isinstance(layer, FastDropout) for layer in model.sublayers())


def _check_fast_dropout(d):
    x = paddle.uniform([64, 32, 8, 8], min=0.5, max=1.5)
    d.eval()
    assert np.array_equal(d(x).numpy(), x.numpy())
    d.train()
    paddle.seed(7)
    x.stop_gradient = False
    y = d(x)
    zero = y.numpy() == 0
    assert abs(zero.mean() - 0.4) < 0.01  # 131,072 draws: std of the fraction ~0.0014
    np.testing.assert_allclose(y.numpy()[~zero], x.numpy()[~zero] / 0.6, rtol=1e-6)
    (g,) = paddle.grad(y.sum(), x)
    np.testing.assert_allclose(g.numpy(), np.where(zero, 0.0, 1 / 0.6), rtol=1e-6)
    paddle.seed(7)
    assert np.array_equal(d(x).numpy(), y.numpy())
    paddle.seed(8)
    assert not np.array_equal(d(x).numpy(), y.numpy())


@pytest.mark.parametrize("name", ["lenet", "vgg16_cifar", "googlenet", "cnn_alltricks"])
def test_help_on_a_model_shows_its_own_docstring(name):
    """help(create_model(name)) is the model's own text: its name, summary and its factory's docstring, in a
    subprocess as a user types it (pydoc's plain renderer is what help() prints)."""
    import inspect
    import subprocess
    import sys
    spec = model_spec(name)
    code = ("import pydoc, paddle_cnn\n"
            f"print(pydoc.render_doc(paddle_cnn.create_model({name!r}, num_classes=16), renderer=pydoc.plaintext))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    own = inspect.cleandoc(spec.factory.__doc__).splitlines()[0]
    assert f"class {name}(" in shown and spec.summary in shown and own in shown
    other = inspect.cleandoc(model_spec("alexnet").factory.__doc__).splitlines()[0]
    assert other not in shown  # not a shared, generic text
    model = create_model(name)
    assert isinstance(model, nn.Layer) and repr(model).startswith(f"{name}(")
    assert type(model) is type(create_model(name))  # one class per name, not one per call


def test_alexnet_lrn_is_the_papers_formula():
    """b_i = a_i / (k + alpha * sum_{j=i-2..i+2} a_j^2)^beta with the AlexNet paper's k 2, n 5, alpha 1e-4, beta
    0.75 (a sum, not a mean: paddle's LocalResponseNorm averages, which would make alpha 5x weaker), in numpy."""
    import numpy as np
    import paddle
    import paddle.nn as nn

    from paddle_cnn.models import create_model
    m = create_model("alexnet", num_classes=10, input_size=(64, 64), lrn=True)
    lrns = [x for x in m.sublayers() if isinstance(x, nn.LocalResponseNorm)]
    assert len(lrns) == 2
    a = np.random.RandomState(0).normal(0, 40, (2, 9, 3, 3)).astype(np.float32)
    sq = a.astype(np.float64) ** 2
    want = np.empty_like(sq)
    for i in range(9):
        s = sq[:, max(0, i - 2):min(9, i + 3)].sum(axis=1)
        want[:, i] = a[:, i] / (2.0 + 1e-4 * s) ** 0.75
    got = lrns[0](paddle.to_tensor(a)).numpy()
    assert np.allclose(got, want, rtol=1e-5), np.abs(got - want).max()


def test_the_papers_two_tower_alexnet_count_quoted_in_the_docstring():
    """The grouped (two-GPU) AlexNet of the paper, built from paddle layers here: conv2, conv4, conv5 in 2 groups,
    1000 classes. Its count is the one the alexnet docstring quotes beside our one-tower 62,378,344."""
    import paddle.nn as nn

    from paddle_cnn.models.alexnet import alexnet
    layers = [nn.Conv2D(3, 96, 11), nn.Conv2D(96, 256, 5, groups=2), nn.Conv2D(256, 384, 3),
              nn.Conv2D(384, 384, 3, groups=2), nn.Conv2D(384, 256, 3, groups=2), nn.Linear(9216, 4096),
              nn.Linear(4096, 4096), nn.Linear(4096, 1000)]
    grouped = sum(int(p.size) for layer in layers for p in layer.parameters())
    assert f"{grouped:,}" in alexnet.__doc__ and "62,378,344" in alexnet.__doc__
