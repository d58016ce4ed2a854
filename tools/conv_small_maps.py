"""Kernel 4 (numpy's BLAS) against kernel 2 (paddle's matmul) on small maps at small and large batches: forward and
backward of one convolution, both in this process, one thread for each pool, best of 3 after a warm-up. The
figures behind the amd rule's small_maps_rows / small_maps_weights (BENCHMARKS.md, lever 12).

    .venv/bin/python tools/conv_small_maps.py                      # idle
    .venv/bin/python tools/busy.py -- .venv/bin/python tools/conv_small_maps.py   # beside a CPU-bound load
"""
import time

import paddle
import paddle.nn as nn
from threadpoolctl import threadpool_limits

from paddle_cnn import device
from paddle_cnn.training.cpu_kernels import apply_cpu_kernels

CASES = [(512, 1024, 5, 2, 8), (512, 1024, 5, 2, 64), (512, 1024, 5, 2, 128), (512, 512, 3, 2, 8),
         (512, 512, 3, 2, 64), (512, 512, 3, 2, 128), (64, 128, 3, 2, 8), (1024, 1024, 5, 1, 8), (256, 512, 5, 4, 8)]


def step_seconds(cin, cout, k, hw, n, kernel) -> float:
    paddle.seed(0)
    conv = nn.Conv2D(cin, cout, k, padding=k // 2)
    apply_cpu_kernels(conv, blas_conv=True)
    conv.kernel_for = lambda shape, dtype=None: kernel  # this kernel whatever the rule says
    x = paddle.randn([n, cin, hw, hw])
    x.stop_gradient = False
    times = []
    for _ in range(4):
        t = time.perf_counter()
        conv(x).sum().backward()
        times.append(time.perf_counter() - t)
    return min(times[1:])


def main() -> None:
    device.set_threads(1)
    with threadpool_limits(1, "blas"):
        for cin, cout, k, hw, n in CASES:
            other = "gemm" if hw * hw <= 4 else "paddle"
            a, b = step_seconds(cin, cout, k, hw, n, "blas"), step_seconds(cin, cout, k, hw, n, other)
            print(f"{cin}->{cout} {k}x{k} on {hw}x{hw}, batch {n} ({n * hw * hw} rows): kernel 4 {a * 1e3:.1f} ms, "
                  f"{other} {b * 1e3:.1f} ms, ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
