"""The articles' layer arithmetic, checked against our layer tables.

Every 'ours' figure is computed here from `analysis.layer_table` of a registered model; the 'stated' figures are
the articles' claims (data, with their source). Where a stated number does not follow from the article's own
formula, the check says what the formula gives and which variant of the network comes closest.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from paddle_cnn.arithmetic.tables import model_table
from paddle_cnn.sources import cite

# LeCun et al. 1998, table I: how many S2 maps each of the 16 C3 maps reads (6 x 3, 6 x 4, 3 x 4, 1 x 6)
LECUN_C3_INPUTS = [3] * 6 + [4] * 9 + [6]


@dataclass
class Check:
    source: str
    claim: str
    stated: object
    ours: object
    verdict: str  # 'agrees' or 'does not follow'
    note: str = ""

    def as_dict(self):
        return asdict(self)


def _params(name: str, **kw) -> int:
    """Trainable parameters of a registered model, from its parameters' shapes: built under paddle.LazyGuard, so
    nothing is allocated (VGG19 at 1000 classes would take 0.6 GB), no layer table needed for a total."""
    import math

    import paddle

    from paddle_cnn.models import create_model
    with paddle.LazyGuard():
        model = create_model(name, **kw)
    return sum(math.prod(int(d) for d in p.shape) for p in model.parameters() if not p.stop_gradient)


def _convs(t):
    return [r for r in t if r.type == "Conv2D"]


def _check(source, claim, stated, ours, note_if_differs="", note=""):
    ok = stated == ours
    return Check(source, claim, stated, ours, "agrees" if ok else "does not follow", note if ok else note_if_differs)


def article000_checks() -> list[Check]:
    src = cite("a000", "问题1")
    t = model_table("convpool3", (3, 32, 32))
    spatial = [r.output_shape[1] for r in t if r.type in ("Conv2D", "MaxPool2D")]
    weights = [r.weights for r in t if r.weights]
    return [
        _check(src, "output sizes conv1/pool1/conv2/pool2/conv3/pool3", [28, 14, 10, 5, 1, 1], spatial),
        _deeper_fails(cite("a000", "问题3")),
        _check(src, "weights (no bias) conv1, conv2, conv3, fc", [1500, 25000, 62500, 500], weights),
        _check(src, "total weights without bias", 89_500, t.totals["weights"],
               note=f"with the {t.totals['bias']} biases the network has {t.totals['params']:,} parameters; "
                    "the article's psize formula leaves biases out"),
    ]


def _deeper_fails(src) -> Check:
    """Article 000's question 3: a fourth 5x5 conv-pool after the 1x1 map cannot be built."""
    import paddle.nn as nn

    from paddle_cnn.arithmetic.shapes import ShapeError, output_shape
    from paddle_cnn.arithmetic.tables import arithmetic_model
    features = arithmetic_model("convpool3").features
    deeper = nn.Sequential(*features, nn.Conv2D(50, 50, 5), nn.ReLU(), nn.MaxPool2D(2, 2))
    try:
        output_shape(deeper, (3, 32, 32))
        why = ""
    except ShapeError as e:
        why = str(e)
    return _check(src, "a 4th conv-pool after the 1x1 map fails (paddle: 'the output size is less than 0')", True,
                  bool(why), note=f"ours, before building: {why}")


def article001_checks() -> list[Check]:
    src = cite("a001", "LeNet 2.1-3")
    t = model_table("lenet5", (1, 32, 32))
    c1, c3, c5 = _convs(t)
    total = t.totals["params"]
    # the variants of LeNet-5 that could give the article's "60,790"
    sparse_c3 = sum(LECUN_C3_INPUTS) * 25 + 16
    f6, out_row = [r for r in t if r.type == "Linear"][-2:]
    rbf_out = out_row.weights  # RBF units: one 84-vector per class, no bias
    s_coeffs = 2 * (c1.output_shape[0] + c3.output_shape[0])  # trainable coefficient + bias per S2/S4 map
    v_sparse = total - c3.params + sparse_c3
    v_sparse_rbf = v_sparse - out_row.params + rbf_out
    v_paper = v_sparse_rbf + s_coeffs
    lecun = v_sparse - out_row.params + s_coeffs  # the paper's count: RBF output fixed, S2/S4 coefficients trained
    checks = [
        _check(src, "C1 parameters (5*5*1+1)*6", 156, c1.params),
        _check(src, "C1 FLOPs (multiplies) 5*5*1*28*28*6", 117_600, c1.macs),
        _check(src, "C5 parameters (5*5*16+1)*120", 48_120, c5.params),
        _check(src, "C5 FLOPs 120*1*1*5*5*16", 48_000, c5.macs),
        _check(src, "LeNet-5 total parameters 'about 60k (60,790)'", 60_790, total,
               note_if_differs=(f"our LeNet-5 has {total:,}: C3 fully connected ({c3.params:,}) and a linear output "
                                f"({out_row.params:,}). 60,790 is LeCun's sparse C3 with its {c3.bias} biases left "
                                f"out: {c1.params:,} + {sparse_c3 - c3.bias:,} + {c5.params:,} + {f6.params:,} + "
                                f"{out_row.params:,} (the same omission as the article's 34,848 for AlexNet's conv1). "
                                f"With C3's biases it is {v_sparse:,}; with RBF output units too ({rbf_out:,}) "
                                f"{v_sparse_rbf:,}; adding the paper's trainable S2/S4 coefficients (+{s_coeffs}) "
                                f"{v_paper:,}. LeCun et al. (1998) count {lecun:,} trainable parameters: sparse C3, "
                                f"trainable S2/S4 coefficients, and an RBF output layer that is fixed, not trained "
                                f"({v_sparse:,} - {out_row.params} + {s_coeffs}).")),
        _check(src, "60,790 = LeNet-5 with LeCun's sparse C3 whose biases are left out", 60_790,
               c1.params + (sparse_c3 - c3.bias) + c5.params + f6.params + out_row.params,
               note=f"{c1.params:,} + {sparse_c3 - c3.bias:,} (C3's 60 sparse 5x5 connections, no bias) + "
                    f"{c5.params:,} + {f6.params:,} + {out_row.params:,}"),
    ]
    return checks + _alexnet_checks() + _alexnet_slips()


