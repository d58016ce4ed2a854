"""Shape arithmetic of paddle.nn layers, computed without running them.

Used twice: models size their classifier heads from it (a computed flatten size, so every model takes any
input its architecture allows), and `analysis.layer_table` checks each layer's input before the layer runs.
Paddle itself does not check: on paddle 3.3 a 5x5 conv on a 1x1 map corrupts the heap and a 3/2 max-pool on
a 1x1 map returns a 0x0 tensor. Here both are a ShapeError naming the layer, its input and the would-be output.

Shapes are per sample (batch axis excluded): (C, H, W) for images, (F,) for vectors.
Formulas follow paddle's kernels: conv out = floor((H + pad - (d*(k-1)+1)) / s) + 1; pool out =
trunc((H + pad - k) / s) + 1 (C integer division, so a 2x2/2 pool maps 1x1 to 1x1, as article 000's table shows),
or with ceil_mode trunc((H + pad - k + s - 1) / s) + 1.
"""
from __future__ import annotations

import math
from typing import Sequence

import paddle.nn as nn


class ShapeError(ValueError):
    """A layer cannot take its input; the message is one line naming the layer, the input and why."""


def _pair(v) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    v = list(v)
    return (int(v[0]), int(v[0])) if len(v) == 1 else (int(v[0]), int(v[1]))


def _pads(padding) -> tuple[int, int, int, int]:
    """paddle padding forms -> (top, bottom, left, right)."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    p = list(padding)
    if p and isinstance(p[0], (list, tuple)):  # [[0,0],[0,0],[t,b],[l,r]] (NCHW)
        (t, b), (l, r) = p[-2], p[-1]
        return int(t), int(b), int(l), int(r)
    if len(p) == 1:
        return (int(p[0]),) * 4
    if len(p) == 2:
        return int(p[0]), int(p[0]), int(p[1]), int(p[1])
    if len(p) == 4:
        return int(p[0]), int(p[1]), int(p[2]), int(p[3])
    raise ValueError(f"unsupported padding {padding!r}")


def _ctrunc(a: int, b: int) -> int:
    """C integer division (truncates toward zero), as paddle's size formulas use."""
    q = abs(a) // b
    return q if a >= 0 else -q


def fmt_shape(shape: Sequence[int]) -> str:
    """(3, 224, 224) -> '3x224x224'."""
    return "x".join(str(int(s)) for s in shape)


