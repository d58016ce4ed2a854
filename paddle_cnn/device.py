"""Run-time choice of device, CPU threads and seeds: the one place that knows about the hardware.

GPU when paddle is compiled with CUDA and a device is visible, else CPU. Nothing else in the package
hard-codes a device; GPU-only features ask `is_gpu()`. Nothing here runs on import: the entry points (CLI,
runner, bench) call `setup()`, and fit sets its threads for its own length only. Environment variables are read
where they are used; a bad value is one ValueError line naming the variable.
"""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np

# paddle is imported inside the functions that use it: the thread variables can be checked before paddle's
# OpenMP runtime reads (and complains about) them.


def available_cores() -> int:
    """CPU cores this process may run on (affinity-aware)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def available_ram() -> int:
    """Bytes of RAM a new allocation can get now: the kernel's MemAvailable (free memory plus the page cache it
    would give back; "free" alone is near zero on a machine that has read files), else free pages."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def gpu_available() -> bool:
    import paddle
    try:
        return paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    except Exception:  # a CUDA build without a driver
        return False


def pick_device(prefer: str | None = None) -> str:
    """Return 'gpu' or 'cpu' ('gpu:N' is kept as given) and make it paddle's current device.

    prefer: None (auto: $PADDLE_CNN_DEVICE, else the GPU if there is one), 'cpu', 'gpu' or 'gpu:N'. Asking for a
    GPU where none exists raises ValueError.
    """
    where, fix = "device", "pass device='cpu' (or None to choose)"  # the names the user can change
    if prefer is None and os.environ.get("PADDLE_CNN_DEVICE"):
        prefer, where, fix = os.environ["PADDLE_CNN_DEVICE"], "PADDLE_CNN_DEVICE", "set PADDLE_CNN_DEVICE=cpu or unset it"
    if prefer is None:
        prefer = rank_gpu() if gpu_available() else "cpu"
    if prefer != "cpu" and not prefer.startswith("gpu"):
        raise ValueError(f"{where}={prefer!r} is not a device: use 'cpu', 'gpu' or 'gpu:N'")
    if prefer.startswith("gpu") and not gpu_available():
        raise ValueError(f"{where}={prefer!r} asks for a GPU, but this paddle has no CUDA GPU to use; {fix}")
    import paddle
    paddle.set_device(prefer)
    return prefer


def rank_and_world() -> tuple[int, int]:
    """(this process's rank, number of data-parallel processes), from the variables paddle.distributed.launch
    and spawn set (PADDLE_TRAINER_ID, PADDLE_TRAINERS_NUM); (0, 1) in a plain process. Read without paddle."""
    rank, world = _whole_env("PADDLE_TRAINER_ID", 0), _whole_env("PADDLE_TRAINERS_NUM", 1)
    if world < 1 or rank >= world:
        raise ValueError(f"PADDLE_TRAINER_ID={rank} with PADDLE_TRAINERS_NUM={world}: the launcher sets both (rank "
                         "0..N-1 of N); unset them outside paddle.distributed.launch")
    return rank, world


def _ascii_int(text: str) -> int | None:
    """A whole number written in ASCII digits (at most 9), else None: int() also takes '²', '١' and '1_0'."""
    import re
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


def _whole_env(name: str, default: int) -> int:
    """A non-negative integer from an environment variable, else one ValueError naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    n = _ascii_int(value)
    if n is None:
        raise ValueError(f"{name}={value!r} is not a whole number; set a non-negative integer or unset it")
    return n


def rank_gpu() -> str:
    """The GPU of this process: under paddle.distributed.launch each rank gets its own (FLAGS_selected_gpus),
    so that the model built before fit already lives on the rank's card; 'gpu' in a plain process."""
    if rank_and_world()[1] > 1 and os.environ.get("FLAGS_selected_gpus"):
        return f"gpu:{int(os.environ['FLAGS_selected_gpus'].split(',')[0])}"
    return "gpu"