def _alexnet_checks() -> list[Check]:
    """Article 001's AlexNet arithmetic, layer by layer, on its own 227x227 input without conv1 padding."""
    src = cite("a001", "AlexNet conv1")
    t = model_table("alexnet", (3, 227, 227), input_size=227, conv1_padding=0)
    a1 = t[0]
    pool1 = [r for r in t if r.type == "MaxPool2D"][0]
    checks = [
        _check(src, "conv1 output at 227x227x3 input: (227-11)/4+1", [55, 55, 96],
               [a1.output_shape[1], a1.output_shape[2], a1.output_shape[0]]),
        _check(src, "overlapping pool 3/2 output: (55-3)/2+1", 27, pool1.output_shape[1]),
        _check(src, "conv1 parameters 11*11*3*96+96 = 34,848", 34_848, a1.params,
               note_if_differs=f"11*11*3*96 = {a1.weights:,} is the weights alone; adding the {a1.bias} biases "
                               f"gives {a1.params:,}"),
    ]
    a2, a3 = _convs(t)[1:3]
    pool5 = [r for r in t if r.type == "MaxPool2D"][-1]
    fc6 = [r for r in t if r.type == "Linear"][0]
    checks += [
        _check(cite("a001", "AlexNet conv2"), "conv2 output (27-5+2x2)/1+1 = 27: 27x27x256", [27, 27, 256],
               [a2.output_shape[1], a2.output_shape[2], a2.output_shape[0]]),
        _check(cite("a001", "AlexNet conv3"), "conv3 input 13x13 (2 groups of 128 = 256), 2 x 192 = 384 kernels of "
               "3x3x256", [13, 256, 384, [256, 3, 3]],
               [a3.input_shape[1], a3.input_shape[0], a3.output_shape[0],
                [a3.weights // (a3.output_shape[0] * 9), 3, 3]]),
        _check(cite("a001", "AlexNet FC6"), "FC6 input 6x6x256 = 9216, 4096 outputs", [6, 6, 256, 9216, 4096],
               [pool5.output_shape[1], pool5.output_shape[2], pool5.output_shape[0], fc6.input_shape[0],
                fc6.output_shape[0]]),
    ]
    t224 = model_table("alexnet", (3, 224, 224), conv1_padding=0)
    h224 = t224[0].output_shape[1]
    checks.append(_check(src, "224x224 must become 227x227: without padding 224 does not give 55x55", True,
                         h224 != 55, note=f"at 224x224 without padding conv1 gives {h224}x{h224} "
                                          f"((224-11)/4+1 = {(224 - 11) / 4 + 1}, floored); article 003 pads by 2"))
    return checks


def _alexnet_slips() -> list[Check]:
    """Article 001's slips in its AlexNet text, checked against our one-tower AlexNet (224x224, conv1 padding 2)."""
    t = model_table("alexnet", (3, 224, 224), num_classes=1000)
    convs, fcs = _convs(t), [r for r in t if r.type == "Linear"]
    conv_macs, fc_macs = sum(r.macs for r in convs), sum(r.macs for r in fcs)
    share = conv_macs / (conv_macs + fc_macs)
    conv4 = convs[3]
    printed = (13 - 3 + 12) // 1 + 1
    return [
        _check(cite("a001", "AlexNet 网络结构"), "8 layers: '5 conv layers and 3 conv layers'", "5 conv + 3 conv",
               f"{len(convs)} conv + {len(fcs)} fc",
               note_if_differs="a slip: the last three layers are fully connected"),
        _check(cite("a001", "AlexNet conv4"), "conv4 output '(13-3+12)/1+1 = 13'", "(13-3+12)/1+1 = 13",
               f"(13-3+2*1)/1+1 = {conv4.output_shape[1]}",
               note_if_differs=f"the printed formula gives {printed}; with padding 1 on both sides it is "
                               f"(13-3+2)/1+1 = {(13 - 3 + 2) // 1 + 1}, our conv4's output"),
        _check(cite("a001", "AlexNet FC6"), "'the computation sits mainly in the fully connected layers'",
               "fc", "fc" if fc_macs > conv_macs else "conv",
               note_if_differs=f"the convolutions do {share:.0%} of AlexNet's multiplies ({conv_macs / 1e6:,.0f} M "
                               f"of {(conv_macs + fc_macs) / 1e6:,.0f} M MACs at 224x224); the fc layers hold "
                               f"{sum(r.params for r in fcs) / t.totals['params']:.0%} of the parameters"),
    ]


def article002_checks() -> list[Check]:
    src = cite("a002", "11、参数量对比")
    return [
        _check(src, "LeNet parameters", 61_706, model_table("lenet", (1, 28, 28)).totals["params"]),
        _check(src, "LeNet_nopool parameters", 66_346, model_table("lenet_nopool", (1, 28, 28)).totals["params"]),
    ]


def _worked_convolution(bias: float) -> list[int]:
    """Article 003's worked example (一, 卷积计算): the 3x3 input 1..9 and the 2x2 kernel 0..3 through paddle's
    conv2d with the given bias; the four outputs in order (0,0), (0,1), (1,0), (1,1)."""
    import paddle
    import paddle.nn.functional as F
    a = paddle.arange(1, 10, dtype="float32").reshape([1, 1, 3, 3])
    w = paddle.arange(0, 4, dtype="float32").reshape([1, 1, 2, 2])
    out = F.conv2d(a, w, bias=paddle.to_tensor([float(bias)]))
    return [int(round(v)) for v in out.numpy().ravel().tolist()]


def article003_checks() -> list[Check]:
    worked = cite("a003", "一 卷积计算")
    checks = [_check(worked, "the worked 2x2 convolution of the 3x3 input 1..9: 25, 31, 43, 49", [25, 31, 43, 49],
                     _worked_convolution(0), note="paddle's conv2d (a cross-correlation, as the article says)"),
              _check(worked, "the same with bias 1: 26, 32, 44, 50", [26, 32, 44, 50], _worked_convolution(1))]
    src = cite("a003", "二.1 LeNet")
    t = model_table("lenet_sigmoid", (3, 224, 224), num_classes=16)
    conv3 = _convs(t)[-1]
    checks.append(_check(src, "conv3 output 120 x 50 x 50 (fc1 input 120*50*50)", [120, 50, 50],
                         list(conv3.output_shape)))
    import paddle

    from paddle_cnn.arithmetic.shapes import output_shape
    from paddle_cnn.models import create_model
    with paddle.LazyGuard():  # shapes from the layers' own settings: its 51M-weight fc is never allocated
        features = create_model("cnn_bn", num_classes=16).features  # ends with the last stage's BN
    checks.append(_check(cite("a003", "三.1"), "six 5x5 convs and five 2/2 pools take 224x224 to 7x7x1024",
                         [1024, 7, 7], list(output_shape(features, (3, 224, 224)))))
    g, a, v = (_params(m, num_classes=16) for m in ("googlenet", "alexnet", "vgg13"))
    checks.append(_check(cite("a003", "二.4"), "GoogLeNet has fewer parameters than VGG and AlexNet", True,
                         g < a and g < v,
                         note=f"16 classes: GoogLeNet {g:,}, AlexNet {a:,}, VGG13 {v:,}"))
    return checks


def article004_checks() -> list[Check]:
    src = cite("a004", "Vgg网络结构")
    p16, p19 = (_params(m, num_classes=1000) for m in ("vgg16", "vgg19"))
    return [
        _check(src, "VGG16 (D) parameters, millions (1000 classes)", 138, round(p16 / 1e6), note=f"{p16:,}"),
        _check(src, "VGG19 (E) parameters, millions (1000 classes)", 144, round(p19 / 1e6), note=f"{p19:,}"),
        _check(src, "a 3x3 kernel has 9 weights, a 7x7 kernel 49 (per input and output channel)", [9, 49],
               [_kernel_weights(3), _kernel_weights(7)]),
    ]


def _kernel_weights(k: int) -> int:
    """Weights of one k x k kernel: a 1 -> 1 channel Conv2D without bias, counted by paddle."""
    import paddle.nn as nn
    return sum(int(p.size) for p in nn.Conv2D(1, 1, k, bias_attr=False).parameters())


def all_checks() -> list[Check]:
    return (article000_checks() + article001_checks() + article002_checks() + article003_checks()
            + article004_checks())
