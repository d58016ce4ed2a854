"""CPU speed kernels: the same layers, computed faster on a CPU. The models stay plain paddle.nn; `fit` swaps
these in for the length of a CPU run (TrainConfig.cpu_kernels, default on) and back afterwards. Outside fit:

    with cpu_kernels(model):      # or apply_cpu_kernels(model) / restore(swapped)
        ...

Each kernel gives paddle's results (outputs and gradients checked equal in tests/test_models.py and
tests/test_blas_conv.py). Measured on paddle 3.3.1, 2-core CPU (BENCHMARKS.md, levers 1, 3, 9 and 10):
1. Conv2D bias added as [C, 1, 1]: paddle adds it as a [1, C, 1, 1] broadcast, 3.1 ms at 64 x 6 x 28 x 28, 11x
   slower than the same add with a [C, 1, 1] bias (0.27 ms).
2. Conv2D with at most GEMM_MAX_PIXELS output pixels per image as one matrix multiply over the whole batch
   (unfold, then [Cout, Cin*k*k] x [Cin*k*k, N*pixels]). Paddle's CPU kernel loops over the images with one tiny
   GEMM each: VGG's 512-channel 3x3 conv on 2x2 maps, batch 128, forward + backward 223 ms -> 46 ms (4.8x); at
   4x4 1.2x; at 8x8 and larger paddle's kernel is faster.
3. Dropout masks from numpy's PCG64, seeded by one draw from paddle's generator (so paddle.seed decides them):
   paddle's CPU generator makes ~94 M numbers/s; forward + backward on 128 x 64 x 32 x 32 156 -> 110 ms.
4. Conv2D on numpy's BLAS (training/blas_conv.py, a PyLayer: forward, input and weight gradients) for the other
   shapes where it measured faster (`paddle-cnn bench` times every convolution both ways and says where this rule
   is wrong). Where it wins depends on the CPU: paddle's kernel is built on Intel's MKL, numpy's on OpenBLAS, and
   on an AMD EPYC MKL measured far behind, so the rule is a table per vendor (CONV_RULES, chosen from the CPU's
   vendor_id or PADDLE_CNN_CONV_RULE): on Intel only deep, wide GEMMs with weights that fit the cache and enough
   work per call; on AMD every convolution but the thinnest, small maps included. While it is on, paddle's
   OpenMP threads sleep as soon as a kernel ends (device.omp_blocktime(0)) instead of spinning for 200 ms on the
   cores numpy's BLAS threads need. Switch it off with TrainConfig(blas_conv=False) or PADDLE_CNN_BLAS_CONV=0.
   Outside fit it runs only when asked for (cpu_kernels(model, blas_conv=None or True)): a PyLayer returns a
   gradient for each of its inputs, so `paddle.grad(loss, [some inputs])` through it fails in paddle (it wants
   None for the inputs not asked for, which a PyLayer cannot know); fit's loss.backward() is not affected.
Only exact paddle.nn.Conv2D (NCHW, zero padding, with bias, no groups or dilation for the GEMM and BLAS paths)
and paddle.nn.Dropout (upscale_in_train, no axis) are swapped; everything else runs as it is.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_cnn.device import cpu_info, omp_blocktime
from paddle_cnn.training import blas_conv

GEMM_MAX_PIXELS = 4       # kernel 2 up to this many output pixels per image (unless the rule gives them to kernel 4)
BLAS_ENV = "PADDLE_CNN_BLAS_CONV"
RULE_ENV = "PADDLE_CNN_CONV_RULE"


@dataclass(frozen=True)
class ConvRule:
    """Where kernel 4 (numpy's BLAS) runs instead of paddle's kernel or kernel 2, measured per CPU vendor
    (BENCHMARKS.md, lever 10: every convolution of the models timed both ways)."""
    min_depth: int          # from this Cin*kh*kw (GEMM depth) ...
    min_cout: int           # ... and this many output channels (GEMM width) ...
    max_weights: int        # ... up to this many weights (larger weight matrices are re-read per chunk of images) ...
    min_macs: float         # ... from this many multiply-accumulates per call (batch x output pixels x depth x Cout)
    small_maps_from: int    # maps of at most GEMM_MAX_PIXELS output pixels: kernel 4 from this many, else kernel 2,
    small_maps_rows: int = 0            # ... and from this many GEMM rows per call (batch x output pixels) ...
    small_maps_weights: int = 2**62     # ... up to this many weights: kernel 4 copies its weights several times
    #                                     per step (transposes), which only enough rows pay for


CONV_RULES = {
    # 2-core Xeon (AVX-512): thin GEMMs, few input channels and small calls lose; 512 x 3x3 on 2x2 maps: kernel 2
    "intel": ConvRule(min_depth=128, min_cout=64, max_weights=2**22, min_macs=50e6,
                      small_maps_from=GEMM_MAX_PIXELS + 1),
    # 2-core EPYC (BENCHMARKS.md section 5 and lever 10): kernel 4 won 1.1-14x on 1x1 to 11x11 convolutions from
    # 16 outputs, 3-channel inputs and 2x2 maps included (at batch 128); LeNet's 6-output convolutions, 1-pixel
    # outputs and 26 M weights on 2x2 lost. Small maps at small batches (BENCHMARKS.md, lever 12: forward and
    # backward, one thread, kernel 4 against kernel 2): 512->1024 5x5 on 2x2 maps 4.17x slower at 32 rows, 1.27x at
    # 256, 0.86x at 512; 512->512 3x3 1.91x at 32 rows, 0.69x at 256; 64->128 3x3 1.16x at 32
    "amd": ConvRule(min_depth=27, min_cout=16, max_weights=2**24, min_macs=0, small_maps_from=2,
                    small_maps_rows=128, small_maps_weights=2**22),
}


def conv_rule_name() -> str:
    """PADDLE_CNN_CONV_RULE, else the CPU vendor's rule: 'amd' on AuthenticAMD, 'intel' elsewhere (the cautious
    one, for CPUs nobody measured)."""
    name = os.environ.get(RULE_ENV, "").strip().lower()
    if not name:
        return "amd" if cpu_info("vendor_id") == "AuthenticAMD" else "intel"
    if name not in CONV_RULES:
        raise ValueError(f"{RULE_ENV}={name!r} must be one of {', '.join(CONV_RULES)} (or unset: the CPU's vendor)")
    return name


def conv_rule() -> ConvRule:
    return CONV_RULES[conv_rule_name()]


def blas_conv_wanted(setting: bool | None = None) -> bool:
    """Whether kernel 4 may run: the setting if given, else PADDLE_CNN_BLAS_CONV (0 or 1; unset: 1)."""
    if setting is not None:
        return bool(setting)
    v = os.environ.get(BLAS_ENV, "1").strip()
    if v not in ("0", "1"):
        raise ValueError(f"{BLAS_ENV}={v!r} must be 0 (paddle's convolutions) or 1 (numpy's BLAS where faster)")
    return v == "1"


def _pair(v):
    """(a, b) for an int or a 2-sequence of ints; None for anything else ('SAME', 4-sided padding)."""
    if isinstance(v, int):
        return v, v
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(i, int) for i in v):
        return tuple(v)
    return None


def _to_numpy(t) -> np.ndarray:
    """The tensor's memory as a numpy array (no copy where paddle speaks DLPack: 3.x; a copy on 2.6)."""
    try:
        return np.from_dlpack(t.detach())  # detach: paddle refuses DLPack for a tensor that requires gradients
    except (AttributeError, TypeError, RuntimeError, BufferError):
        return t.numpy()


