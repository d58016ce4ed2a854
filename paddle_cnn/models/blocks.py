"""Small building blocks shared by the model families."""
from __future__ import annotations

import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_cnn.device import is_gpu
from paddle_cnn.shapes import ShapeError, output_shape

# fluid's `act='leaky_relu'` (article 003) used alpha 0.02; paddle.nn.LeakyReLU defaults to 0.01.
FLUID_LEAKY_SLOPE = 0.02

ACTIVATIONS = ("relu", "sigmoid", "leaky_relu", "tanh")


class Conv2D(nn.Conv2D):
    """paddle.nn.Conv2D with two CPU speed-ups: the same parameters, initialisation and outputs (checked equal).

    1. The bias is added as [C, 1, 1]. Measured on paddle 3.3.1, 2-core CPU, batch 64 x 6 x 28 x 28: paddle adds
       it as a [1, C, 1, 1] broadcast, 3.1 ms, 11x slower than the same add with a [C, 1, 1] bias (0.27 ms).
    2. On the CPU, a convolution with at most GEMM_MAX_PIXELS output pixels per image runs as one matrix
       multiply over the whole batch (unfold, then [Cout, Cin*k*k] x [Cin*k*k, N*pixels]). Paddle's CPU kernel
       loops over the images with one tiny GEMM each: VGG's 512-channel 3x3 conv on 2x2 maps, batch 128, forward
       + backward 223 ms -> 46 ms (4.8x); at 4x4 1.2x; at 8x8 and larger paddle's kernel is faster.
    Every model here uses this class (NCHW, zero padding); other data formats and padding modes, groups and
    dilation take paddle's own path.
    """

    def forward(self, x):
        if self.bias is None or self._data_format != "NCHW" or self._padding_mode != "zeros":
            return super().forward(x)
        y = self._gemm_conv(x) if self._gemm_ok(x) else F.conv2d(
            x, self.weight, None, stride=self._stride, padding=self._padding, dilation=self._dilation,
            groups=self._groups, data_format="NCHW")
        return y + self.bias.reshape([-1, 1, 1])

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        (sh, sw), (ph, pw) = _pair(self._stride), _pair(self._padding)
        kh, kw = self.weight.shape[2:]
        return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def _gemm_ok(self, x) -> bool:
        if self._groups != 1 or _pair(self._dilation) != (1, 1) or _pair(self._padding) is None \
                or _pair(self._stride) is None or is_gpu():
            return False
        ho, wo = self._out_hw(*x.shape[2:])
        return 0 < ho * wo <= GEMM_MAX_PIXELS

    def _gemm_conv(self, x):
        n, c = x.shape[:2]
        ho, wo = self._out_hw(*x.shape[2:])
        cout = self.weight.shape[0]
        cols = F.unfold(x, list(self.weight.shape[2:]), strides=list(_pair(self._stride)),
                        paddings=list(_pair(self._padding)))                      # N x K x L
        cols = cols.transpose([1, 0, 2]).reshape([cols.shape[1], n * ho * wo])     # K x N*L
        y = paddle.matmul(self.weight.reshape([cout, -1]), cols)                 # Cout x N*L
        return y.reshape([cout, n, ho, wo]).transpose([1, 0, 2, 3])              # N x Cout x Ho x Wo


GEMM_MAX_PIXELS = 4


def _pair(v):
    """(a, b) for an int or a 2-sequence of ints; None for anything else ('SAME', 4-sided padding)."""
    if isinstance(v, int):
        return v, v
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(i, int) for i in v):
        return tuple(v)
    return None


class Dropout(nn.Dropout):
    """paddle.nn.Dropout (upscale_in_train) with a faster mask on the CPU: the same distribution, and the same
    results for the same paddle.seed, since the mask's seed is drawn from paddle's generator.

    Measured on paddle 3.3.1, 2-core CPU, p 0.4: paddle's CPU generator makes ~94 M numbers/s, so its dropout is
    mostly random numbers; a numpy PCG64 mask makes forward + backward on 128 x 64 x 32 x 32 156 -> 110 ms, on
    128 x 256 x 8 x 8 40 -> 22 ms (vgg16_cifar's dropouts were 11% of its train step). On a GPU, for other modes
    or an `axis`, paddle's own kernel runs.
    """

    def forward(self, x):
        if not self.training or self.p == 0 or self.mode != "upscale_in_train" or self.axis is not None \
                or is_gpu() or self.p >= 1:
            return super().forward(x)
        seed = int(paddle.randint(0, 2**31 - 1, [1]).item())  # from paddle's generator: paddle.seed decides
        mask = np.random.default_rng(seed).random(tuple(x.shape), dtype=np.float32) >= self.p
        scaled = mask.astype(np.float32)
        scaled *= np.float32(1.0 / (1.0 - self.p))
        return x * paddle.to_tensor(scaled, dtype=x.dtype)


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
        self.b1 = nn.Sequential(Conv2D(c_in, c1, 1), make_act(act))
        self.b2 = nn.Sequential(Conv2D(c_in, c2[0], 1), make_act(act),
                                Conv2D(c2[0], c2[1], 3, padding=1), make_act(act))
        self.b3 = nn.Sequential(Conv2D(c_in, c3[0], 1), make_act(act),
                                Conv2D(c3[0], c3[1], 5, padding=2), make_act(act))
        self.b4 = nn.Sequential(nn.MaxPool2D(3, stride=1, padding=1), Conv2D(c_in, c4, 1), make_act(act))
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
