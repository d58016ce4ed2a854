"""2-D convolution (NCHW, float32, zero padding) in numpy: im2col in NHWC order and one sgemm per chunk of images,
on numpy's BLAS. Forward, input gradient (col2im) and weight/bias gradients; training/cpu_kernels.py wraps them in
a paddle PyLayer for the shapes where they beat paddle's CPU kernel (BENCHMARKS.md, lever 10).

Why: paddle's CPU convolution runs one small GEMM per image on its own BLAS; numpy's sgemm over the rows of many
images at once is faster where the GEMM is big enough (many channels, small maps). The images go through in chunks
so that the im2col buffer stays at most CHUNK_BYTES whatever the batch (the figure is in BENCHMARKS.md), and the
weight gradient is summed chunk by chunk in a fixed order (same inputs, same thread count: same bits).

Shapes: x N x C x H x W, w Cout x C x kh x kw, bias Cout; stride and padding (sh, sw), (ph, pw).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

CHUNK_BYTES = 8 * 2**20  # im2col buffer per chunk of images (one image's when that needs more): L3-sized


def out_size(h: int, w: int, k: tuple, stride: tuple, padding: tuple) -> tuple[int, int]:
    return (h + 2 * padding[0] - k[0]) // stride[0] + 1, (w + 2 * padding[1] - k[1]) // stride[1] + 1


class _Geometry:
    """Sizes of one convolution and its per-chunk buffers (allocated once per call, reused across chunks)."""

    def __init__(self, xshape, wshape, stride, padding):
        self.n, self.c, self.h, self.w = xshape
        self.cout, _, self.kh, self.kw = wshape
        self.stride, self.padding = tuple(stride), tuple(padding)
        self.ho, self.wo = out_size(self.h, self.w, (self.kh, self.kw), self.stride, self.padding)
        self.k = self.kh * self.kw * self.c                    # GEMM depth: one row of im2col
        self.rows = self.ho * self.wo                          # im2col rows per image
        self.chunk = max(1, min(self.n, CHUNK_BYTES // (4 * self.rows * self.k)))

    def padded(self):
        """A zero chunk of padded NHWC images (im2col never writes the borders, so they stay zero)."""
        ph, pw = self.padding
        return np.zeros((self.chunk, self.h + 2 * ph, self.w + 2 * pw, self.c), np.float32)

    def weight_matrix(self, w):
        """Cout x C x kh x kw -> (kh*kw*C) x Cout, the order of an im2col row."""
        return np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(self.k, self.cout)

    def im2col(self, x, xp, cols, s, m):
        """Images s..s+m of x (NCHW) into cols[:m*rows] (rows: output pixels; columns: kh, kw, C)."""
        ph, pw = self.padding
        sh, sw = self.stride
        xp[:m, ph:ph + self.h, pw:pw + self.w] = x[s:s + m].transpose(0, 2, 3, 1)
        win = sliding_window_view(xp[:m], (self.kh, self.kw), axis=(1, 2))     # m, Hp-kh+1, Wp-kw+1, C, kh, kw
        win = win[:, ::sh, ::sw][:, :self.ho, :self.wo].transpose(0, 1, 2, 4, 5, 3)
        out = cols[:m * self.rows].reshape(m, self.ho, self.wo, self.kh, self.kw, self.c)
        out[...] = win
        return cols[:m * self.rows]

    def col2im(self, gcols, gxp, m):
        """Sum the columns' gradients back onto the padded images (each input pixel gets every window it was in)."""
        sh, sw = self.stride
        gxp[:m] = 0
        g = gcols.reshape(m, self.ho, self.wo, self.kh, self.kw, self.c)
        for i in range(self.kh):
            for j in range(self.kw):
                gxp[:m, i:i + sh * (self.ho - 1) + 1:sh, j:j + sw * (self.wo - 1) + 1:sw] += g[:, :, :, i, j]
        return gxp[:m]

    def chunks(self):
        for s in range(0, self.n, self.chunk):
            yield s, min(self.chunk, self.n - s)


def conv2d_forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, stride, padding,
                   out: np.ndarray | None = None) -> np.ndarray:
    """y = conv(x, w) + bias, N x Cout x Ho x Wo (written into `out` when given)."""
    g = _Geometry(x.shape, w.shape, stride, padding)
    wm = g.weight_matrix(w)
    y = np.empty((g.n, g.cout, g.ho, g.wo), np.float32) if out is None else out
    xp = g.padded()
    cols = np.empty((g.chunk * g.rows, g.k), np.float32)
    rows = np.empty((g.chunk * g.rows, g.cout), np.float32)
    for s, m in g.chunks():
        o = np.matmul(g.im2col(x, xp, cols, s, m), wm, out=rows[:m * g.rows])   # m*Ho*Wo x Cout (NHWC)
        if bias is not None:
            o += bias
        y[s:s + m] = o.reshape(m, g.ho, g.wo, g.cout).transpose(0, 3, 1, 2)
    return y


def conv2d_backward(gy: np.ndarray, x: np.ndarray, w: np.ndarray, stride, padding, need_x: bool = True,
                    need_w: bool = True, need_bias: bool = True):
    """(dL/dx, dL/dw, dL/dbias) of y = conv(x, w) + bias given dL/dy; None for the ones not needed.

    With stride 1 (and padding < kernel) the input gradient is itself a convolution: dL/dy padded by k-1-p,
    with the weights flipped and their channels swapped; else the columns' gradients summed back (col2im)."""
    g = _Geometry(x.shape, w.shape, stride, padding)
    transposed = need_x and g.stride == (1, 1) and g.padding[0] < g.kh and g.padding[1] < g.kw
    gx = conv2d_forward(gy, np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)), None, (1, 1),
                        (g.kh - 1 - g.padding[0], g.kw - 1 - g.padding[1])) if transposed else None
    col2im = need_x and not transposed
    gx = np.empty_like(x) if col2im else gx
    gw = np.zeros((g.k, g.cout), np.float32) if need_w else None
    gb = np.zeros(g.cout, np.float64) if need_bias else None
    if not (need_w or need_bias or col2im):
        return gx, None, None
    wm = g.weight_matrix(w)
    xp = g.padded() if need_w else None
    gxp = g.padded() if col2im else None                   # col2im's sums (zeroed per chunk)
    cols = np.empty((g.chunk * g.rows, g.k), np.float32)   # im2col of x (weight gradient), then column gradients
    gm_buf = np.empty((g.chunk * g.rows, g.cout), np.float32)
    part = np.empty((g.k, g.cout), np.float32)
    ph, pw = g.padding
    for s, m in g.chunks():
        gm = gm_buf[:m * g.rows].reshape(m, g.ho, g.wo, g.cout)
        gm[...] = gy[s:s + m].transpose(0, 2, 3, 1)
        gm = gm_buf[:m * g.rows]                                                    # m*Ho*Wo x Cout
        if need_bias:
            gb += gm.sum(0, dtype=np.float64)
        if need_w:
            gw += np.matmul(g.im2col(x, xp, cols, s, m).T, gm, out=part)
        if col2im:
            gcols = np.matmul(gm, wm.T, out=cols[:m * g.rows])                     # m*Ho*Wo x kh*kw*C
            summed = g.col2im(gcols, gxp, m)
            gx[s:s + m] = summed[:, ph:ph + g.h, pw:pw + g.w].transpose(0, 3, 1, 2)
    return (gx,
            gw.reshape(g.kh, g.kw, g.c, g.cout).transpose(3, 2, 0, 1).copy() if need_w else None,
            gb.astype(np.float32) if need_bias else None)