# numpy's memory is never handed to paddle (paddle.utils.dlpack.from_dlpack of a numpy array): paddle frees such
# a tensor under a lock of its own and then needs the GIL for numpy's deleter, while another Python thread that
# holds the GIL (a DataLoader's, the garbage collector in any thread) waits for that lock to free a tensor of
# its own: a deadlock, seen with paddle.Model.fit's loader thread on a busy machine (tests/test_blas_conv.py).
# Results are written into paddle's own memory through a numpy view instead, or copied.

def _to_paddle(a: np.ndarray):
    """The array as a paddle tensor of paddle's own memory (a copy)."""
    return paddle.to_tensor(a)


def _new_paddle(shape, fill):
    """A new float32 paddle tensor of `shape`, filled by fill(out) writing into a numpy view of its memory (paddle
    3.x shares it through DLPack); where paddle shares none (2.6), fill(None)'s array, copied."""
    t = paddle.empty(list(shape), dtype="float32")
    try:
        view = np.from_dlpack(t)
    except (AttributeError, TypeError, RuntimeError, BufferError):
        return paddle.to_tensor(fill(None))
    fill(view)
    return t


def _version(t) -> int:
    """paddle's count of in-place changes to a tensor (-1 where this paddle does not keep one)."""
    v = getattr(t, "_inplace_version", None)
    return v() if callable(v) else -1


