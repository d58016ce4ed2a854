"""The script `python -m paddle.distributed.launch` starts in each process of the launcher tests: the same
training as the spawn test's ranks (tests/dp_worker.py), on the same images. Usage: dp_launch.py OUT_DIR"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import paddle_cnn  # noqa: E402,F401  (before paddle: paddle 2.6's zlib)
import dp_worker  # noqa: E402

if __name__ == "__main__":
    dp_worker.train_rank(sys.argv[1], *dp_worker.images(), 32, 2)