def is_gpu() -> bool:
    import paddle
    return paddle.get_device().startswith("gpu")


GPU_PATHS_SWITCH = "PADDLE_CNN_TEST_GPU_PATHS"


def gpu_paths() -> bool:
    """Whether fit takes its GPU-only branches: on a GPU; on a CPU only under the test switch
    PADDLE_CNN_TEST_GPU_PATHS=1, which runs their Python there (AMP autocast with its GradScaler steps, the cuDNN
    flag call, pinned DataLoader memory) so that a mistake in it cannot ship unseen. Paddle itself makes autocast
    and the scaler no-ops on a CPU; what they compute on a GPU still needs a GPU to check."""
    return is_gpu() or os.environ.get(GPU_PATHS_SWITCH) == "1"


def cudnn_deterministic() -> None:
    """cuDNN picks deterministic algorithms (same results for the same seed). The flag exists only in CUDA builds
    of paddle: under the test switch on a CPU build the call is made and its refusal ("cannot set") accepted."""
    import paddle
    try:
        paddle.set_flags({"FLAGS_cudnn_deterministic": True})
    except ValueError as e:
        if is_gpu() or "cannot set its value" not in str(e):
            raise


# Below this many multiply-accumulates per training step (forward; about a third of the step's work), paddle's
# CPU kernels run faster on one thread than on two: measured train steps, 1 vs 2 threads, same process:
# lenet batch 64 (27 M) 10.1 vs 12.8 ms, convpool3 batch 128 (479 M) 74 vs 82 ms; above it two threads win:
# alexnet batch 16 (16 G) 1.22x, vgg16_cifar batch 128 (40 G) 1.24x. Their tiny per-image GEMMs pay more
# for the threads' hand-offs than the second core returns.
SMALL_STEP_MACS = 2e9
_threads = 1  # paddle's own default until set_threads runs


def _env_threads(name: str, value: str | None) -> int | None:
    """A thread count from an environment variable: a positive integer, or OpenMP's nested form '2,1' (its
    first level); None when unset; one ValueError line naming the variable otherwise."""
    if value is None or not value.strip():
        return None
    n = _ascii_int(value.split(",")[0].strip())
    if not n:
        raise ValueError(f"{name}={value!r} is not a number of threads: set a positive integer "
                         f"(e.g. {name}=2) or unset it")
    check_thread_count(n, name)
    return n


def max_threads() -> int:
    """The most CPU threads a run may be given: 4 per available core (more only oversubscribes the cores, and
    paddle's OpenMP runtime crashes or aborts at a few hundred thousand)."""
    return 4 * available_cores()


def check_thread_count(n: int, name: str) -> None:
    if n > max_threads():
        raise ValueError(f"{name}={n} threads is more than {max_threads()} (4 per core on the {available_cores()} "
                         f"core(s) here): set at most that, or unset it")


def user_threads() -> int | None:
    """The user's choice: PADDLE_CNN_THREADS, else OMP_NUM_THREADS as it was before paddle was imported."""
    import paddle_cnn
    return _env_threads("PADDLE_CNN_THREADS", os.environ.get("PADDLE_CNN_THREADS")) or \
        _env_threads("OMP_NUM_THREADS", paddle_cnn.USER_OMP_NUM_THREADS)


def set_threads(n: int | None = None) -> int:
    """Use n CPU threads for paddle's kernels (default: the user's PADDLE_CNN_THREADS or OMP_NUM_THREADS, else
    all available cores); returns n.

    Set through paddle's core.set_num_threads after import: measured here as fast as OMP_NUM_THREADS=2 before
    import, without paddle's stderr warning about the variable.
    """
    global _threads
    if n is None:
        n = user_threads() or available_cores()
    n = max(1, int(n))
    import paddle
    core = getattr(getattr(paddle, "base", None), "core", None) or paddle.fluid.core  # 3.x / 2.6
    if hasattr(core, "set_num_threads"):
        core.set_num_threads(n)
    _threads = n
    return n


