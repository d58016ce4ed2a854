"""GoogLeNet (Inception v1) as built in article 003: explicit stages, no auxiliary heads."""
from __future__ import annotations

import paddle.nn as nn

from paddle_cnn.models.blocks import FeatureNet, Inception, flat_features
from paddle_cnn.models.registry import register_model
from paddle_cnn.sources import cite


def googlenet(num_classes=10, in_channels=3, input_size=(224, 224), batch_norm=False, dropout=0.4):
    """Article 003 `GoogLeNet` (二.4): conv 64@7x7/2 pad 3, max-pool 3/2 pad 1, conv 64@1x1, conv 192@3x3 pad 1,
    pool, Inception 3a-3b, pool, 4a-4e, pool, 5a-5b, global average pool, dropout 0.4, fc classes.
    ReLU after every conv, as in the article (paddle.vision's GoogLeNet has none and always returns 3 outputs).

    batch_norm=True is article 003's `GoogLeNet_BN` (二.5): BatchNorm after pool1 (64 ch), after pool3 (480 ch)
    and after the global pool (1024 ch), where its forward() calls bn64, bn480 and bn1024. batch_norm='all' also
    uncomments its two other BN lines, after pool2 (192 ch) and pool4 (832 ch): 'more BN hurts' (三.6). Works
    at any input of 32x32 or more (global pooling), shapes below at 224x224.
    """
    if batch_norm not in (False, True, "all"):
        raise ValueError(f"batch_norm must be False, True (article 003's three BN layers) or 'all' (all five of its "
                         f"code), got {batch_norm!r}")
    bn = (lambda c: [nn.BatchNorm2D(c)]) if batch_norm else (lambda c: [])
    more = bn if batch_norm == "all" else (lambda c: [])  # the BN lines article 003 left commented out
    features = nn.Sequential(
        nn.Conv2D(in_channels, 64, 7, stride=2, padding=3), nn.ReLU(),  # N x 64 x 112 x 112
        nn.MaxPool2D(3, 2, padding=1), *bn(64),                          # N x 64 x 56 x 56
        nn.Conv2D(64, 64, 1), nn.ReLU(),                              # N x 64 x 56 x 56
        nn.Conv2D(64, 192, 3, padding=1), nn.ReLU(),                  # N x 192 x 56 x 56
        nn.MaxPool2D(3, 2, padding=1), *more(192),                       # N x 192 x 28 x 28
        Inception(192, 64, (96, 128), (16, 32), 32),                     # 3a: N x 256 x 28 x 28
        Inception(256, 128, (128, 192), (32, 96), 64),                   # 3b: N x 480 x 28 x 28
        nn.MaxPool2D(3, 2, padding=1), *bn(480),                         # N x 480 x 14 x 14
        Inception(480, 192, (96, 208), (16, 48), 64),                    # 4a: N x 512 x 14 x 14
        Inception(512, 160, (112, 224), (24, 64), 64),                   # 4b: N x 512 x 14 x 14
        Inception(512, 128, (128, 256), (24, 64), 64),                   # 4c: N x 512 x 14 x 14
        Inception(512, 112, (144, 288), (32, 64), 64),                   # 4d: N x 528 x 14 x 14
        Inception(528, 256, (160, 320), (32, 128), 128),                 # 4e: N x 832 x 14 x 14
        nn.MaxPool2D(3, 2, padding=1), *more(832),                       # N x 832 x 7 x 7
        Inception(832, 256, (160, 320), (32, 128), 128),                 # 5a: N x 832 x 7 x 7
        Inception(832, 384, (192, 384), (48, 128), 128),                 # 5b: N x 1024 x 7 x 7
        nn.AdaptiveAvgPool2D(1), *bn(1024),                              # N x 1024 x 1 x 1
    )
    n = flat_features(features, in_channels, input_size)  # also validates the input size
    return FeatureNet(features, nn.Sequential(nn.Dropout(dropout), nn.Linear(n, num_classes)))


_SRC = cite("a003", "二.4 GoogLeNet, 二.5 GoogLeNet_BN")
register_model("googlenet", input_shape=(3, 224, 224), source=_SRC,
               summary="Inception v1 as in article 003, no auxiliary heads")(googlenet)
register_model("googlenet_bn", input_shape=(3, 224, 224), source=_SRC, batch_norm=True,
               summary="article 003 GoogLeNet_BN: BN after pool1, pool3 and the global pool")(googlenet)