class BlasConv(paddle.autograd.PyLayer):
    """conv2d(x, weight) + bias with forward and backward on numpy's BLAS (training/blas_conv.py)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.versions = (_version(x), _version(weight))
        ctx.geometry = (stride, padding)
        ctx.needs = (not x.stop_gradient, not weight.stop_gradient, not bias.stop_gradient)
        xa, wa = _to_numpy(x), _to_numpy(weight)
        shape = (xa.shape[0], wa.shape[0], *blas_conv.out_size(*xa.shape[2:], wa.shape[2:], stride, padding))
        return _new_paddle(shape, lambda out: blas_conv.conv2d_forward(xa, wa, _to_numpy(bias), stride, padding,
                                                                       out=out))

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensor()
        if (_version(x), _version(weight)) != ctx.versions:  # as paddle's own conv refuses: else wrong gradients
            raise RuntimeError("BlasConv: the input or weight of a convolution was modified in place between its "
                               "forward and backward pass; change it out of place (or run with blas_conv=False)")
        grads = blas_conv.conv2d_backward(_to_numpy(gy), _to_numpy(x), _to_numpy(weight), *ctx.geometry, *ctx.needs)
        return tuple(None if g is None else _to_paddle(g) for g in grads)


class FastConv2D(nn.Conv2D):
    """paddle.nn.Conv2D with the [C, 1, 1] bias add, the batch-wide GEMM for small outputs and numpy's BLAS."""

    blas = True  # kernel 4 allowed (apply_cpu_kernels sets it and the rule per layer)
    rule = CONV_RULES["intel"]

    def forward(self, x):
        kernel = self.kernel_for(x.shape, x.dtype)
        if kernel == "blas" and x.place.is_cpu_place():  # numpy computes on the host only
            return BlasConv.apply(x, self.weight, self.bias, _pair(self._stride), _pair(self._padding))
        y = self._gemm_conv(x) if kernel == "gemm" else F.conv2d(  # 'blas' off the CPU: paddle's
            x, self.weight, None, stride=self._stride, padding=self._padding, dilation=self._dilation,
            groups=self._groups, data_format="NCHW")
        return y + self.bias.reshape([-1, 1, 1])

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        (sh, sw), (ph, pw) = _pair(self._stride), _pair(self._padding)
        kh, kw = self.weight.shape[2:]
        return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def kernel_for(self, shape, dtype=paddle.float32) -> str:
        """'gemm' (kernel 2), 'blas' (kernel 4) or 'paddle' for an input of this N x C x H x W shape."""
        if self._groups != 1 or _pair(self._dilation) != (1, 1) or _pair(self._padding) is None \
                or _pair(self._stride) is None:
            return "paddle"
        ho, wo = self._out_hw(*shape[2:])
        if ho <= 0 or wo <= 0:
            return "paddle"  # paddle's own error for an input smaller than the kernel
        cout, cin, kh, kw = self.weight.shape
        depth, r = cin * kh * kw, self.rule
        blas = self.blas and dtype == paddle.float32 and depth >= r.min_depth and cout >= r.min_cout \
            and depth * cout <= r.max_weights and shape[0] * ho * wo * depth * cout >= r.min_macs
        if ho * wo <= GEMM_MAX_PIXELS:
            return "blas" if blas and ho * wo >= r.small_maps_from and shape[0] * ho * wo >= r.small_maps_rows \
                and depth * cout <= r.small_maps_weights else "gemm"
        return "blas" if blas else "paddle"

    def _gemm_conv(self, x):
        n = x.shape[0]
        ho, wo = self._out_hw(*x.shape[2:])
        cout = self.weight.shape[0]
        cols = F.unfold(x, list(self.weight.shape[2:]), strides=list(_pair(self._stride)),
                        paddings=list(_pair(self._padding)))                      # N x K x L
        cols = cols.transpose([1, 0, 2]).reshape([cols.shape[1], n * ho * wo])     # K x N*L
        y = paddle.matmul(self.weight.reshape([cout, -1]), cols)                 # Cout x N*L
        return y.reshape([cout, n, ho, wo]).transpose([1, 0, 2, 3])              # N x Cout x Ho x Wo