def _step(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else fmt_shape(pair)


def layer_config(layer: nn.Layer) -> str:
    """'5x5, stride 1, padding 0' for convs and pools, '' for other layers."""
    if isinstance(layer, nn.Conv2D):
        k, s = _pair(layer._kernel_size), _pair(layer._stride)
        return f"{k[0]}x{k[1]}, stride {_step(s)}, padding {_pad_text(layer)}"
    if isinstance(layer, (nn.MaxPool2D, nn.AvgPool2D)):
        k = _pair(layer.ksize)
        s = _pair(layer.stride if layer.stride is not None else layer.ksize)
        return f"{k[0]}x{k[1]}, stride {_step(s)}, padding {layer.padding}"
    return ""


def describe(layer: nn.Layer) -> str:
    """'Conv2D 5x5, stride 1, padding 0' and the like, for messages."""
    config = layer_config(layer)
    return f"{type(layer).__name__} {config}" if config else type(layer).__name__


def _pad_text(conv) -> str:
    algo = getattr(conv, "_padding_algorithm", "EXPLICIT")
    if algo in ("SAME", "VALID"):
        return algo
    t, b, l, r = _pads(conv._updated_padding if hasattr(conv, "_updated_padding") else conv._padding)
    return str(t) if len({t, b, l, r}) == 1 else f"{t},{b},{l},{r}"


def _fail(name: str, layer: nn.Layer, in_shape, why: str) -> ShapeError:
    return ShapeError(f"layer '{name}' ({describe(layer)}) cannot take input {fmt_shape(in_shape)}: {why}")


def _conv_out(name, layer: nn.Conv2D, in_shape):
    if len(in_shape) != 3:
        raise _fail(name, layer, in_shape, "a Conv2D needs a CxHxW input")
    c, h, w = in_shape
    if c != layer._in_channels:
        raise _fail(name, layer, in_shape, f"it expects {layer._in_channels} input channels, got {c}")
    kh, kw = _pair(layer._kernel_size)
    sh, sw = _pair(layer._stride)
    dh, dw = _pair(layer._dilation)
    algo = getattr(layer, "_padding_algorithm", "EXPLICIT")
    if algo == "SAME":
        return layer._out_channels, math.ceil(h / sh), math.ceil(w / sw)
    t, b, l, r = (0, 0, 0, 0) if algo == "VALID" else _pads(
        layer._updated_padding if hasattr(layer, "_updated_padding") else layer._padding)
    ekh, ekw = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    nh, nw = h + t + b - ekh, w + l + r - ekw
    oh, ow = (nh // sh + 1, nw // sw + 1)
    if nh < 0 or nw < 0 or oh <= 0 or ow <= 0:
        raise _fail(name, layer, in_shape,
                    f"the output would be {fmt_shape((nh // sh + 1, nw // sw + 1))} (the {ekh}x{ekw} kernel does not fit "
                    f"the {h + t + b}x{w + l + r} padded input); use a larger input, more padding, or drop the layer")
    return layer._out_channels, oh, ow


def _pool_out(name, layer, in_shape):
    if len(in_shape) != 3:
        raise _fail(name, layer, in_shape, "a 2-D pool needs a CxHxW input")
    c, h, w = in_shape
    kh, kw = _pair(layer.ksize)
    sh, sw = _pair(layer.stride if layer.stride is not None else layer.ksize)
    pad = layer.padding
    if isinstance(pad, str):
        if pad.upper() == "SAME":
            return c, math.ceil(h / sh), math.ceil(w / sw)
        pad = 0
    t, b, l, r = _pads(pad)
    ceil = bool(getattr(layer, "ceil_mode", False))
    nh, nw = h + t + b - kh, w + l + r - kw
    if ceil:
        nh, nw = nh + sh - 1, nw + sw - 1
    oh, ow = _ctrunc(nh, sh) + 1, _ctrunc(nw, sw) + 1
    if oh <= 0 or ow <= 0:
        raise _fail(name, layer, in_shape,
                    f"the output would be {fmt_shape((oh, ow))} (a {kh}x{kw} window with stride {sh} does not fit "
                    f"{h + t + b}x{w + l + r}); use a larger input or drop the pooling layer")
    return c, oh, ow


def layer_output_shape(layer: nn.Layer, in_shape: Sequence[int], name: str = "",
                       sizes: list | None = None) -> tuple | None:
    """Output shape of `layer` for a per-sample input shape, or None when the layer type is not known here.
    sizes: when given, the element count of every output on the way is appended to it (memory estimates).

    Raises ShapeError when the layer cannot take the input.
    """
    in_shape = tuple(int(s) for s in in_shape)
    name = name or type(layer).__name__
    if isinstance(layer, nn.Sequential):
        shape = in_shape
        for child_name, child in layer.named_children():
            shape = layer_output_shape(child, shape, f"{name}.{child_name}" if name else child_name, sizes)
            if shape is None:
                return None
        return shape
    out = _leaf_output_shape(layer, in_shape, name)
    if sizes is not None and out is not None:
        sizes.append(math.prod(out))
    return out


def _leaf_output_shape(layer: nn.Layer, in_shape: tuple, name: str) -> tuple | None:
    if hasattr(layer, "output_shape") and callable(layer.output_shape):  # our composite blocks
        return tuple(layer.output_shape(in_shape))
    if isinstance(layer, nn.Conv2D):
        return _conv_out(name, layer, in_shape)
    if isinstance(layer, (nn.MaxPool2D, nn.AvgPool2D)):
        return _pool_out(name, layer, in_shape)
    if isinstance(layer, (nn.AdaptiveAvgPool2D, nn.AdaptiveMaxPool2D)):
        if len(in_shape) != 3:
            raise _fail(name, layer, in_shape, "a 2-D pool needs a CxHxW input")
        oh, ow = _pair(layer._output_size)
        return in_shape[0], (in_shape[1] if oh is None else oh), (in_shape[2] if ow is None else ow)
    if isinstance(layer, nn.Linear):
        fin, fout = layer.weight.shape
        if not in_shape or in_shape[-1] != fin:
            raise _fail(name, layer, in_shape, f"it expects {fin} input features, got "
                        f"{in_shape[-1] if in_shape else 0} (a flatten size computed for another input size?)")
        return in_shape[:-1] + (int(fout),)
    if isinstance(layer, (nn.BatchNorm, nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D)):
        c = int(layer.weight.shape[0])
        if not in_shape or in_shape[0] != c:
            raise _fail(name, layer, in_shape, f"it normalises {c} channels, got {in_shape[0] if in_shape else 0}")
        return in_shape
    if isinstance(layer, nn.Flatten):
        start, stop = getattr(layer, "start_axis", 1), getattr(layer, "stop_axis", -1)
        if start == 1 and stop == -1:
            return (math.prod(in_shape),)
        return None
    if isinstance(layer, (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.ELU, nn.Softmax,
                          nn.Dropout, nn.Dropout2D, nn.Identity, nn.LocalResponseNorm)):
        return in_shape
    return None


def output_shape(layer: nn.Layer, in_shape: Sequence[int], name: str = "") -> tuple:
    """Like layer_output_shape, but every layer type must be known (used by our models to size their heads)."""
    out = layer_output_shape(layer, in_shape, name)
    if out is None:
        raise TypeError(f"cannot infer the output shape of {type(layer).__name__} without running it")
    return out
