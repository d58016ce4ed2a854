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

from paddle_cnn.experiments.definitions import STEP_TIMING, Experiment, Profile, Run, get_experiment, \
    resolve_profile
from paddle_cnn.training.identity import fingerprint
from paddle_cnn.training.config import TrainConfig, jsonable

DATA_KEYS = ("dataset", "train_subset", "test_subset")
MAX_RUN_SEEDS = 100  # seeds per run an experiment may be given  # plan keys of a profile override; the rest is TrainConfig


@dataclass(frozen=True)
class DataSpec:
    name: str                        # data set (paddle_cnn.data.DATASETS)
    train_subset: int | None = None  # stratified subset of the training split, images (None: all)
    test_subset: int | None = None   # stratified subset of the test (and eval) split, images (None: all)
    generated_ok: bool = False       # missing locally: generated files in the real format may stand in
    digest: str | None = None        # data_digest of the splits as read (set by the runner once they are loaded)


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

    def with_data(self, digest: str) -> "TrainPlan":
        """The plan for the data read (its digest joins the identity: other files, another plan)."""
        return dataclasses.replace(self, data=dataclasses.replace(self.data, digest=digest))

    def describe(self) -> str:
        d = self.data
        always = ("epochs", "batch_size", "optimizer", "lr")
        changed = {k: v for k, v in self.config.computed().items() if k in always or k in self.config.identity()}
        subsets = f" ({d.train_subset or 'all'} train / {d.test_subset or 'all'} test" + \
            (f", data {d.digest})" if d.digest else ")")
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
class StepTimingPlan:
    """Training steps of some of an experiment's runs timed alternately in one process (timing.
    alternating_train_steps), each model built as its run builds it (first seed), at the runs' input and batch:
    the measure of the cost claims."""
    experiment: str
    profile: str
    runs: tuple  # the TrainPlans (seed 0) of the runs timed together
    rounds: int
    steps: int  # per model per round
    key: str = "step_timing"

    def identity(self) -> dict:
        return {"experiment": self.experiment, "profile": self.profile, "step_timing": [
            {"run": p.label, "model": p.model, "model_kw": {k: jsonable(v) for k, v in p.model_kw.items()},
             "input_size": p.config.input_size, "in_channels": p.config.in_channels, "batch": p.config.batch_size}
            for p in self.runs], "rounds": self.rounds, "steps": self.steps}

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.identity())

    def describe(self) -> str:
        c = self.runs[0].config
        return (f"step timing: training steps of {' and '.join(p.label for p in self.runs)} alternately in one "
                f"process, {self.rounds} rounds x {self.steps} steps each, batch {c.batch_size}  "
                f"[{self.fingerprint}]")


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


def train_settings(exp: Experiment, run: Run, profile: Profile, overrides: dict | None = None
                   ) -> tuple[TrainConfig, dict]:
    """A run's TrainConfig and data keys: the article's settings < the run's < the profile's < the user's
    overrides. Milestones of piecewise schedules and exponential decay steps scale with the epochs (the profile's
    or an overridden number), unless the overrides set them."""
    overrides = overrides or {}
    s = {**exp.train, **run.train_kw}
    full_epochs = s.get("epochs", 1)
    s.update(exp.profiles.get(profile.name, {}))
    s.update(overrides)
    data = {"dataset": s.pop("dataset", exp.dataset), "train_subset": s.pop("train_subset", None),
            "test_subset": s.pop("test_subset", None)}
    epochs = s.get("epochs", full_epochs)
    if s.get("milestones") and epochs != full_epochs and "milestones" not in overrides:
        s["milestones"] = tuple(max(1, round(m * epochs / full_epochs)) for m in s["milestones"])
    if s.get("decay_epochs") and epochs != full_epochs and "decay_epochs" not in overrides:
        s["decay_epochs"] = s["decay_epochs"] * epochs / full_epochs
    return TrainConfig().replace(**s), data


OVERRIDABLE_DATA = ("train_subset", "test_subset")  # besides every TrainConfig field but the seed


def check_overrides(overrides) -> dict:
    """Settings a user varies from outside (`--set lr=0.01`, `overrides={...}`, a notebook's OVERRIDES): TrainConfig
    fields (not the seed: --seeds sets it) and the subset sizes, each validated as TrainConfig validates it; a bad
    name or value is one ValueError line (with a did-you-mean for names). Returns a plain dict, JSON-ready."""
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise ValueError(f"overrides must be a dict of settings, e.g. {{'lr': 0.01}}, got {overrides!r}")
    names = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "seed"] + list(OVERRIDABLE_DATA)
    for k, v in overrides.items():
        if k == "seed":
            raise ValueError("the seed is not overridden: the seeds are --seeds K (SEEDS in a notebook), 0..K-1")
        if k not in names:
            from paddle_cnn.training.config import OTHER_NAMES
            from paddle_cnn.text import did_you_mean
            ours = OTHER_NAMES.get(str(k).lower())
            raise ValueError(f"unknown setting to override {k!r}: it is called {ours} here" if ours else
                             did_you_mean("setting to override", str(k), names, "`paddle-cnn run EXP --dry-run` "
                                          "shows the settings; docs/python.md lists every TrainConfig field"))
        if k in OVERRIDABLE_DATA and v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ValueError(f"{k} must be a positive integer (images) or None (all), got {v!r}")
    TrainConfig().replace(**{k: v for k, v in overrides.items() if k not in OVERRIDABLE_DATA})  # validates values
    return {k: jsonable(v) for k, v in overrides.items()}


def plans_fingerprint(identities: dict) -> str:
    """One hash of all of a run's plans ({key: identity}, as results.json's 'identities' holds them): the header
    of an experiment's results names it, so outputs can be checked against the experiment's plans of today."""
    return fingerprint(identities)


def plan_experiment(name: str, profile: "str | Profile | None" = None, seeds: int = 3, overrides: dict | None = None) -> list:
    """Every plan of an experiment under a profile (default: $PADDLE_CNN_PROFILE, else by the hardware), seeds
    0..seeds-1 per run, with the user's overrides of its settings (check_overrides), then its timing and
    arithmetic plans. Bad names, counts or overrides: one-line ValueError."""
    exp = get_experiment(name)
    prof = resolve_profile(profile)
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"--seeds must be a positive integer, got {seeds!r}")
    if seeds > MAX_RUN_SEEDS:  # checked before any plan is built: a huge count is refused, not allocated
        raise ValueError(f"--seeds {seeds} is more than {MAX_RUN_SEEDS} per run; the detectability column says how "
                         "many a claim needs")
    overrides = check_overrides(overrides)
    plans = []
    for run in exp.runs:
        config, data = train_settings(exp, run, prof, overrides)
        spec = DataSpec(data["dataset"], data["train_subset"], data["test_subset"], prof.generated_data_ok)
        plans += [TrainPlan(exp.name, prof.name, run.name, seed, run.model, dict(run.model_kw), spec,
                            config.replace(seed=seed)) for seed in range(seeds)]
    if prof.name in exp.timing:
        model, shape, batch, steps = exp.timing[prof.name]
        plans.append(TimingPlan(exp.name, prof.name, model, tuple(shape), batch, steps))
    if exp.step_timing:
        first = {p.label: p for p in plans if isinstance(p, TrainPlan) and p.seed == 0}
        plans.append(StepTimingPlan(exp.name, prof.name, tuple(first[r] for r in exp.step_timing),
                                    *STEP_TIMING[prof.name]))
    if exp.arithmetic:
        plans.append(ArithmeticPlan(exp.name, prof.name))
    return plans

