"""Training: TrainConfig (every setting), fit (the loop), callbacks (checkpoints, VisualDL, progress, Ctrl-C,
NaN), checkpoint (atomic, safetensors), cpu_kernels (CPU speed kernels fit swaps in)."""
from paddle_cnn.training.callbacks import (Callback, Checkpointer, Interrupted, NonFiniteLoss, Progress,
                                           VisualDLLogger)
from paddle_cnn.training.config import TrainConfig, lr_at
from paddle_cnn.training.loop import HISTORY_KEYS, evaluate, fit, train_step

__all__ = ["Callback", "Checkpointer", "Interrupted", "NonFiniteLoss", "Progress", "VisualDLLogger", "TrainConfig",
           "lr_at", "HISTORY_KEYS", "evaluate", "fit", "train_step"]
