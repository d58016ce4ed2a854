"""Article 003's hand-built CNN (三, 手撕CNN) as ONE configurable network; the tricks are constructor arguments.

Six conv stages of 64-128-256-512-1024-1024 channels with a 2/2 max-pool after each of the first five
(224 -> 7), then a head. The article writes one class per trick; here each of its eight classes is a registered
configuration of `TrickCNN`.
"""
from __future__ import annotations

import paddle.nn as nn

from paddle_cnn.models.blocks import ACTIVATIONS, FeatureNet, Inception, flat_features, make_act
from paddle_cnn.models.registry import register_model
from paddle_cnn.sources import cite

WIDTHS = (64, 128, 256, 512, 1024, 1024)
# article 003 ConcatConv arguments for the block replacing stage 5 and the one replacing stage 6
CONCAT = {5: (512, 384, (384, 256), (256, 256), 128), 6: (1024, 384, (384, 256), (256, 256), 128)}


def trick_cnn(num_classes=10, in_channels=3, input_size=(224, 224), act="sigmoid", bn=False, head="fc",
              dropout=0.0, kernel=5, convs_per_stage=1, concat_blocks=0, fc_width=1024):
    """Build the article 003 CNN with the given tricks.

    act: activation after every conv and the hidden fc ('sigmoid' baseline, 'leaky_relu' with fluid's slope
         0.02, 'relu', 'tanh').
    bn: BatchNorm after every conv stage's activation (fluid's `Conv2D(act=...)` then `BatchNorm`, as the
        article orders them).
    head: 'fc' = flatten + fc 1024 + act + fc classes; 'gap' = global average pool + fc classes.
    dropout: rate before the last fc (0 = none).
    kernel, convs_per_stage: 5 and 1 (baseline) or 3 and 2 (two 3x3 convs instead of each 5x5).
    concat_blocks: 0, 1 or 2 stages, from stage 5 on, replaced by the multi-scale concat block (mini Inception,
        1x1/3x3/5x5/pool branches, 1024 channels out) followed by BN.
    """
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; choose one of {', '.join(ACTIVATIONS)}")
    if head not in ("fc", "gap"):
        raise ValueError(f"unknown head {head!r}; choose 'fc' or 'gap'")
    if kernel not in (3, 5) or convs_per_stage < 1:
        raise ValueError(f"kernel must be 3 or 5 and convs_per_stage >= 1, got {kernel}, {convs_per_stage}")
    if not 0 <= concat_blocks <= 2:
        raise ValueError(f"concat_blocks must be 0, 1 or 2, got {concat_blocks}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    layers, c = [], in_channels
    for stage, width in enumerate(WIDTHS, start=1):
        if stage >= 5 and stage - 4 <= concat_blocks:
            c_in, *branches = CONCAT[stage]
            layers += [Inception(c, *branches, act=act)] + ([nn.BatchNorm2D(width)] if bn else [])
        else:
            for i in range(convs_per_stage):
                layers += [nn.Conv2D(c if i == 0 else width, width, kernel, padding=kernel // 2), make_act(act)]
                layers += [nn.BatchNorm2D(width)] if bn else []
        c = width
        if stage < len(WIDTHS):
            layers.append(nn.MaxPool2D(2, 2))  # stage s output: 224 / 2**s at 224x224
    if head == "gap":
        layers.append(nn.AdaptiveAvgPool2D(1))  # N x 1024 x 1 x 1
    features = nn.Sequential(*layers)
    n = flat_features(features, in_channels, input_size)
    drop = [nn.Dropout(dropout)] if dropout else []
    if head == "gap":
        classifier = nn.Sequential(*drop, nn.Linear(n, num_classes))
    else:
        classifier = nn.Sequential(nn.Linear(n, fc_width), make_act(act), *drop, nn.Linear(fc_width, num_classes))
    return FeatureNet(features, classifier)


# name: (article 003 class and section, configuration)
VARIANTS = {
    "cnn_sigmoid": ("CNN, 三.1 (sigmoid baseline, does not converge)", dict(act="sigmoid")),
    "cnn_bn": ("CNN_BaseLine, 三.2 (BN after every conv: the baseline)", dict(bn=True)),
    "cnn_leakyrelu": ("CNN_LeakyRelu, 三.3", dict(bn=True, act="leaky_relu")),
    "cnn_gap": ("CNN_PoolReplaceFC, 三.4 (global average pool instead of fc)", dict(bn=True, head="gap")),
    "cnn_dropout": ("CNN_DropOut, 三.5 (dropout 0.5 before the last fc)", dict(bn=True, dropout=0.5)),
    "cnn_3x3": ("CNN_CoreSize3, 三.6 (two 3x3 convs per 5x5)", dict(bn=True, kernel=3, convs_per_stage=2)),
    # the article's CNN_ConcatConv code also has dropout 0.5 after fc1: kept, so this is concat + dropout
    "cnn_concat": ("CNN_ConcatConv, 三.7 (concat block for stage 5; its code also uses dropout 0.5)",
                   dict(bn=True, concat_blocks=1, dropout=0.5)),
    # all tricks: the article's CNN_AllTricks uses ONE 3x3 conv per stage (not two) and concat blocks 5 and 6
    "cnn_alltricks": ("CNN_AllTricks, 三.8 (LeakyReLU, BN, 3x3, 2 concat blocks, GAP, dropout)",
                      dict(act="leaky_relu", bn=True, head="gap", dropout=0.5, kernel=3, concat_blocks=2)),
}
for _name, (_what, _cfg) in VARIANTS.items():
    register_model(_name, input_shape=(3, 224, 224), source=cite("a003", _what.split(", ", 1)[1]),
                   summary=f"article 003 {_what}", **_cfg)(trick_cnn)
