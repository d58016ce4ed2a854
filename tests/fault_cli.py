"""`paddle-cnn ARGS` with a fault injected into one training run, for the crash tests:

    python tests/fault_cli.py RUN:EPOCH:STEP:WHAT run pool-vs-stride ...

At step STEP of epoch EPOCH (both 1-based) of run RUN (e.g. lenet-s0) it does WHAT: a signal number (sent to this
process: 9 kills it, 2 is Ctrl-C), 'fsize' (from then on no file may grow past 100 kB, the operating system's
refusal on a full disk) or 'nan' (the model's output bias becomes NaN, so that step's loss is NaN). The fault is
a training callback added to that run's callbacks; the library itself knows nothing of it."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddle_cnn.experiments import runner  # noqa: E402
from paddle_cnn.training import Callback  # noqa: E402


class Fault(Callback):
    def __init__(self, epoch: int, step: int, what: str):
        self.at, self.what = (epoch, step), what

    def on_step_begin(self, state):
        if (state.epoch + 1, state.ep.step + 1) != self.at:
            return
        if self.what.isdigit():
            os.kill(os.getpid(), int(self.what))
        elif self.what == "fsize":
            import resource
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write raises OSError instead of killing
            resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        elif self.what == "nan":
            last = state.model.parameters()[-1]  # the output bias: the logits become NaN (a ReLU would hide it)
            last.set_value(last * float("nan"))


def main() -> int:
    run, epoch, step, what = sys.argv[1].rsplit(":", 3)
    build = runner.run_callbacks

    def with_fault(plan, *args, **kw):
        return build(plan, *args, **kw) + ([Fault(int(epoch), int(step), what)] if plan.key == run else [])
    runner.run_callbacks = with_fault
    from paddle_cnn.cli import main as cli
    return cli(sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
