"""'run k of n' and the time left while an experiment runs: each run's seconds per epoch, measured on the runs
finished so far (this time, or earlier in the same folder) and applied to the epochs still to train; a network not
timed yet is estimated from the others' seconds per unit of work (multiply-accumulates per image x images)."""
from __future__ import annotations

from paddle_cnn.text import duration


def _epochs(plan) -> int:
    config = getattr(plan, "config", None)
    return int(getattr(config, "epochs", 0) or 0)


class Countdown:
    """Counts the plans to execute and estimates the time left from seconds per epoch, per run label (the seeds of
    one label train the same network). A label not timed yet: from its work per epoch (`work`: label -> MACs per
    image x training images) at the timed labels' mean seconds per unit of work; 'over' (a lower bound) when that
    is unknown too; nothing before the first run. Timing and arithmetic plans are counted, not timed."""

    def __init__(self, plans: list, earlier_runs: list = (), work: dict | None = None):
        self.plans, self.k, self.rate, self.work = list(plans), 0, {}, dict(work or {})
        for r in earlier_runs:  # rows kept from before (or being replaced): the same networks on this machine
            if r.get("label") and r.get("epochs") and r.get("train_seconds"):
                self.rate.setdefault(r["label"], r["train_seconds"] / r["epochs"])

    def _per_epoch(self, label) -> float | None:
        if label in self.rate:
            return self.rate[label]
        per_unit = [self.rate[k] / self.work[k] for k in self.rate if self.work.get(k)]
        if per_unit and self.work.get(label):
            return sum(per_unit) / len(per_unit) * self.work[label]
        return None

    def estimate(self, plans: list) -> str:
        """The training time of `plans`: 'about 1 min 20 s', 'over 20 s' (some networks neither timed nor
        estimable), 'under 1 s', or '' when nothing is known."""
        todo = [p for p in plans if _epochs(p)]
        per_epoch = [self._per_epoch(getattr(p, "label", None)) for p in todo]
        known = [s * _epochs(p) for p, s in zip(todo, per_epoch) if s is not None]
        if not known:
            return ""
        time = duration(sum(known))
        return time if time.startswith("under") else f"{'about' if len(known) == len(todo) else 'over'} {time}"

    def start(self, plan) -> str:
        """The tag of the plan about to run: '[2/6, about 1 min 20 s left]' (its own time included)."""
        self.k += 1
        left = self.estimate(self.plans[self.k - 1:])
        return f"[{self.k}/{len(self.plans)}" + (f", {left} left]" if left else "]")

    def finished(self, plan, row) -> None:
        """Learn the seconds per epoch of a finished training run (its results row)."""
        if isinstance(row, dict) and row.get("epochs") and row.get("train_seconds") and getattr(plan, "label", None):
            self.rate[plan.label] = row["train_seconds"] / row["epochs"]
