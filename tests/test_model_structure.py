"""Every registered model against the layer list its article prints, written here independently of the model code.

Each expected network is typed from the article (layer by layer: kernel, stride, padding, channels, BatchNorm,
dropout rate, activation), and this file computes each layer's output shape and parameter count from that list
with its own formulas. The model's leaves are recorded in call order by forward hooks on a real forward pass.
Any change of a channel, kernel, stride, padding, BatchNorm, dropout rate or activation fails here, naming the
first layer that differs. Shapes written after '->' are the article's own printed figures.
"""
from __future__ import annotations

import math

import paddle
import paddle.nn as nn
import pytest

from paddle_cnn.models import create_model, list_models

# ----------------------------------------------------------------------------------- the expected networks


def conv_stage(width, k, p, act, bn, n=1):
    out = []
    for _ in range(n):
        out += [f"conv {width} k{k} p{p}", act] + (["bn"] if bn else [])
    return out


def inception(c1, r3, c3, r5, c5, pp, act="relu"):
    """Inception v1 block as article 003 prints it: branches 1x1; 1x1 -> 3x3 pad 1; 1x1 -> 5x5 pad 2;
    3x3/1 max-pool pad 1 -> 1x1; every conv followed by the activation; outputs concatenated."""
    return [("inception", [f"conv {c1} k1", act],
             [f"conv {r3} k1", act, f"conv {c3} k3 p1", act],
             [f"conv {r5} k1", act, f"conv {c5} k5 p2", act],
             ["maxpool k3 s1 p1", f"conv {pp} k1", act])]


LENET_HEAD = ["linear 120", "relu", "linear 84", "relu", "linear 10"]

# article 002 (LeNet / LeNet_nopool), 28x28 MNIST
LENET = ["conv 6 k5 p2 -> 6x28x28", "relu", "maxpool k2 s2 -> 6x14x14", "conv 16 k5 -> 16x10x10",
         "maxpool k2 s2 -> 16x5x5", *LENET_HEAD]
LENET_NOPOOL = ["conv 6 k5 p2 -> 6x28x28", "relu", "conv 16 k5 s2 -> 16x12x12", "relu", "conv 16 k3 p1", "relu",
                "conv 16 k3 s2 -> 16x5x5", *LENET_HEAD]
# article 001 LeNet-5 at 32x32: C1 6@5x5 -> 28, S2, C3 16@5x5 -> 10, S4, C5 120@5x5 -> 1x1, F6 84, output
LENET5 = ["conv 6 k5 -> 6x28x28", "relu", "maxpool k2 s2 -> 6x14x14", "conv 16 k5 -> 16x10x10", "relu",
          "maxpool k2 s2 -> 16x5x5", "conv 120 k5 -> 120x1x1", "relu", "linear 84", "relu", "linear 10"]
# article 003 LeNet for 224x224, sigmoid everywhere, conv3 120@4x4 -> 120x50x50
LENET_SIGMOID = ["conv 6 k5", "sigmoid", "maxpool k2 s2", "conv 16 k5", "sigmoid", "maxpool k2 s2",
                 "conv 120 k4 -> 120x50x50", "sigmoid", "linear 84", "sigmoid", "linear 10"]
# article 000: three simple_img_conv_pool (conv 5x5 + relu + max-pool 2/2), BN after blocks 1 and 2, fc 10
CONVPOOL3 = ["conv 20 k5 -> 20x28x28", "relu", "maxpool k2 s2 -> 20x14x14", "conv 50 k5 -> 50x10x10", "relu",
             "maxpool k2 s2 -> 50x5x5", "conv 50 k5 -> 50x1x1", "relu", "maxpool k2 s2 -> 50x1x1", "linear 10"]
CONVPOOL3_BN = CONVPOOL3[:3] + ["bn"] + CONVPOOL3[3:6] + ["bn"] + CONVPOOL3[6:]
# article 001 AlexNet at 227x227: conv1 96@11x11/4 -> 55, pool 3/2 -> 27, conv2 256@5x5 pad 2, pool -> 13,
# conv 384/384/256 @3x3 pad 1, pool -> 6x6x256, fc 4096, fc 4096, fc classes (dropout 0.5 after each fc 4096)
ALEXNET_227 = ["conv 96 k11 s4 -> 96x55x55", "relu", "maxpool k3 s2 -> 96x27x27", "conv 256 k5 p2 -> 256x27x27",
               "relu", "maxpool k3 s2 -> 256x13x13", "conv 384 k3 p1", "relu", "conv 384 k3 p1", "relu",
               "conv 256 k3 p1 -> 256x13x13", "relu", "maxpool k3 s2 -> 256x6x6", "linear 4096", "relu",
               "dropout 0.5", "linear 4096", "relu", "dropout 0.5", "linear 10"]

