"""VGG: configuration tables plus one builder (Simonyan & Zisserman configs A/B/D/E; article 003's Caltech VGG
and its BN variant; article 004's VGG16 for CIFAR-10)."""
from __future__ import annotations

import paddle.nn as nn

from paddle_cnn.models.blocks import FeatureNet, flat_features
from paddle_cnn.models.registry import register_model
from paddle_cnn.sources import cite

# An entry is a conv width, (width, dropout rate after that conv) or "M" (max-pool 2/2).
CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],                       # vgg11
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],              # vgg13
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],  # vgg16
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
          512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],                                          # vgg19
    # article 004 `vgg`: img_conv_group(conv_batchnorm_drop_rate=...) per group: [0.3,0] [0.4,0] [0.4,0.4,0] x3
    "D_cifar": [(64, .3), (64, 0), "M", (128, .4), (128, 0), "M", (256, .4), (256, .4), (256, 0), "M",
                (512, .4), (512, .4), (512, 0), "M", (512, .4), (512, .4), (512, 0), "M"],
}

BN_MODES = ("none", "all", "article003", "article003_all")
# article 003 VGG_BN: BatchNorm (after the ReLU, as fluid's act-then-BN) only after the last conv of block 2
# and the first conv of block 4; every other BN line is commented out in its code.
ARTICLE003_BN_AT = {(1, -1), (3, 0)}


def make_features(cfg, in_channels: int = 3, bn: str = "none") -> nn.Sequential:
    """The one builder loop. bn: 'none'; 'all' = conv-BN-ReLU at every conv (torchvision's vgg*_bn, article 004);
    'article003' = conv-ReLU-BN at the two places of ARTICLE003_BN_AT; 'article003_all' = conv-ReLU-BN at every
    conv (article 003's code with all its BN lines uncommented: 'more BN hurts')."""
    if bn not in BN_MODES:
        raise ValueError(f"unknown VGG bn mode {bn!r}; choose one of {', '.join(BN_MODES)}")
    blocks = [[]]
    for v in cfg:  # group the config into blocks separated by "M"
        blocks[-1].append(v)
        if v == "M":
            blocks.append([])
    layers, c = [], in_channels
    for b, block in enumerate(blocks):
        convs = [v for v in block if v != "M"]
        for i, v in enumerate(convs):
            width, drop = v if isinstance(v, tuple) else (v, 0.0)
            layers.append(nn.Conv2D(c, width, 3, padding=1))
            if bn == "all":
                layers += [nn.BatchNorm2D(width), nn.ReLU()]
            elif bn == "article003_all" or (bn == "article003" and ((b, i) in ARTICLE003_BN_AT
                                                                   or (b, i - len(convs)) in ARTICLE003_BN_AT)):
                layers += [nn.ReLU(), nn.BatchNorm2D(width)]
            else:
                layers.append(nn.ReLU())
            if drop:
                layers.append(nn.Dropout(drop))
            c = width
        if "M" in block:
            layers.append(nn.MaxPool2D(2, 2))
    return nn.Sequential(*layers)


def vgg(cfg: str, num_classes=10, in_channels=3, input_size=(224, 224), bn="none", dropout=0.5):
    """VGG (article 003 section 二.3): 3x3 convs pad 1 + ReLU, max-pool 2/2 between blocks, then fc 4096 + ReLU +
    dropout, fc 4096 + ReLU + dropout, fc classes. Flatten size computed from the input (512*7*7 at 224x224),
    so the standard ImageNet parameter counts hold at 1000 classes."""
    features = make_features(CFGS[cfg], in_channels, bn)
    classifier = nn.Sequential(
        nn.Linear(flat_features(features, in_channels, input_size), 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, num_classes),
    )
    return FeatureNet(features, classifier)


_SRC = cite("a003", "二.3 VGG, 二.5 VGG_BN")
for _depth, _cfg in (("11", "A"), ("13", "B"), ("16", "D"), ("19", "E")):
    register_model(f"vgg{_depth}", input_shape=(3, 224, 224), source=_SRC, cfg=_cfg,
                   summary=f"VGG{_depth} (config {_cfg})")(vgg)
    register_model(f"vgg{_depth}_bn", input_shape=(3, 224, 224), source=_SRC, cfg=_cfg, bn="all",
                   summary=f"VGG{_depth} (config {_cfg}) with BatchNorm after every conv")(vgg)


@register_model("vgg16_cifar", input_shape=(3, 32, 32), source=cite("a004", "用PaddlePaddle实现Vgg"),
                summary="article 004 VGG16 for CIFAR-10: BN + dropout in the conv groups, fc 512")
def vgg16_cifar(num_classes=10, in_channels=3, input_size=(32, 32)):
    """Article 004 `vgg` (paddle.v2 img_conv_group): conv groups 64x2, 128x2, 256x3, 512x3, 512x3, each conv 3x3
    + BN + ReLU with the article's dropout rates, max-pool 2/2 per group; then dropout 0.5, fc 512 (linear),
    BN + ReLU + dropout 0.5, fc 512 (linear), and the training script's fc to the classes.

    Faithful detail kept: the second fc 512 and the output fc have no nonlinearity between them (both 'Linear'
    in the article); the output softmax is left to the loss."""
    features = make_features(CFGS["D_cifar"], in_channels, bn="all")
    classifier = nn.Sequential(
        nn.Dropout(0.5), nn.Linear(flat_features(features, in_channels, input_size), 512),
        nn.BatchNorm1D(512), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(512, 512),
        nn.Linear(512, num_classes),
    )
    return FeatureNet(features, classifier)
