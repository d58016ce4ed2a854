"""paddle-cnn: classic convolutional networks in PaddlePaddle, built, measured and compared.

Importing the package makes paddle use every available CPU core (paddle itself runs one thread unless told);
a user's OMP_NUM_THREADS is respected. `paddle_cnn.device.setup()` picks the device and seeds at run time.
"""
import warnings as _warnings
import zlib as _zlib  # noqa: F401  load CPython's zlib before paddle: paddle 2.6 ships its own zlib symbols and
#                       gzip reads then crash (inflateReset2) in processes that imported paddle first

# paddle 3.x warns about a missing ccache on import; it concerns building C++ extensions, which we never do.
_warnings.filterwarnings("ignore", message="No ccache found")
# paddle's BatchNorm warns on every training forward that it tracks global statistics; that is what we want.
_warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance")

from paddle_cnn import device as _device  # noqa: E402

_device.set_threads()

__version__ = "0.1.0"