# VGG configurations A/B/D/E (Simonyan & Zisserman, table 1; article 003 二.3, article 004)
VGG_CFG = {"vgg11": "64 M 128 M 256 256 M 512 512 M 512 512 M",
           "vgg13": "64 64 M 128 128 M 256 256 M 512 512 M 512 512 M",
           "vgg16": "64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M",
           "vgg19": "64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M"}


def vgg(cfg, bn=False):
    layers = []
    for v in cfg.split():
        layers += ["maxpool k2 s2"] if v == "M" else [f"conv {v} k3 p1"] + (["bn", "relu"] if bn else ["relu"])
    return layers + ["linear 4096", "relu", "dropout 0.5", "linear 4096", "relu", "dropout 0.5", "linear 10"]


def vgg13_article003_bn():
    """article 003 VGG_BN with layer=13: bn128 after conv4 (end of block 2), bn512 after conv9 (first of block 4),
    each after the conv's ReLU (fluid's Conv2D(act='relu') then BatchNorm)."""
    layers = vgg(VGG_CFG["vgg13"])
    convs = [i for i, l in enumerate(layers) if l.startswith("conv")]
    for conv in (convs[6], convs[3]):  # insert the later one first so the earlier index holds
        layers.insert(conv + 2, "bn")
    return layers


def vgg16_cifar():
    """article 004 `vgg`: img_conv_group per group, conv 3x3 pad 1 + BN + ReLU + dropout at the group's rates,
    max-pool 2/2; then dropout 0.5, fc 512, BN, ReLU, dropout 0.5, fc 512, fc 10."""
    groups = [(64, [.3, 0]), (128, [.4, 0]), (256, [.4, .4, 0]), (512, [.4, .4, 0]), (512, [.4, .4, 0])]
    layers = []
    for width, rates in groups:
        for r in rates:
            layers += [f"conv {width} k3 p1", "bn", "relu"] + ([f"dropout {r}"] if r else [])
        layers.append("maxpool k2 s2")
    return layers + ["flatten", "dropout 0.5", "linear 512", "bn1d", "relu", "dropout 0.5", "linear 512", "linear 10"]


# article 003 GoogLeNet: the Inception table as its code passes it ((c_in, c1), (r3, c3), (r5, c5), pool proj)
INCEPTIONS = {"3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
              "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
              "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
              "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
              "5b": (384, 192, 384, 48, 128, 128)}


def googlenet(bn=False):
    b = (lambda: ["bn"]) if bn else (lambda: [])
    pool = "maxpool k3 s2 p1"
    return ["conv 64 k7 s2 p3 -> 64x112x112", "relu", pool + " -> 64x56x56", *b(), "conv 64 k1", "relu",
            "conv 192 k3 p1 -> 192x56x56", "relu", pool + " -> 192x28x28",
            *inception(*INCEPTIONS["3a"]), "-> 256x28x28", *inception(*INCEPTIONS["3b"]), "-> 480x28x28",
            pool + " -> 480x14x14", *b(),
            *[x for k in ("4a", "4b", "4c", "4d") for x in inception(*INCEPTIONS[k])], "-> 528x14x14",
            *inception(*INCEPTIONS["4e"]), "-> 832x14x14", pool + " -> 832x7x7",
            *inception(*INCEPTIONS["5a"]), *inception(*INCEPTIONS["5b"]), "-> 1024x7x7",
            "gap -> 1024x1x1", *b(), "flatten", "dropout 0.4", "linear 10"]


# article 003 三: six conv stages 64-128-256-512-1024-1024, max-pool 2/2 after the first five (224 -> 7)
WIDTHS = (64, 128, 256, 512, 1024, 1024)
CONCAT5, CONCAT6 = (384, 384, 256, 256, 256, 128), (384, 384, 256, 256, 256, 128)  # ConcatConv args, blocks 5/6


