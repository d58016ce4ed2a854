"""Run plans: (experiment, profile, seeds) resolved once into explicit, printable plans.

A TrainPlan is everything one training run is: experiment, profile, run label, seed, model and its kwargs, the
data (set, subset sizes) and the TrainConfig. Its identity (all of that) is hashed into a fingerprint that its
checkpoints and its row in results.json carry; --resume continues only what has the same fingerprint. A
TimingPlan measures forward / forward-backward time per batch (article 004's benchmark); an ArithmeticPlan checks
the articles' layer arithmetic. The runner executes plans in order; `paddle-cnn run EXP --dry-run` prints them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from paddle_cnn.experiments.definitions import Experiment, Profile, Run, check_profile, default_profile, \
    get_experiment
from paddle_cnn.training.checkpoint import fingerprint
from paddle_cnn.training.config import TrainConfig, jsonable

DATA_KEYS = ("dataset", "train_subset", "test_subset")  # plan keys of a profile override; the rest is TrainConfig


@dataclass(frozen=True)
class DataSpec:
    name: str                        # data set (paddle_cnn.data.DATASETS)
    train_subset: int | None = None  # stratified subset of the training split, images (None: all)
    test_subset: int | None = None   # stratified subset of the test (and eval) split, images (None: all)
    generated_ok: bool = False       # missing locally: generated files in the real format may stand in


@dataclass(frozen=True)
class TrainPlan:
    experiment: str
    profile: str
    label: str  # the run's label in tables and logs
    seed: int
    model: str
    model_kw: dict
    data: DataSpec
    config: TrainConfig

    @property
    def key(self) -> str:
        return f"{self.label}-s{self.seed}"

    def identity(self) -> dict:
        """What this run computes, JSON-ready; the same dict a Checkpointer stores (config under 'config')."""
        d = dataclasses.asdict(self.data)
        d.pop("generated_ok")
        return {"experiment": self.experiment, "profile": self.profile, "run": self.label, "seed": self.seed,
                "model": self.model, "model_kw": {k: jsonable(v) for k, v in self.model_kw.items()}, "data": d,
                "config": self.config.identity()}

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.identity())

    def describe(self) -> str:
        d = self.data
        default, always = TrainConfig().identity(), ("epochs", "batch_size", "optimizer", "lr")
        changed = {k: v for k, v in self.config.identity().items() if k in always or v != default[k]}
        subsets = f" ({d.train_subset or 'all'} train / {d.test_subset or 'all'} test)"
        kw = f"({', '.join(f'{k}={v!r}' for k, v in self.model_kw.items())})" if self.model_kw else ""
        return (f"{self.key}: {self.model}{kw} on {d.name}{subsets}, "
                + ", ".join(f"{k}={v}" for k, v in changed.items() if k != "seed") + f"  [{self.fingerprint}]")


@dataclass(frozen=True)
class TimingPlan:
    experiment: str
    profile: str
    model: str
    input_shape: tuple  # C x H x W
    batch: int
    steps: int
    key: str = "timing"

    def identity(self) -> dict:
        return {"experiment": self.experiment, "profile": self.profile, "timing": self.model,
                "input": list(self.input_shape), "batch": self.batch, "steps": self.steps}

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.identity())

    def describe(self) -> str:
        return (f"timing: {self.model} at {'x'.join(map(str, self.input_shape))}, batch {self.batch}, "
                f"{self.steps} steps, forward and forward-backward  [{self.fingerprint}]")


@dataclass(frozen=True)
class ArithmeticPlan:
    experiment: str
    profile: str
    key: str = "arithmetic"
    models: tuple = field(default=())  # registered models to tabulate (empty: all)

    def identity(self) -> dict:
        return {"experiment": self.experiment, "arithmetic": list(self.models) or "all models"}

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.identity())

    def describe(self) -> str:
        return f"arithmetic: shapes, parameters and MACs of every model; the articles' arithmetic claims  " \
               f"[{self.fingerprint}]"


def train_settings(exp: Experiment, run: Run, profile: Profile) -> tuple[TrainConfig, dict]:
    """A run's TrainConfig and data keys: the article's settings < the run's overrides < the profile's. Milestones
    of piecewise schedules and exponential decay steps scale with the profile's epochs."""
    s = {**exp.train, **run.train_kw}
    full_epochs = s.get("epochs", 1)
    s.update(exp.profiles.get(profile.name, {}))
    data = {"dataset": s.pop("dataset", exp.dataset), "train_subset": s.pop("train_subset", None),
            "test_subset": s.pop("test_subset", None)}
    epochs = s.get("epochs", full_epochs)
    if s.get("milestones") and epochs != full_epochs:
        s["milestones"] = tuple(max(1, round(m * epochs / full_epochs)) for m in s["milestones"])
    if s.get("decay_epochs") and epochs != full_epochs:
        s["decay_epochs"] = s["decay_epochs"] * epochs / full_epochs
    return TrainConfig().replace(**s), data


def plans_fingerprint(identities: dict) -> str:
    """One hash of all of a run's plans ({key: identity}, as results.json's 'identities' holds them): the header
    of an experiment's results names it, so outputs can be checked against the experiment's plans of today."""
    return fingerprint(identities)


def plan_experiment(name: str, profile: str | None = None, seeds: int = 3) -> list:
    """Every plan of an experiment under a profile (default: $PADDLE_CNN_PROFILE, else by the hardware), seeds
    0..seeds-1 per run, then its timing and arithmetic plans. Bad names or counts: one-line ValueError."""
    exp = get_experiment(name)
    prof = check_profile(profile) if profile else default_profile()
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"--seeds must be a positive integer, got {seeds!r}")
    plans = []
    for run in exp.runs:
        config, data = train_settings(exp, run, prof)
        spec = DataSpec(data["dataset"], data["train_subset"], data["test_subset"], prof.generated_data_ok)
        plans += [TrainPlan(exp.name, prof.name, run.name, seed, run.model, dict(run.model_kw), spec,
                            config.replace(seed=seed)) for seed in range(seeds)]
    if prof.name in exp.timing:
        model, shape, batch, steps = exp.timing[prof.name]
        plans.append(TimingPlan(exp.name, prof.name, model, tuple(shape), batch, steps))
    if exp.arithmetic:
        plans.append(ArithmeticPlan(exp.name, prof.name))
    return plans

