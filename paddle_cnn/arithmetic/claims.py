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
        _check(src, "weights (no bias) conv1, conv2, conv3, fc", [1500, 25000, 62500, 500], weights),
        _check(src, "total weights without bias", 89_500, t.totals["weights"],
               note=f"with the {t.totals['bias']} biases the network has {t.totals['params']:,} parameters; "
                    "the article's psize formula leaves biases out"),
    ]


def article001_checks() -> list[Check]:
    src = cite("a001", "LeNet 2.1-3")
    t = model_table("lenet5", (1, 32, 32))
    c1, c3, c5 = _convs(t)
    total = t.totals["params"]
    # the variants of LeNet-5 that could give the article's "60,790"
    sparse_c3 = sum(LECUN_C3_INPUTS) * 25 + 16
    out_row = [r for r in t if r.type == "Linear"][-1]
    rbf_out = out_row.weights  # RBF units: one 84-vector per class, no bias
    s_coeffs = 2 * (c1.output_shape[0] + c3.output_shape[0])  # trainable coefficient + bias per S2/S4 map
    v_sparse = total - c3.params + sparse_c3
    v_sparse_rbf = v_sparse - out_row.params + rbf_out
    v_paper = v_sparse_rbf + s_coeffs
    checks = [
        _check(src, "C1 parameters (5*5*1+1)*6", 156, c1.params),
        _check(src, "C1 FLOPs (multiplies) 5*5*1*28*28*6", 117_600, c1.macs),
        _check(src, "C5 parameters (5*5*16+1)*120", 48_120, c5.params),
        _check(src, "C5 FLOPs 120*1*1*5*5*16", 48_000, c5.macs),
        _check(src, "LeNet-5 total parameters 'about 60k (60,790)'", 60_790, total,
               note_if_differs=(f"our LeNet-5 has {total:,}: C3 fully connected ({c3.params:,}) and a linear output "
                                f"({out_row.params:,}). With LeCun's sparse C3 ({sparse_c3:,}) it is {v_sparse:,}; "
                                f"with RBF output units too ({rbf_out:,}) {v_sparse_rbf:,}; adding the paper's "
                                f"trainable S2/S4 coefficients (+{s_coeffs}) {v_paper:,}. No variant gives 60,790.")),
    ]
    src = cite("a001", "AlexNet conv1")
    t = model_table("alexnet", (3, 227, 227), input_size=227)
    a1 = t[0]
    pool1 = [r for r in t if r.type == "MaxPool2D"][0]
    checks += [
        _check(src, "conv1 output at 227x227x3 input: (227-11)/4+1", [55, 55, 96],
               [a1.output_shape[1], a1.output_shape[2], a1.output_shape[0]]),
        _check(src, "overlapping pool 3/2 output: (55-3)/2+1", 27, pool1.output_shape[1]),
        _check(src, "conv1 parameters 11*11*3*96+96 = 34,848", 34_848, a1.params,
               note_if_differs=f"11*11*3*96 = {a1.weights:,} is the weights alone; adding the {a1.bias} biases "
                               f"gives {a1.params:,}"),
    ]
    t224 = model_table("alexnet", (3, 224, 224))
    h224 = t224[0].output_shape[1]
    checks.append(_check(src, "224x224 must become 227x227: without padding 224 does not give 55x55", True,
                         h224 != 55, note=f"at 224x224 without padding conv1 gives {h224}x{h224} "
                                          f"((224-11)/4+1 = {(224 - 11) / 4 + 1}, floored); article 003 pads by 2"))
    return checks


def article002_checks() -> list[Check]:
    src = cite("a002", "11、参数量对比")
    return [
        _check(src, "LeNet parameters", 61_706, model_table("lenet", (1, 28, 28)).totals["params"]),
        _check(src, "LeNet_nopool parameters", 66_346, model_table("lenet_nopool", (1, 28, 28)).totals["params"]),
    ]


def article003_checks() -> list[Check]:
    src = cite("a003", "二.1 LeNet")
    t = model_table("lenet_sigmoid", (3, 224, 224), num_classes=16)
    conv3 = _convs(t)[-1]
    checks = [_check(src, "conv3 output 120 x 50 x 50 (fc1 input 120*50*50)", [120, 50, 50], list(conv3.output_shape))]
    t = model_table("cnn_bn", (3, 224, 224), num_classes=16)
    last = [r for r in t if r.type == "BatchNorm2D"][-1]
    checks.append(_check(cite("a003", "三.1"), "six 5x5 convs and five 2/2 pools take 224x224 to 7x7x1024",
                         [1024, 7, 7], list(last.output_shape)))
    g = model_table("googlenet", (3, 224, 224), num_classes=16).totals["params"]
    a = model_table("alexnet", (3, 224, 224), num_classes=16, conv1_padding=2).totals["params"]
    v = model_table("vgg13", (3, 224, 224), num_classes=16).totals["params"]
    checks.append(_check(cite("a003", "二.4"), "GoogLeNet has fewer parameters than VGG and AlexNet", True,
                         g < a and g < v,
                         note=f"16 classes: GoogLeNet {g:,}, AlexNet {a:,}, VGG13 {v:,}"))
    return checks


def article004_checks() -> list[Check]:
    src = cite("a004", "Vgg网络结构")
    p16 = model_table("vgg16", (3, 224, 224), num_classes=1000).totals["params"]
    p19 = model_table("vgg19", (3, 224, 224), num_classes=1000).totals["params"]
    return [
        _check(src, "VGG16 (D) parameters, millions (1000 classes)", 138, round(p16 / 1e6), note=f"{p16:,}"),
        _check(src, "VGG19 (E) parameters, millions (1000 classes)", 144, round(p19 / 1e6), note=f"{p19:,}"),
    ]


def all_checks() -> list[Check]:
    return (article000_checks() + article001_checks() + article002_checks() + article003_checks()
            + article004_checks())
