"""Run an experiment: its plans, in order. Everything that can be refused is checked before anything is written
(data present, log folder writable, --resume only onto the same plans); then each plan runs and results.json is
rewritten atomically after it, with the verdicts; results.md and the plots come last.

Layout of logdir/EXPERIMENT/: one VisualDL folder per training run (<label>-s<seed>), _checkpoints/<run>/,
results.json, results.md, curves.png, final.png.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from dataclasses import dataclass

from paddle_cnn import device, files
from paddle_cnn.data import DataError, DataMissing, load_dataset
from paddle_cnn.experiments.definitions import GPU_DEFAULT, get_experiment
from paddle_cnn.experiments.plans import ArithmeticPlan, StepTimingPlan, TimingPlan, TrainPlan, plan_experiment
from paddle_cnn.training.identity import describe_differences, fingerprint
from paddle_cnn.training import checkpoint as ckpt


def run_experiment(name: str, profile: str | None = None, seeds: int = 3, data_dir: str | None = None,
                   logdir: str | None = None, resume: bool = False, progress: bool | None = None, log=print,
                   reuse: bool = False, overrides: dict | None = None) -> dict:
    """Run every plan of experiment `name` (see plans.plan_experiment) and return the results (as results.json).

    resume: keep finished runs and continue interrupted ones, refusing (one line, nothing changed) anything in the
    folder that another plan wrote. reuse (the notebooks' default): keep finished runs and continue interrupted
    ones of the same plans, and train afresh, saying so, those whose plan changed. Neither: start afresh.
    logdir None: the checkout's logs/ (work/logs on AI Studio; smoke runs in smoke-logs/ beside it). overrides: settings
    varied from outside ({"lr": 0.01}; plans.check_overrides): plans of their own, in a folder of their own
    (EXPERIMENT+lr=0.01), whose verdicts say that the numbers are not the article's settings."""
    from paddle_cnn.experiments.plans import check_overrides
    from paddle_cnn.places import experiment_folder
    overrides = check_overrides(overrides)
    plans = plan_experiment(name, profile, seeds, overrides)
    dev = device.setup()  # device, threads (a bad thread variable is one line here)
    from paddle_cnn.training.cpu_kernels import blas_conv_wanted, conv_rule
    blas_conv_wanted(), conv_rule()  # a bad PADDLE_CNN_BLAS_CONV / _CONV_RULE: one line, before anything is written
    exp = get_experiment(name)
    folder = experiment_folder(logdir, exp.name, plans[0].profile if plans else None, overrides)
    data = DataCache(data_dir, folder, log)
    plans = data.resolve(plans)  # missing or corrupt data: one line before anything is written
    check_writable(folder)
    check_own_paths(plans, folder)
    if plans and plans[0].profile == GPU_DEFAULT and not device.is_gpu():  # after every refusal: then it trains
        log("warning: profile full (the articles' settings, made for a GPU) on a CPU: expect hours per run; the "
            "quick profile takes minutes")
    rank, world = device.rank_and_world()  # under paddle.distributed.launch: rank 0 locks and writes
    with RunLock(folder) if rank == 0 else contextlib.nullcontext():
        results = Results(exp, plans, folder, resume, reuse, log, write=rank == 0, overrides=overrides)
        if resume:
            check_checkpoints(plans, folder, data)
        if rank == 0:  # after every refusal: a refused run changes nothing
            remove_leftovers(plans, folder)
            show_only_these_runs(plans, folder, log)
        results.data["device"] = dev + (f" x {world} data-parallel ranks" if world > 1 else "")
        todo = []
        for plan in plans:
            if results.done(plan) and not results.stale_model(plan, data, log):
                log(f"{plan.key}: finished earlier with the same plan [{plan.fingerprint}]: reused, not retrained")
            else:
                todo.append(plan)
        if len(todo) < len(plans):
            log(f"{len(plans) - len(todo)} of {len(plans)} plans reused: --retrain (RETRAIN = True in a notebook) "
                "trains them again")
        from paddle_cnn.experiments.countdown import Countdown
        countdown = Countdown(todo, results.data["runs"], work_per_epoch(todo, data))
        for plan in todo:
            at = place(plan, folder, data, resume, reuse, log) if isinstance(plan, TrainPlan) else None
            row = execute(plan, folder, data, at, progress, log, countdown.start(plan))
            countdown.finished(plan, row)
            results.add(plan, row, data.notes)
        return results.finish(ran=bool(todo))


def resolve_plans(name: str, profile: str | None = None, seeds: int = 3, data_dir: str | None = None,
                  log=print, overrides: dict | None = None) -> list:
    """The plans a run of experiment `name` would execute: plan_experiment's, with the digest of the data each
    one reads (loaded here). DataError when the data cannot be read."""
    return DataCache(data_dir, "", log).resolve(plan_experiment(name, profile, seeds, overrides))


def execute(plan, folder: str, data: "DataCache", at: "Place | None", progress, log, tag: str = "") -> dict:
    """One plan's results row (train, timing) or rows (arithmetic); a training run writes where `at` says. `tag`
    ('[2/6, about 1 min left]') starts the plan's first line."""
    from paddle_cnn.text import wrap
    tag = tag and tag + " "
    if isinstance(plan, TrainPlan):
        return train(plan, folder, data.splits(plan), at, progress, log, lambda m: log(wrap(tag + m)))
    if isinstance(plan, TimingPlan):
        from paddle_cnn.experiments.timing import forward_backward_timing
        log(wrap(f"{tag}timing {plan.model} at {'x'.join(map(str, plan.input_shape))}, batch {plan.batch}: forward "
                 "and forward-backward"))
        return forward_backward_timing(plan.model, plan.input_shape, plan.batch, plan.steps)
    if isinstance(plan, StepTimingPlan):
        return step_timing(plan, data, lambda m: log(wrap(tag + m)), log)
    log(f"{tag}layer arithmetic: shapes, parameters and MACs of every registered model")
    from paddle_cnn.arithmetic.claims import all_checks
    from paddle_cnn.arithmetic.tables import model_overview
    return {"models": model_overview(plan.models or None),
            "arithmetic": [{k: (v if isinstance(v, (int, float, str, bool, list, type(None))) else str(v))
                            for k, v in c.as_dict().items()} for c in all_checks()]}


def step_timing(plan: StepTimingPlan, data: "DataCache", first, log) -> list[dict]:
    """The step timing's rows: per run, the seconds per training step of each round (timing.
    alternating_train_steps), each model built as its run builds it, at the run's input and batch."""
    import paddle
    from paddle_cnn.experiments.timing import alternating_train_steps
    models, shapes = {}, {}
    for p in plan.runs:
        device.seed_everything(p.seed)
        models[p.label], shapes[p.label] = build_model(p, data.splits(p))
    shape, batch = shapes[plan.runs[0].label], plan.runs[0].config.batch_size
    classes = len(data.splits(plan.runs[0])["train"].classes)
    first(f"step timing: {' and '.join(models)}, training steps at {'x'.join(map(str, shape))}, batch {batch}, "
          f"alternately: {plan.rounds} rounds x {plan.steps} steps each")
    seconds = alternating_train_steps(models, shape, batch, plan.rounds, plan.steps, classes, log)
    return [{"run": label, "model": p.model, "input": "x".join(map(str, shape)), "batch": batch,
             "rounds": plan.rounds, "steps": plan.steps, "seconds": seconds[label],
             "s/step": float(sorted(seconds[label])[len(seconds[label]) // 2]), "device": paddle.get_device()}
            for label, p in zip(models, plan.runs)]


def work_per_epoch(plans: list, data: "DataCache") -> dict:
    """Run label -> multiply-accumulates of one epoch's forward passes (MACs per image x training images), for the
    countdown's estimate of networks not timed yet; built without random init, a label left out when its table
    cannot be made (too large for the memory bound)."""
    from paddle_cnn.arithmetic.tables import arithmetic_only_init, layer_table
    out: dict = {}
    for p in plans:
        if isinstance(p, TrainPlan) and p.label not in out:
            splits = data.splits(p)
            try:
                with arithmetic_only_init():
                    model, shape = build_model(p, splits)
                    macs = layer_table(model, shape, p.model).totals["macs"]
            except (ValueError, MemoryError):
                continue
            out[p.label] = macs * len(splits["train"].subset(p.data.train_subset, seed=0))
    return out


def build_model(plan: TrainPlan, splits: dict):
    """The plan's model for its data: classes from the data, channels and side from the config or the images."""
    from paddle_cnn.models import create_model
    images = splits["train"]
    channels, side = plan.config.in_channels or images.shape[0], plan.config.input_size or images.shape[1]
    return create_model(plan.model, num_classes=len(images.classes), seed=plan.seed, in_channels=channels,
                        input_size=side, **plan.model_kw), (channels, side, side)


def train(plan: TrainPlan, folder: str, splits: dict, at: "Place", progress, log, first=None) -> dict:
    """Train one plan's model with a checkpoint per epoch and VisualDL logs, where `at` says (a replacement is
    swapped into the run's own folders when it finishes); its results row. `first` (default: log) says what runs,
    `log` the rest."""
    first = first or log
    from paddle_cnn.arithmetic.tables import count_params, layer_table
    from paddle_cnn.data import DeviceData
    from paddle_cnn.training import evaluate, fit
    c, d = plan.config, plan.data
    train_set = splits["train"].subset(d.train_subset, seed=0)
    test = splits["test"].subset(d.test_subset, seed=0)
    held = splits["eval"].subset(d.test_subset, seed=0) if "eval" in splits else test  # guides nothing
    device.seed_everything(plan.seed)
    model, shape = build_model(plan, splits)
    table = layer_table(model, shape, plan.model)
    first(f"{plan.key}: {plan.model} on {d.name} ({len(train_set):,} train / {len(held):,} eval images, "
          f"{'x'.join(map(str, shape))}), {c.epochs} epoch{'s' * (c.epochs != 1)}")
    hist = fit(model, train_set, held, c, run_callbacks(plan, folder, at, log), name=plan.key, progress=progress,
               log=log)
    if at.staged:  # the replacement is finished: now it takes the place of what it replaces
        files.replace_dir(at.checkpoints, checkpoint_dir(folder, plan))
        files.replace_dir(at.records, records_dir(folder, plan))
    seconds = float(sum(hist["seconds"]))  # every epoch's training and evaluation, before a resume included
    from paddle_cnn.training.cpu_kernels import convolutions_used
    ev = evaluate(model, DeviceData(test, size=shape[1:], channels=shape[0])) if "eval" in splits else \
        {"acc": hist["eval_acc"][-1], "top2": hist["eval_top2"][-1]}  # a held-out eval split: test once at the end
    return {"run": plan.key, "label": plan.label, "model": plan.model, "seed": plan.seed,
            "params": count_params(model), "weights": table.totals["weights"], "macs": table.totals["macs"],
            "epochs": len(hist["train_loss"]), "test_acc": ev["acc"], "test_top2": ev["top2"],
            "best_eval_acc": max(hist["eval_acc"]), "train_seconds": seconds, "num_classes": len(train_set.classes),
            "train_images": len(train_set), "test_images": len(test), "own_split": train_set.own_split,
            "history": hist, "settings": {**c.as_dict(), "dataset": d.name, "train_subset": d.train_subset,
                                          "test_subset": d.test_subset,
                                          "convolutions": convolutions_used(not device.gpu_paths(), c.cpu_kernels,
                                                                            c.blas_conv)}}


def run_callbacks(plan: TrainPlan, folder: str, at: "Place", log) -> list:
    """A training run's callbacks: its checkpoints (keyed by the plan's identity) and its VisualDL log, in the
    folders `at` names (continuing the checkpoint there when at.go_on)."""
    from paddle_cnn.training.callbacks import Checkpointer, VisualDLLogger
    identity = {k: v for k, v in plan.identity().items() if k != "config"}  # the Checkpointer adds the config
    hparams = {"run": plan.label, "model": plan.model, "dataset": plan.data.name,
               **{k: str(v) for k, v in plan.model_kw.items()}}
    return [Checkpointer(at.checkpoints, identity, at.go_on, log=log),
            VisualDLLogger(os.path.dirname(at.records), os.path.basename(at.records), hparams,
                           display_name=display_name(plan, folder))]


def display_name(plan: TrainPlan, folder: str) -> str:
    """The run's name in VisualDL's run list, which cuts long names at the end: what tells the runs of one
    experiment apart first (network, then seed), then the experiment's folder (with its overrides), so that names
    stay unique over a whole logs folder: 'lenet_nopool s2 · pool-vs-stride'. (Smoke runs are written elsewhere,
    to smoke-logs/.)"""
    return f"{plan.label} s{plan.seed} · {os.path.basename(os.path.normpath(folder))}"


def checkpoint_dir(folder: str, plan: TrainPlan) -> str:
    return os.path.join(folder, "_checkpoints", plan.key)


def records_dir(folder: str, plan: TrainPlan) -> str:
    """The run's VisualDL folder."""
    return os.path.join(folder, plan.key)


STAGED = ".next"  # suffix of a replacement's folders while the finished run it replaces stays in place


@dataclass(frozen=True)
class Place:
    """Where a training run writes: its checkpoint and VisualDL folders, whether it continues the checkpoint
    there, and whether they are a replacement's (swapped into the run's own folders when it finishes)."""
    checkpoints: str
    records: str
    go_on: bool
    staged: bool


def own_place(folder: str, plan: TrainPlan, go_on: bool = False) -> Place:
    """The run's own folders (its checkpoints and its VisualDL records), continuing the checkpoint there or not."""
    return Place(checkpoint_dir(folder, plan), records_dir(folder, plan), go_on, False)


def _occupied(path: str) -> bool:
    try:
        return any(True for _ in os.scandir(path))
    except OSError:
        return False


def place(plan: TrainPlan, folder: str, data: "DataCache", resume: bool, reuse: bool, log) -> Place:
    """Where a training run goes. A run already in its own folders (finished, or another plan's) is replaced only
    when its replacement finishes: the replacement trains in '<run>.next' folders beside it, is continued there
    after an interruption (in every mode, when it is of the same plan) and moves in at its end. Otherwise
    resume: continue this plan's checkpoint; reuse: continue it when it is this plan's, else train afresh;
    neither (--retrain): train afresh."""
    own = own_place(folder, plan)
    staged = Place(own.checkpoints + STAGED, own.records + STAGED, False, True)
    check = verify_checkpoint if resume else (lambda p, path, d: own_checkpoint(p, path, d, log))
    if check(plan, staged.checkpoints, data):  # an interrupted replacement of this plan: continued
        return dataclasses.replace(staged, go_on=True)
    if resume or (reuse and check(plan, own.checkpoints, data)):
        return dataclasses.replace(own, go_on=True)
    if _occupied(own.checkpoints) or _occupied(own.records):
        if os.path.isdir(staged.checkpoints):
            ckpt.clear(staged.checkpoints)
        return staged
    return own


def verify_checkpoint(plan, path: str, data: "DataCache") -> bool:
    """Whether the plan has a checkpoint in `path`; CheckpointError when it belongs to another plan (weights
    layout or identity differ)."""
    from paddle_cnn.arithmetic.tables import arithmetic_only_init
    if not isinstance(plan, TrainPlan) or not ckpt.latest(path):
        return False
    from paddle_cnn.training.config import make_optimizer
    splits = data.splits(plan)
    with arithmetic_only_init():
        model, _ = build_model(plan, splits)
    steps = plan.config.steps_per_epoch(len(splits["train"].subset(plan.data.train_subset, seed=0)))
    ckpt.verify(path, model, plan.identity(), make_optimizer(plan.config, model.parameters()), steps)  # its files checked as data too: state.json within this plan's epochs and steps, dtypes
    return True


def check_checkpoints(plans: list, folder: str, data: "DataCache") -> None:
    """--resume: every existing checkpoint must belong to its plan; checked for all plans before the first one
    runs, so a refusal changes nothing."""
    for plan in plans:
        if isinstance(plan, TrainPlan):
            for path in (checkpoint_dir(folder, plan), checkpoint_dir(folder, plan) + STAGED):
                verify_checkpoint(plan, path, data)


def remove_leftovers(plans: list, folder: str) -> None:
    """What a crash left of earlier writes (files.leftovers: temporary files beside results.json, latest.json,
    results.md and VisualDL records, unfinished checkpoint folders) in the experiment's folder, its runs' VisualDL
    folders and their checkpoint folders; removed at the start of a run, under its lock."""
    runs = [p for p in plans if isinstance(p, TrainPlan)]
    for d in (folder, os.path.join(folder, "_checkpoints")):  # a swap cut by a crash: settled first
        files.settle_replaced(d)
    for d in [folder] + [f(folder, p) + end for p in runs for f in (records_dir, checkpoint_dir) for end in ("", STAGED)]:
        files.remove_leftovers(d)


def show_only_these_runs(plans: list, folder: str, log) -> None:
    """The dashboard shows the runs of this run's plans only: a run folder of the experiment that is not one of
    them (a seed beyond --seeds, a run no longer in the experiment) has its records hidden from VisualDL (renamed,
    kept on disk, said per run); a plan's own folder whose records were hidden gets them back."""
    from paddle_cnn.training import vdl_records
    keys = {p.key for p in plans if isinstance(p, TrainPlan)}
    try:
        entries = sorted(e.name for e in os.scandir(folder) if e.is_dir(follow_symlinks=False))
    except OSError:
        return
    for name in entries:
        path = os.path.join(folder, name)
        run = name[:-len(STAGED)] if name.endswith(STAGED) else name
        if run in keys:
            vdl_records.restore(path)
        elif not name.startswith(("_", ".")) and vdl_records.retire(path):
            log(f"{name}: not a run of these plans (fewer seeds than before?): its curves are hidden from the "
                "dashboard, kept on disk; a run with it among its plans shows them again")


def own_checkpoint(plan, path: str, data: "DataCache", log) -> bool:
    """reuse: whether the plan has an interrupted checkpoint of its own in `path` to continue (another plan's is
    replaced)."""
    try:
        return verify_checkpoint(plan, path, data)
    except ckpt.CheckpointError as e:  # another plan's, corrupt or tampered: what was wrong, without --resume's fix
        why = str(e).split("; nothing was loaded")[0]
        log(f"{plan.key}: its checkpoint cannot be continued ({why}): trained afresh")
        return False


def notes_for(exp, profile: str) -> list[str]:
    """The experiment's notes that apply under `profile`: a part that begins with a profile's name and a colon
    ("quick: ...", to the next such part or the end) speaks only of that profile."""
    import re

    from paddle_cnn.experiments.definitions import PROFILES
    other = tuple(f"{p}:" for p in PROFILES if p != profile)
    parts = re.split(r"\s+(?=(?:%s):)" % "|".join(map(re.escape, PROFILES)), exp.notes or "")
    kept = " ".join(part for part in parts if part and not part.startswith(other))
    return [kept] if kept else []


class Results:
    """results.json of one experiment: the rows of its plans, kept on --resume only when they were computed by
    the same plans (anything else is one line, nothing changed), rewritten atomically after every plan.
    'identities' holds every plan's identity, 'plans_done' the fingerprint of each finished plan."""

    def __init__(self, exp, plans: list, folder: str, resume: bool, reuse: bool = False, log=print,
                 write: bool = True, overrides: dict | None = None):
        self.counts: dict = {}  # run label -> parameters of the model today's code builds for it
        self.write = write  # False on data-parallel ranks other than 0: they keep the results in memory
        self.exp, self.plans, self.path = exp, plans, os.path.join(folder, "results.json")
        self.folder = folder
        self.data = {"experiment": exp.name, "title": exp.title, "profile": plans[0].profile,
                     "seeds": len({p.seed for p in plans if isinstance(p, TrainPlan)}) or 1, "runs": [],
                     "claims": [], "notes": notes_for(exp, plans[0].profile), "device": "",
                     "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                     "identities": {p.key: p.identity() for p in plans}, "plans_done": {}}
        if overrides:
            self.data["overrides"] = dict(overrides)
        self.redo = not (resume or reuse)  # --retrain: every plan runs again
        if resume and os.path.exists(self.path):
            self._keep(self._read())
        elif reuse and os.path.exists(self.path):
            self._reuse(self._read(), log)
        elif os.path.exists(self.path):  # --retrain: a finished row stays until its replacement finishes
            try:
                self._reuse(self._read(), lambda m: None)
            except ValueError:  # unreadable: nothing to keep
                pass

    def _read(self) -> dict:
        from paddle_cnn.experiments.results_file import read_results
        return read_results(self.path, "delete it (or run without --resume; in a notebook RETRAIN = True) to start "
                            "the experiment afresh",
                            self.exp.name)

    def _keep(self, old: dict) -> None:
        wanted = {p.key: p for p in self.plans}
        if "identities" not in old and (old.get("runs") or old.get("timing") or old.get("models")):
            self._refuse("results", "written before runs carried fingerprints")
        for key, identity in old.get("identities", {}).items():
            if key not in wanted:
                self._refuse(key, "not a plan of this run: were --seeds or the experiment changed?")
            if fingerprint(identity) != wanted[key].fingerprint:
                self._refuse(key, describe_differences(identity, wanted[key].identity()))
        for k in ("runs", "timing", "step_timing", "models", "arithmetic", "notes", "plans_done", "started",
                  "finished"):
            if k in old:
                self.data[k] = old[k]

    def _reuse(self, old: dict, log) -> None:
        """Keep what plans of today computed; name what another plan computed (it is trained again)."""
        wanted = {p.key: p for p in self.plans}
        same = {k for k, fp in old.get("plans_done", {}).items() if k in wanted and wanted[k].fingerprint == fp}
        for key, identity in old.get("identities", {}).items():
            if key in old.get("plans_done", {}) and key not in same:
                why = (describe_differences(identity, wanted[key].identity()) if key in wanted
                       else "not a plan of this run")
                log(f"{key}: the earlier result came from another plan ({why}): not reused")
        self.data["plans_done"] = {k: old["plans_done"][k] for k in same}
        self.data["runs"] = [r for r in old.get("runs", []) if r.get("run") in same
                             and r.get("fingerprint") == wanted[r["run"]].fingerprint]
        for key, fields in (("timing", ("timing",)), ("step_timing", ("step_timing",)),
                            ("arithmetic", ("models", "arithmetic"))):
            if key in same:
                self.data.update({f: old[f] for f in fields if f in old})
        self.data["notes"] += [n for n in old.get("notes", []) if n not in self.data["notes"] and same]
        if same and old.get("started"):  # the kept runs began then (and ended then, when nothing runs now)
            self.data.update({k: old[k] for k in ("started", "finished") if old.get(k)})

    def _refuse(self, what: str, why: str):
        raise ValueError(f"{self.path} holds {what} of another run ({why}); nothing was changed: run without "
                         "--resume (in a notebook: RETRAIN = True) to start afresh, or choose another --logdir")

    def done(self, plan) -> bool:
        return not self.redo and self.data["plans_done"].get(plan.key) == plan.fingerprint

    def stale_model(self, plan, data: "DataCache", log) -> bool:
        """Whether a finished run of the same plan trained a model that today's code builds differently (a changed
        default of the model's builder): compared by parameter count; such a run is forgotten and trained again."""
        row = next((r for r in self.data["runs"] if r.get("run") == plan.key), None)
        if not isinstance(plan, TrainPlan) or row is None or "params" not in row:
            return False
        from paddle_cnn.arithmetic.tables import arithmetic_only_init, count_params
        if plan.label not in self.counts:  # a label's seeds share one model: built once
            with arithmetic_only_init():
                self.counts[plan.label] = count_params(build_model(plan, data.splits(plan))[0])
        now = self.counts[plan.label]
        if now == row["params"]:
            return False
        log(f"{plan.key}: the earlier result came from another version of {plan.model} ({row['params']:,} "
            f"parameters there, {now:,} here): not reused")
        self.data["runs"] = [r for r in self.data["runs"] if r is not row]
        self.data["plans_done"].pop(plan.key, None)
        return True

    def add(self, plan, row: dict, notes=()) -> None:
        self.data["notes"] += [n for n in notes if n not in self.data["notes"]]
        if isinstance(plan, TrainPlan):  # in place of the row it replaces (--retrain), else at the end
            row = {**row, "fingerprint": plan.fingerprint}
            keys = [r.get("run") for r in self.data["runs"]]
            if plan.key in keys:
                self.data["runs"][keys.index(plan.key)] = row
            else:
                self.data["runs"].append(row)
        elif isinstance(plan, TimingPlan):
            self.data["timing"] = [row]
        elif isinstance(plan, StepTimingPlan):
            self.data["step_timing"] = row
        elif isinstance(plan, ArithmeticPlan):
            self.data.update(row)
        self.data["plans_done"][plan.key] = plan.fingerprint
        self.save()

    def save(self) -> None:
        from paddle_cnn.experiments.verdicts import verdicts
        self.data["claims"] = verdicts(self.exp, self.data)
        if self.write:
            files.atomic_write_text(self.path, json.dumps(self.data, indent=1, default=str))

    def finish(self, ran: bool = True) -> dict:
        """Verdicts, results.json, results.md and plots; 'finished' is when the last plan ran (kept as it was when
        every plan was reused)."""
        from paddle_cnn.experiments.report import write_report
        if ran or "finished" not in self.data:
            self.data["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        self.save()
        if self.write:
            write_report(self.data, self.folder)
        return self.data


class DataCache:
    """Data sets loaded once per experiment. A set whose files are absent (DataMissing; never one that is corrupt)
    is replaced, where the plan allows it, by generated files in the real format, read from a temporary folder;
    the console and a note in the results say so."""

    def __init__(self, data_dir: str | None, folder: str, log=print):
        self.data_dir, self.folder, self.log, self.cache, self.notes = data_dir, folder, log, {}, []
        self.digests: dict = {}  # (data set, size) -> data_digest

    def splits(self, plan: TrainPlan) -> dict:
        key = (plan.data.name, plan.config.input_size)
        if key not in self.cache:
            try:
                self.cache[key] = load_dataset(plan.data.name, self.data_dir, size=plan.config.input_size)
            except DataMissing as e:
                if not plan.data.generated_ok:
                    raise
                self.cache[key] = self._generated(plan, e)
        return self.cache[key]

    def resolve(self, plans: list) -> list:
        """The plans with the digest of the data each one reads (loaded here, once per data set and size: missing
        or corrupt data is one line before anything is written; generated stand-ins too)."""
        from paddle_cnn.data.common import data_digest
        out = []
        for plan in plans:
            if isinstance(plan, TrainPlan):
                key = (plan.data.name, plan.config.input_size)
                if key not in self.digests:
                    self.digests[key] = data_digest(self.splits(plan))
                plan = plan.with_data(self.digests[key])
            out.append(plan)
        return out

    def _generated(self, plan: TrainPlan, error: DataError) -> dict:
        import tempfile

        from paddle_cnn.data import fake
        with tempfile.TemporaryDirectory(prefix="paddle-cnn-generated-") as gen:
            fake.make(plan.data.name, gen)
            splits = load_dataset(plan.data.name, gen, size=plan.config.input_size)
        note = (f"{plan.data.name} is not present locally ({error}); generated files in the real format stand in: "
                "its accuracies say nothing about the article")
        if note not in self.notes:
            self.notes.append(note)
            self.log(f"{plan.data.name}: not present locally ({error}): the {plan.profile} profile trains on "
                     "GENERATED files in the real format instead; its accuracies say nothing about the article")
        return splits


def check_writable(folder: str) -> None:
    """Fail before training when the log folder cannot be written (one line)."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f".write-test-{os.getpid()}")
        with open(probe, "w") as f:
            f.write("x" * 4096)
        os.remove(probe)
    except OSError as e:
        raise ValueError(f"cannot write to {folder} ({e.strerror or e}); choose another --logdir") from None
    files.refuse_links(folder)


def check_own_paths(plans: list, folder: str) -> None:
    """Before training: what a run writes has the kind it needs (results.json, results.md and the plots files;
    the runs' checkpoint and VisualDL places folders), else one line naming the path and the fix."""
    wanted = [(os.path.join(folder, f), "file") for f in ("results.json", "results.md", "curves.png", "final.png")]
    wanted += [(os.path.join(folder, "_checkpoints"), "folder")]
    for p in plans:
        if isinstance(p, TrainPlan):
            wanted += [(f(folder, p) + end, "folder") for f in (checkpoint_dir, records_dir) for end in ("", STAGED)]
    for path, kind in wanted:
        if os.path.lexists(path) and os.path.isdir(path) != (kind == "folder"):
            raise ValueError(f"{path} is a {'folder' if os.path.isdir(path) else 'file'} where the run keeps its "
                             f"{'checkpoints or records' if kind == 'folder' else 'results'} (a {kind}): move it "
                             "away, or choose another --logdir")


RunLock = files.FolderLock  # an experiment folder's lock (files.FolderLock)
