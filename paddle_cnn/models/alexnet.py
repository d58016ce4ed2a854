"""AlexNet, one tower (articles 001 and 003)."""
from __future__ import annotations

import paddle.nn as nn

from paddle_cnn.models.blocks import FeatureNet, flat_features
from paddle_cnn.models.registry import register_model
from paddle_cnn.sources import cite


@register_model("alexnet", input_shape=(3, 224, 224), source=cite("a001", "AlexNet conv1-FC8") + "; "
                + cite("a003", "二.2 AlexNet"), summary="one-tower AlexNet 96-256-384-384-256, fc 4096-4096")
def alexnet(num_classes=10, in_channels=3, input_size=(224, 224), conv1_padding=2, lrn=False, dropout=0.5,
            relu_logits=False, lrn_alpha=1e-4):
    """AlexNet with the two GPU towers merged: conv 96@11x11/4, overlapping max-pool 3/2, conv 256@5x5 pad 2,
    pool, conv 384/384/256 @3x3 pad 1, pool, fc 4096 + dropout, fc 4096 + dropout, fc classes; ReLU throughout.

    The default is article 003's one-tower network: conv1 padding 2 on a 224x224 input gives 55x55x96 and 6x6x256
    before fc6, 62,378,344 parameters at 1000 classes (the paper's two-tower network, with conv2, conv4 and conv5
    grouped in two, has 60,965,224). conv1_padding=0 with input_size=227 is article 001's arithmetic
    (227x227 also gives 55x55; conv1 has 11*11*3*96 = 34,848 weights + 96 biases); padding 0 at 224 gives 54x54
    and 5x5x256 before fc6. lrn=True adds the original paper's local response normalisation after conv1 and conv2
    (article 003 omits it, article 004 says it costs much and helps little): b = a / (k + alpha * sum of a^2 over
    5 neighbouring channels)^beta with the paper's k 2, alpha 1e-4 (lrn_alpha), beta 0.75. paddle's
    LocalResponseNorm divides that sum by the window size (it averages), so it is given alpha x 5. relu_logits=True
    is article 003's code, whose last fc has act='relu' on the logits. The flatten size is computed from the input.
    """
    size = 5
    norm = (lambda: [nn.LocalResponseNorm(size, alpha=lrn_alpha * size, beta=0.75, k=2.0)]) if lrn else (lambda: [])
    features = nn.Sequential(
        nn.Conv2D(in_channels, 96, 11, stride=4, padding=conv1_padding), nn.ReLU(), *norm(),  # N x 96 x 55 x 55
        nn.MaxPool2D(3, 2),                                                                   # N x 96 x 27 x 27
        nn.Conv2D(96, 256, 5, padding=2), nn.ReLU(), *norm(),                              # N x 256 x 27 x 27
        nn.MaxPool2D(3, 2),                                                                   # N x 256 x 13 x 13
        nn.Conv2D(256, 384, 3, padding=1), nn.ReLU(),                                     # N x 384 x 13 x 13
        nn.Conv2D(384, 384, 3, padding=1), nn.ReLU(),                                     # N x 384 x 13 x 13
        nn.Conv2D(384, 256, 3, padding=1), nn.ReLU(),                                     # N x 256 x 13 x 13
        nn.MaxPool2D(3, 2),                                                                   # N x 256 x 6 x 6
    )
    classifier = nn.Sequential(
        nn.Linear(flat_features(features, in_channels, input_size), 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, num_classes), *([nn.ReLU()] if relu_logits else []),
    )
    return FeatureNet(features, classifier)
