"""Small building blocks shared by the model families: plain paddle.nn layers. (The CPU speed kernels are swapped
in by training, not built into the models: paddle_cnn/training/cpu_kernels.py.)"""
from __future__ import annotations

import math

import paddle
import paddle.nn as nn

from paddle_cnn.arithmetic.shapes import ShapeError, output_shape

# fluid's `act='leaky_relu'` (article 003) used alpha 0.02; paddle.nn.LeakyReLU defaults to 0.01.
FLUID_LEAKY_SLOPE = 0.02

ACTIVATIONS = ("relu", "sigmoid", "leaky_relu", "tanh")


def make_act(name: str) -> nn.Layer:
    if name == "relu":
        return nn.ReLU()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "leaky_relu":
        return nn.LeakyReLU(FLUID_LEAKY_SLOPE)
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def as_hw(input_size) -> tuple[int, int]:
    if isinstance(input_size, int):
        return input_size, input_size
    h, w = input_size
    return int(h), int(w)


def flat_features(features: nn.Layer, in_channels: int, input_size, name: str = "features") -> int:
    """Number of features after flattening `features`' output for one (C, H, W) input: the computed flatten size."""
    h, w = as_hw(input_size)
    return math.prod(output_shape(features, (in_channels, h, w), name))


class Inception(nn.Layer):
    """Inception v1 block (article 003 `Inception` / `ConcatConv`): four branches concatenated on channels.

    c_in -> [1x1 c1] + [1x1 c2[0] -> 3x3 c2[1]] + [1x1 c3[0] -> 5x5 c3[1]] + [3x3/1 maxpool -> 1x1 c4],
    every conv followed by `act` (relu in GoogLeNet, the tricks CNN's activation in ConcatConv).
    Output channels c1 + c2[1] + c3[1] + c4; spatial size unchanged.
    """

    def __init__(self, c_in: int, c1: int, c2: tuple, c3: tuple, c4: int, act: str = "relu"):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2D(c_in, c1, 1), make_act(act))
        self.b2 = nn.Sequential(nn.Conv2D(c_in, c2[0], 1), make_act(act),
                                nn.Conv2D(c2[0], c2[1], 3, padding=1), make_act(act))
        self.b3 = nn.Sequential(nn.Conv2D(c_in, c3[0], 1), make_act(act),
                                nn.Conv2D(c3[0], c3[1], 5, padding=2), make_act(act))
        self.b4 = nn.Sequential(nn.MaxPool2D(3, stride=1, padding=1), nn.Conv2D(c_in, c4, 1), make_act(act))
        self.c_in, self.c_out = c_in, c1 + c2[1] + c3[1] + c4

    def output_shape(self, in_shape):
        if len(in_shape) != 3 or in_shape[0] != self.c_in:
            raise ShapeError(f"Inception block expects {self.c_in} input channels, got input "
                             f"{'x'.join(map(str, in_shape))}")
        return (self.c_out,) + tuple(in_shape[1:])

    def forward(self, x):
        return paddle.concat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], axis=1)


class FeatureNet(nn.Layer):
    """features -> flatten -> classifier: the shape of every network here.

    `self.features` and `self.classifier` are Sequentials, so layer tables read `features.3`, `classifier.0`.
    """

    def __init__(self, features: nn.Layer, classifier: nn.Layer):
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(paddle.flatten(self.features(x), start_axis=1))