def current_threads() -> int:
    return _threads


def threads_for_step(macs_per_step: float | None) -> int:
    """CPU threads for training steps of this many forward multiply-accumulates: 1 below SMALL_STEP_MACS, else
    the default of set_threads. A user's PADDLE_CNN_THREADS / OMP_NUM_THREADS always wins."""
    user = user_threads()
    if user:
        return user
    if macs_per_step is not None and macs_per_step < SMALL_STEP_MACS:
        return 1
    return available_cores()


@contextlib.contextmanager
def cpu_threads(n: int):
    """Run a block with n CPU threads for paddle's kernels and at most n for numpy's BLAS (the BLAS convolution's
    sgemms), then restore both: two pools of n threads each on n cores oversubscribe them, and on a shared
    machine that made fit slower than paddle's own (LeNet with one other job on 2 cores: 4.7 s vs 2.6 s)."""
    before = current_threads()
    set_threads(n)
    try:
        with blas_threads(n):
            yield n
    finally:
        set_threads(before)


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def user_blas_threads() -> int | None:
    """The user's own cap on numpy's BLAS threads (the first of OPENBLAS_NUM_THREADS, MKL_NUM_THREADS,
    BLIS_NUM_THREADS that is set), which the run's choice never exceeds; None when none is set."""
    for name in BLAS_THREAD_VARIABLES:
        n = _env_threads(name, os.environ.get(name))
        if n:
            return n
    return None


@contextlib.contextmanager
def blas_threads(n: int):
    """Run a block with numpy's BLAS libraries (OpenBLAS, MKL, BLIS: what threadpoolctl finds loaded) on at most
    n threads, or the user's BLAS variable if lower; restores their counts after. Yields the limit."""
    from threadpoolctl import threadpool_limits
    cap = user_blas_threads()
    limit = max(1, min(int(n), cap) if cap else int(n))
    with threadpool_limits(limits=limit, user_api="blas"):
        yield limit


def blas_thread_counts() -> dict:
    """{library prefix: threads} of the BLAS libraries loaded now (threadpoolctl's view; for tests and bench)."""
    from threadpoolctl import threadpool_info
    return {i["prefix"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def cpu_info(field: str, path: str = "/proc/cpuinfo") -> str:
    """One field of the first processor in /proc/cpuinfo ('model name', 'vendor_id'), else what the platform
    module says ('' where nothing does)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == field:
                    return value.strip()
    except OSError:
        pass
    import platform
    return platform.processor()


def _intel_openmp():
    """paddle's Intel OpenMP runtime (libiomp5, loaded with paddle on Linux x86 wheels), or None."""
    import ctypes

    import paddle
    path = os.path.join(os.path.dirname(paddle.__file__), "libs", "libiomp5.so")
    try:
        lib = ctypes.CDLL(path) if os.path.isfile(path) else None
        return lib if lib is not None and hasattr(lib, "kmp_set_blocktime") else None
    except OSError:
        return None


@contextlib.contextmanager
def omp_blocktime(ms: int):
    """Run a block with paddle's OpenMP threads spinning at most `ms` milliseconds after each parallel kernel
    (Intel OpenMP's default: 200 ms, during which they hold cores that other thread pools, such as numpy's BLAS,
    then wait for). Nothing happens where paddle's runtime is not Intel OpenMP."""
    lib = _intel_openmp()
    if lib is None:
        yield
        return
    before = lib.kmp_get_blocktime()
    lib.kmp_set_blocktime(int(ms))
    try:
        yield
    finally:
        lib.kmp_set_blocktime(before)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and paddle (CPU and GPU generators)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    import paddle
    paddle.seed(seed)


def setup(seed: int | None = None, device: str | None = None, threads: int | None = None) -> str:
    """Pick the device, set CPU threads and (optionally) seed everything; returns the device string."""
    dev = pick_device(device)
    set_threads(threads)
    if seed is not None:
        seed_everything(seed)
    return dev
