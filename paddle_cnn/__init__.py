"""paddle-cnn: classic convolutional networks in PaddlePaddle, built, measured and compared.

    from paddle_cnn import create_model, fit, TrainConfig, load_dataset, layer_table, run_experiment

Importing the package sets nothing: not paddle's threads, device or seeds (each entry point does, through
paddle_cnn.device.setup) and it does not even import paddle until one of the names above is used.
"""
import os as _os
import sys as _sys

# paddle imported before this package: with paddle 2.x, zlib is then bound to paddle's bundled zlib and gzip
# reads crash the process (see data/common.gunzip)
PADDLE_FIRST = "paddle" in _sys.modules
import zlib as _zlib  # noqa: E402,F401  CPython's zlib before paddle: paddle 2.6 ships its own zlib symbols and
#                       gzip reads then crash (inflateReset2) in processes that imported paddle first

# paddle's import sets OMP_NUM_THREADS to 1 when it is unset: the user's own value is read before that
USER_OMP_NUM_THREADS = None if "paddle" in _sys.modules else _os.environ.get("OMP_NUM_THREADS")

__version__ = "0.1.0"

_PUBLIC = {"create_model": "paddle_cnn.models", "list_models": "paddle_cnn.models",
           "fit": "paddle_cnn.training", "evaluate": "paddle_cnn.training", "TrainConfig": "paddle_cnn.training",
           "run_experiment": "paddle_cnn.experiments", "plan_experiment": "paddle_cnn.experiments",
           "layer_table": "paddle_cnn.arithmetic", "load_dataset": "paddle_cnn.data"}
__all__ = sorted(_PUBLIC)


def __getattr__(name):  # the public names, imported on first use
    if name in _PUBLIC:
        import importlib
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'paddle_cnn' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_PUBLIC))
