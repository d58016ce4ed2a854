"""Article 000's CIFAR-10 network: three fluid `simple_img_conv_pool` blocks and one fc layer."""
from __future__ import annotations

import paddle.nn as nn

from paddle_cnn.models.blocks import FeatureNet, flat_features
from paddle_cnn.models.registry import register_model
from paddle_cnn.sources import cite

A000 = cite("a000", "问题1-3")
WIDTHS = (20, 50, 50)  # filters of the article's three conv-pool blocks; further blocks keep 50


def convpool(num_classes=10, in_channels=3, input_size=(32, 32), batch_norm=False, depth=3):
    """conv 5x5 (no padding) + ReLU + max-pool 2/2, `depth` times, then fc to the classes.

    batch_norm=True puts BatchNorm after the first and second blocks, where the article's `batch_norm` calls are
    (article 000 Q2). At 32x32 the maps are 28 -> 14 -> 10 -> 5 -> 1 -> 1 and the conv/fc weights (bias
    excluded) are 1,500 + 25,000 + 62,500 + 500 = 89,500 (article 000 Q1). depth=4 is article 000 Q3's
    "deeper" network: it cannot take a 32x32 input and construction raises ShapeError naming the 4th conv.
    The article's softmax output layer is left to the loss (logits out).
    """
    layers, c = [], in_channels
    for i in range(depth):
        width = WIDTHS[i] if i < len(WIDTHS) else WIDTHS[-1]
        layers += [nn.Conv2D(c, width, 5), nn.ReLU(), nn.MaxPool2D(2, 2)]
        if batch_norm and i < 2:
            layers.append(nn.BatchNorm2D(width))
        c = width
    features = nn.Sequential(*layers)
    return FeatureNet(features, nn.Sequential(nn.Linear(flat_features(features, in_channels, input_size),
                                                        num_classes)))


register_model("convpool3", input_shape=(3, 32, 32), source=A000,
               summary="article 000 CIFAR-10 net, 3 conv-pool blocks, no BN")(convpool)
register_model("convpool3_bn", input_shape=(3, 32, 32), source=A000, batch_norm=True,
               summary="article 000 CIFAR-10 net with BatchNorm after blocks 1 and 2")(convpool)
