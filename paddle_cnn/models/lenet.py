"""LeNet family: article 002's LeNet and its stride-2 variant, classic LeNet-5 (article 001), and article 003's
sigmoid LeNet for 224x224 images."""
from __future__ import annotations

import paddle.nn as nn

from paddle_cnn.models.blocks import FeatureNet, flat_features, make_act
from paddle_cnn.models.registry import register_model
from paddle_cnn.sources import cite

A001 = cite("a001", "LeNet 2-3")
A002 = cite("a002", "LeNet / LeNet_nopool")
A003 = cite("a003", "二.1 LeNet")


def _mlp_head(n_in: int, num_classes: int, act: str = "relu") -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, 120), make_act(act), nn.Linear(120, 84), make_act(act),
                         nn.Linear(84, num_classes))


@register_model("lenet", input_shape=(1, 28, 28), summary="LeNet with max-pooling (article 002)", source=A002)
def lenet(num_classes=10, in_channels=1, input_size=(28, 28)):
    """Article 002 `LeNet`: conv 6@5x5 pad 2 + ReLU, maxpool 2/2, conv 16@5x5, maxpool 2/2, fc 120-84-classes.

    Faithful to the article's forward(): conv2 has no activation (kept, so the comparison is the article's);
    the article's second ReLU right after pool1 acts on non-negative values and is omitted (a no-op).
    61,706 parameters at 28x28 and 10 classes.
    """
    features = nn.Sequential(
        nn.Conv2D(in_channels, 6, 5, padding=2), nn.ReLU(),  # N x 6 x 28 x 28
        nn.MaxPool2D(2, 2),                                  # N x 6 x 14 x 14
        nn.Conv2D(6, 16, 5),                              # N x 16 x 10 x 10
        nn.MaxPool2D(2, 2),                                  # N x 16 x 5 x 5
    )
    return FeatureNet(features, _mlp_head(flat_features(features, in_channels, input_size), num_classes))


@register_model("lenet_nopool", input_shape=(1, 28, 28), source=A002,
                summary="LeNet with stride-2 convs instead of max-pooling (article 002)")
def lenet_nopool(num_classes=10, in_channels=1, input_size=(28, 28)):
    """Article 002 `LeNet_nopool`: the max-pools replaced by stride-2 convolutions, plus an extra 3x3 conv.

    conv 6@5x5 pad 2, conv 16@5x5 stride 2, conv 16@3x3 pad 1, conv 16@3x3 stride 2 (ReLU after all but the
    last, as in the article), fc 120-84-classes. 66,346 parameters at 28x28 and 10 classes.
    """
    features = nn.Sequential(
        nn.Conv2D(in_channels, 6, 5, padding=2), nn.ReLU(),  # N x 6 x 28 x 28
        nn.Conv2D(6, 16, 5, stride=2), nn.ReLU(),         # N x 16 x 12 x 12
        nn.Conv2D(16, 16, 3, padding=1), nn.ReLU(),       # N x 16 x 12 x 12
        nn.Conv2D(16, 16, 3, stride=2),                   # N x 16 x 5 x 5
    )
    return FeatureNet(features, _mlp_head(flat_features(features, in_channels, input_size), num_classes))


@register_model("lenet5", input_shape=(1, 32, 32), source=A001,
                summary="classic LeNet-5, C5 as a 5x5 conv (article 001)")
def lenet5(num_classes=10, in_channels=1, input_size=(32, 32)):
    """Classic LeNet-5 as article 001 counts it: C1 6@5x5 (156 params, 117,600 MACs), S2 max-pool,
    C3 16@5x5, S4 max-pool, C5 120@5x5 conv on the 5x5 map (48,120 params, 48,000 MACs), F6 84, output.

    Deliberate differences from LeCun 1998: C3 is fully connected to S2 (the paper connects 60 of 96 map pairs),
    S2/S4 are plain max-pools without trainable coefficients, the activation is ReLU and the output layer is a
    linear layer (the paper's is Euclidean RBF units). The notebook 00 shows what each difference does to the
    total.
    """
    features = nn.Sequential(
        nn.Conv2D(in_channels, 6, 5), nn.ReLU(),  # C1: N x 6 x 28 x 28
        nn.MaxPool2D(2, 2),                        # S2: N x 6 x 14 x 14
        nn.Conv2D(6, 16, 5), nn.ReLU(),         # C3: N x 16 x 10 x 10
        nn.MaxPool2D(2, 2),                        # S4: N x 16 x 5 x 5
        nn.Conv2D(16, 120, 5), nn.ReLU(),       # C5: N x 120 x 1 x 1
    )
    n = flat_features(features, in_channels, input_size)
    return FeatureNet(features, nn.Sequential(nn.Linear(n, 84), nn.ReLU(), nn.Linear(84, num_classes)))


@register_model("lenet_sigmoid", input_shape=(3, 224, 224), source=A003,
                summary="article 003's sigmoid LeNet for 224x224 images (does not converge there)")
def lenet_sigmoid(num_classes=10, in_channels=3, input_size=(224, 224)):
    """Article 003 `LeNet`: conv 6@5x5 + sigmoid, maxpool 2/2, conv 16@5x5 + sigmoid, maxpool 2/2,
    conv 120@4x4 + sigmoid (50x50 maps at 224), fc 84 + sigmoid, fc classes. As in the article, no padding and
    a flatten size computed from the input (120*50*50 at 224x224)."""
    features = nn.Sequential(
        nn.Conv2D(in_channels, 6, 5), nn.Sigmoid(),  # N x 6 x 220 x 220
        nn.MaxPool2D(2, 2),                          # N x 6 x 110 x 110
        nn.Conv2D(6, 16, 5), nn.Sigmoid(),        # N x 16 x 106 x 106
        nn.MaxPool2D(2, 2),                          # N x 16 x 53 x 53
        nn.Conv2D(16, 120, 4), nn.Sigmoid(),      # N x 120 x 50 x 50
    )
    n = flat_features(features, in_channels, input_size)
    return FeatureNet(features, nn.Sequential(nn.Linear(n, 84), nn.Sigmoid(), nn.Linear(84, num_classes)))
