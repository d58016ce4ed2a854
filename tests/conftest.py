import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("PADDLE_CNN_PROFILE", "smoke")

import paddle_cnn  # noqa: E402,F401  (sets threads, silences the ccache warning)
import paddle  # noqa: E402


@pytest.fixture(autouse=True)
def _cpu_and_seed():
    paddle.set_device("cpu")
    paddle.seed(0)
    yield
