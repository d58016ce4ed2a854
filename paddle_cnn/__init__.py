"""paddle-cnn: classic convolutional networks in PaddlePaddle, built, measured and compared.

Importing the package sets the CPU thread count (OMP_NUM_THREADS) to the available cores unless the user set it,
so it must happen before paddle spins up its thread pools; `paddle_cnn.device.setup()` does the rest at run time.
"""
import os as _os
import warnings as _warnings

_os.environ.setdefault("OMP_NUM_THREADS", str(len(_os.sched_getaffinity(0)) if hasattr(_os, "sched_getaffinity")
                                              else (_os.cpu_count() or 1)))
# paddle 3.x warns about a missing ccache on import; it concerns building C++ extensions, which we never do.
_warnings.filterwarnings("ignore", message="No ccache found")

__version__ = "0.1.0"