def trick_cnn(act="sigmoid", bn=False, k=5, n=1, head="fc", dropout=0.0, concat=0):
    layers = []
    for stage, width in enumerate(WIDTHS, start=1):
        if stage >= 5 and stage - 4 <= concat:
            layers += inception(*(CONCAT5 if stage == 5 else CONCAT6), act=act) + (["bn"] if bn else [])
        else:
            layers += conv_stage(width, k, k // 2, act, bn, n)
        if stage < 6:
            layers.append("maxpool k2 s2")
    layers.append("-> 1024x7x7")
    drop = [f"dropout {dropout}"] if dropout else []
    if head == "gap":
        return layers + ["gap", "flatten", *drop, "linear 10"]
    return layers + ["linear 1024", act, *drop, "linear 10"]


LEAKY = "leaky 0.02"  # fluid's leaky_relu slope
EXPECTED = {
    # name: (input C x H x W, model kwargs, layer list, parameter total stated by the article or None)
    "lenet": ((1, 28, 28), {}, LENET, 61_706),
    "lenet_nopool": ((1, 28, 28), {}, LENET_NOPOOL, 66_346),
    "lenet5": ((1, 32, 32), {}, LENET5, None),
    "lenet_sigmoid": ((3, 224, 224), {}, LENET_SIGMOID, None),
    "convpool3": ((3, 32, 32), {}, CONVPOOL3, None),
    "convpool3_bn": ((3, 32, 32), {}, CONVPOOL3_BN, None),
    "alexnet": ((3, 227, 227), {"input_size": 227, "conv1_padding": 0}, ALEXNET_227, None),
    **{name: ((3, 224, 224), {}, vgg(cfg), None) for name, cfg in VGG_CFG.items()},
    **{f"{name}_bn": ((3, 224, 224), {}, vgg(cfg, bn=True), None) for name, cfg in VGG_CFG.items()},
    "vgg16_cifar": ((3, 32, 32), {}, vgg16_cifar(), None),
    "googlenet": ((3, 224, 224), {}, googlenet(), None),
    "googlenet_bn": ((3, 224, 224), {}, googlenet(bn=True), None),
    "cnn_sigmoid": ((3, 224, 224), {}, trick_cnn(), None),
    "cnn_bn": ((3, 224, 224), {}, trick_cnn(bn=True), None),
    "cnn_leakyrelu": ((3, 224, 224), {}, trick_cnn(LEAKY, bn=True), None),
    "cnn_gap": ((3, 224, 224), {}, trick_cnn(bn=True, head="gap"), None),
    "cnn_dropout": ((3, 224, 224), {}, trick_cnn(bn=True, dropout=0.5), None),
    "cnn_3x3": ((3, 224, 224), {}, trick_cnn(bn=True, k=3, n=2), None),
    "cnn_concat": ((3, 224, 224), {}, trick_cnn(bn=True, concat=1, dropout=0.5), None),
    "cnn_alltricks": ((3, 224, 224), {}, trick_cnn(LEAKY, bn=True, k=3, head="gap", dropout=0.5, concat=2), None),
}
VARIANTS = {  # registered models built with other options, as the experiments use them
    # article 003's AlexNet: padding 2 on 224x224 inputs also gives 55x55
    "alexnet@224 article003": ("alexnet", (3, 224, 224), {"conv1_padding": 2},
                               ["conv 96 k11 s4 p2 -> 96x55x55"] + ALEXNET_227[1:]),
    "vgg13_bn article003": ("vgg13_bn", (3, 224, 224), {"bn": "article003"}, vgg13_article003_bn()),
}


# ------------------------------------------------------------------- this file's own shape and count formulas

def _parse(line):
    words = line.split()
    kind, opts = words[0], {}
    for w in words[1:]:
        if w[0] in "ksp" and w[1:].isdigit():
            opts[w[0]] = int(w[1:])
    return kind, words, opts


def expand(layers, shape):
    """(kind text, output shape, parameter count) per leaf, from the expected list and an input shape; the
    '-> CxHxW' annotations (the articles' printed shapes) are checked on the way."""
    rows = []
    for item in layers:
        if isinstance(item, tuple):  # ("inception", branch, branch, ...): each branch from the block's input
            outs = []
            for branch in item[1:]:
                sub = expand(branch, shape)
                rows += sub
                outs.append(sub[-1][1])
            shape = (sum(o[0] for o in outs),) + outs[0][1:]
            continue
        line, _, printed = item.partition("->")
        if line.strip():
            kind, words, o = _parse(line)
            params = 0
            if kind == "conv":
                c_out, k, s, p = int(words[1]), o["k"], o.get("s", 1), o.get("p", 0)
                params = shape[0] * c_out * k * k + c_out
                shape = (c_out, (shape[1] + 2 * p - k) // s + 1, (shape[2] + 2 * p - k) // s + 1)
                line = f"conv {c_out} k{k} s{s} p{p}"
            elif kind == "maxpool":
                k, s, p = o["k"], o.get("s", o["k"]), o.get("p", 0)  # C division: a 2/2 pool keeps 1x1 (article 000)
                shape = (shape[0], int((shape[1] + 2 * p - k) / s) + 1, int((shape[2] + 2 * p - k) / s) + 1)
                line = f"maxpool k{k} s{s} p{p}"
            elif kind == "flatten":  # the reshape before the head: no layer of its own
                shape = (math.prod(shape),)
                continue
            elif kind == "gap":
                shape = (shape[0], 1, 1)
            elif kind in ("bn", "bn1d"):
                params = 2 * shape[0]
            elif kind == "linear":
                n_in, n_out = math.prod(shape), int(words[1])
                params, shape = n_in * n_out + n_out, (n_out,)
            rows.append((line.strip(), shape, params))
        if printed.strip():
            assert shape == tuple(int(v) for v in printed.strip().split("x")), (item, shape)
    return rows


# ------------------------------------------------------------------------------- the model, as it really runs

def describe(layer) -> str:
    if isinstance(layer, nn.Conv2D):
        (kh, kw), (sh, sw) = layer._kernel_size, layer._stride
        p = layer._padding
        assert kh == kw and sh == sw and isinstance(p, int) and layer.bias is not None, layer
        return f"conv {layer._out_channels} k{kh} s{sh} p{p}"
    if isinstance(layer, nn.MaxPool2D):
        assert not layer.ceil_mode
        return f"maxpool k{layer.ksize} s{layer.stride} p{layer.padding}"
    if isinstance(layer, nn.AdaptiveAvgPool2D):
        assert layer._output_size in (1, [1, 1], (1, 1)), layer._output_size
        return "gap"
    if isinstance(layer, nn.BatchNorm1D):
        return "bn1d"
    if isinstance(layer, nn.BatchNorm2D):
        return "bn"
    if isinstance(layer, nn.Dropout):
        return f"dropout {layer.p:g}"
    if isinstance(layer, nn.LeakyReLU):
        return f"leaky {layer._negative_slope:g}"
    if isinstance(layer, nn.Linear):
        return f"linear {layer.weight.shape[1]}"
    for kind, text in ((nn.ReLU, "relu"), (nn.Sigmoid, "sigmoid"), (nn.Tanh, "tanh"), (nn.LocalResponseNorm, "lrn")):
        if isinstance(layer, kind):
            return text
    return type(layer).__name__


def run_leaves(model, shape):
    """(kind text, output shape, own trainable parameters) of every leaf layer, in the order forward calls them."""
    rows, hooks = [], []
    for _, layer in model.named_sublayers():
        if layer._sub_layers:
            continue

        def post(layer, inputs, output):
            n = sum(int(p.numel()) for p in layer.parameters(include_sublayers=False) if not p.stop_gradient)
            rows.append((describe(layer), tuple(int(s) for s in output.shape[1:]), n))
        hooks.append(layer.register_forward_post_hook(post))
    model.eval()
    try:
        with paddle.no_grad():
            model(paddle.zeros([1, *shape]))
    finally:
        for h in hooks:
            h.remove()
    return rows


def first_difference(actual, expected) -> str:
    for i, (a, e) in enumerate(zip(actual, expected)):
        if a != e:
            return f"leaf {i}: model {a} vs article {e}"
    return f"model has {len(actual)} leaves, article {len(expected)}"


def check(name, shape, kw, layers, total=None):
    from paddle.nn.initializer import Constant, set_global_initializer
    set_global_initializer(Constant(0.0), Constant(0.0))  # shapes and counts only: skip the random init
    try:
        model = create_model(name, **kw)
    finally:
        set_global_initializer(None)
    actual, expected = run_leaves(model, shape), expand(layers, shape)
    assert actual == expected, first_difference(actual, expected)
    n = sum(int(p.numel()) for p in model.parameters() if not p.stop_gradient)
    assert n == sum(r[2] for r in expected)  # no parameter outside the called leaves
    if total is not None:
        assert n == total


def test_every_registered_model_has_an_expected_layer_list():
    assert set(EXPECTED) == set(list_models())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_model_matches_the_articles_layer_list(name):
    shape, kw, layers, total = EXPECTED[name]
    check(name, shape, kw, layers, total)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_model_variants_used_by_the_experiments(variant):
    name, shape, kw, layers = VARIANTS[variant]
    check(name, shape, kw, layers)


def test_the_checker_sees_a_changed_layer():
    """The comparison itself can fail: a LeNet list with one channel changed is refused, naming the leaf."""
    wrong = ["conv 6 k5 p2", "relu", "maxpool k2 s2", "conv 12 k5", "maxpool k2 s2", *LENET_HEAD]
    with pytest.raises(AssertionError, match=r"leaf 3: model \('conv 16 k5 s1 p0'"):
        check("lenet", (1, 28, 28), {}, wrong)