class FastDropout(nn.Dropout):
    """paddle.nn.Dropout (upscale_in_train) with a numpy mask whose seed is drawn from paddle's generator."""

    def forward(self, x):
        if not self.training or self.p == 0 or self.p >= 1:
            return super().forward(x)
        seed = int(paddle.randint(0, 2**31 - 1, [1]).item())  # from paddle's generator: paddle.seed decides
        mask = np.random.default_rng(seed).random(tuple(x.shape), dtype=np.float32) >= self.p
        scaled = mask.astype(np.float32)
        scaled *= np.float32(1.0 / (1.0 - self.p))
        return x * paddle.to_tensor(scaled, dtype=x.dtype)


def _fast_class(layer):
    if type(layer) is nn.Conv2D and layer.bias is not None and layer._data_format == "NCHW" \
            and layer._padding_mode == "zeros":
        return FastConv2D
    if type(layer) is nn.Dropout and layer.mode == "upscale_in_train" and layer.axis is None:
        return FastDropout
    return None


def apply_cpu_kernels(model: nn.Layer, blas_conv: bool | None = False) -> list:
    """Swap the fast kernels into `model`'s layers in place; returns what `restore` needs to swap them back.
    blas_conv: kernel 4 allowed (None: PADDLE_CNN_BLAS_CONV decides, on unless 0; fit passes None). Layers
    already swapped (an enclosing cpu_kernels) are left as they are."""
    blas, rule = blas_conv_wanted(blas_conv), conv_rule()
    swapped = []
    for layer in model.sublayers(include_self=True):
        fast = _fast_class(layer)
        if fast is not None:
            swapped.append((layer, type(layer)))
            layer.__class__ = fast
            if fast is FastConv2D:
                layer.blas, layer.rule = blas, rule
    return swapped


def restore(swapped: list) -> None:
    for layer, cls in swapped:
        layer.__class__ = cls
        layer.__dict__.pop("blas", None)
        layer.__dict__.pop("rule", None)


def convolutions_used(on_cpu: bool, enabled: bool = True, blas_conv: bool | None = None) -> str:
    """What fit's convolutions run on, in words, for a run's record (fit's arguments: TrainConfig.cpu_kernels and
    .blas_conv)."""
    if not on_cpu:
        return "paddle's (GPU)"
    if not enabled:
        return "paddle's (cpu_kernels off)"
    if not blas_conv_wanted(blas_conv):
        return f"paddle's, small maps as one batched GEMM ({BLAS_ENV}=0 or blas_conv=False)"
    return (f"numpy's BLAS where the {conv_rule_name()} processor rule measured it faster, else paddle's (small maps "
            "as one batched GEMM)")


@contextlib.contextmanager
def cpu_kernels(model: nn.Layer, enabled: bool = True, blas_conv: bool | None = False):
    """The model with the CPU kernels swapped in for the block (nothing when enabled is False); blas_conv as
    for apply_cpu_kernels."""
    with contextlib.ExitStack() as stack:
        swapped = apply_cpu_kernels(model, blas_conv) if enabled else []
        stack.callback(restore, swapped)
        if enabled and blas_conv_wanted(blas_conv):
            stack.enter_context(omp_blocktime(0))
        yield model
