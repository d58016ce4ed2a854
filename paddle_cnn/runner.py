"""Run an experiment: every run for K seeds, logged to VisualDL, results.json after each run (atomic), then
results.md and the plots. `resume=True` skips finished runs and resumes the interrupted one from its checkpoint."""
from __future__ import annotations

import json
import os
import time

from paddle_cnn import device
from paddle_cnn.checkpoint import atomic_write_text
from paddle_cnn.data import DataError, load_dataset
from paddle_cnn.experiments import check_profile, default_profile, get_experiment, settings

TRAIN_KEYS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "lr_schedule", "milestones",
              "gamma", "decay_epochs", "augment", "max_batches")


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


def _data(s, profile, data_dir, folder, cache, notes):
    """Splits for a run's settings; under smoke, generated files in the real format when the set is missing."""
    name, size = s["dataset"], s.get("input_size") if s["dataset"] == "caltech16" else None
    key = (name, size)
    if key not in cache:
        try:
            cache[key] = load_dataset(name, data_dir, size=size)
        except DataError as e:
            if profile != "smoke":
                raise
            from paddle_cnn.data import fake
            gen = os.path.join(folder, "_smoke_data")
            if name == "cifar10":
                fake.make_cifar_tarball(gen, per_batch=60)
            elif name == "caltech16":
                fake.make_caltech_folders(gen, per_class=10)
            else:
                fake.make_mnist(os.path.join(gen, "mnist"), 300, 100)
            notes.append(f"{name} is not present locally ({e}); the smoke profile used generated files in the "
                         f"real format under {gen}: its accuracies say nothing about the article")
            cache[key] = load_dataset(name, gen, size=size)
    return cache[key]


class RunLock:
    """An exclusive lock on an experiment's log folder: a second run pointed at it refuses with one line."""

    def __init__(self, folder: str):
        self.path = os.path.join(folder, ".lock")
        self.f = None

    def __enter__(self):
        import fcntl
        self.f = open(self.path, "a+")
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.f.close()
            raise ValueError(f"another run is using {os.path.dirname(self.path)} (locked); wait for it or use "
                             "another --logdir") from None
        return self

    def __exit__(self, *exc):
        import fcntl
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def run_experiment(name: str, profile: str | None = None, seeds: int = 1, data_dir: str | None = None,
                   logdir: str = "logs", resume: bool = False, progress: bool | None = None, log=print) -> dict:
    exp = get_experiment(name)
    profile = check_profile(profile) if profile else default_profile()
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"--seeds must be a positive integer, got {seeds!r}")
    folder = os.path.join(logdir, exp.name)
    cache: dict = {}
    if profile != "smoke":  # missing or corrupt data: one line before anything is written
        for run in exp.runs:
            _data(settings(exp, run, profile), profile, data_dir, folder, cache, [])
    check_writable(folder)
    with RunLock(folder):
        return _run_locked(exp, profile, seeds, data_dir, folder, resume, progress, log, cache)


def _run_locked(exp, profile, seeds, data_dir, folder, resume, progress, log, cache) -> dict:
    from paddle_cnn import report
    path = os.path.join(folder, "results.json")
    results = {"experiment": exp.name, "title": exp.title, "profile": profile, "seeds": seeds, "runs": [],
               "claims": [], "notes": [exp.notes] if exp.notes else [], "device": device.setup(),
               "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    if resume and os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                old = json.load(f)
        except ValueError as e:
            raise ValueError(f"{path} is not valid JSON ({e}); delete it to start the experiment afresh") from None
        if old.get("profile") == profile:
            results["runs"] = old.get("runs", [])
            results["timing"] = old.get("timing")
            results["notes"] = old.get("notes", results["notes"])
    if not exp.runs:  # layer-arithmetic: no training
        return _arithmetic(exp, results, folder, path)
    done = {r["run"] for r in results["runs"]}
    for run in exp.runs:
        s = settings(exp, run, profile)
        for seed in range(seeds):
            key = f"{run.name}-s{seed}"
            if key in done:
                log(f"{key}: finished earlier, kept")
                continue
            splits = _data(s, profile, data_dir, folder, cache, results["notes"])
            results["runs"].append(_one_run(exp, run, s, seed, key, splits, folder, resume, progress, log))
            results["claims"] = report.verdicts(exp, results)
            atomic_write_text(path, json.dumps(results, indent=1))
    if profile in exp.timing and not (resume and results.get("timing")):
        from paddle_cnn.bench import forward_backward_timing
        model, shape, batch, steps = exp.timing[profile]
        log(f"timing {model} at {'x'.join(map(str, shape))}, batch {batch}: forward and forward-backward")
        results["timing"] = [forward_backward_timing(model, shape, batch, steps)]
    results["claims"] = report.verdicts(exp, results)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    atomic_write_text(path, json.dumps(results, indent=1))
    report.write_report(results, folder)
    return results


def _one_run(exp, run, s, seed, key, splits, folder, resume, progress, log) -> dict:
    from paddle_cnn.analysis import count_params, layer_table
    from paddle_cnn.models import create_model
    from paddle_cnn.train import evaluate, fit
    train = splits["train"].subset(s.get("train_subset"), seed=0)
    test = splits["test"].subset(s.get("test_subset"), seed=0)
    held = splits["eval"].subset(s.get("test_subset"), seed=0) if "eval" in splits else test
    c = s.get("in_channels") or train.shape[0]
    hw = s.get("input_size") or train.shape[1]
    device.seed_everything(seed)
    model = create_model(run.model, num_classes=len(train.classes), in_channels=c, input_size=hw, **run.model_kw)
    table = layer_table(model, (c, hw, hw), run.model)
    kw = {k: s[k] for k in TRAIN_KEYS if k in s}
    log(f"{key}: {run.model} on {s['dataset']} ({len(train)} train / {len(held)} eval images, {c}x{hw}x{hw}), "
        f"{kw.get('epochs')} epochs")
    t0 = time.perf_counter()
    hist = fit(model, train, held, seed=seed, logdir=folder, run_name=key,
               checkpoint_dir=os.path.join(folder, "_checkpoints", key), resume=resume,
               input_size=hw, in_channels=c,  # DeviceData resizes / adapts channels only where they differ
               model_name=run.model, progress=progress, log=log,
               hparams={"run": run.name, "dataset": s["dataset"], **{k: str(v) for k, v in run.model_kw.items()}},
               **kw)
    seconds = time.perf_counter() - t0
    if "eval" in splits:  # caltech: the held-out eval split guided nothing, test once at the end
        from paddle_cnn.data import DeviceData
        ev = evaluate(model, DeviceData(test, size=hw, channels=c))
        test_acc, test_top2 = ev["acc"], ev["top2"]
    else:
        test_acc, test_top2 = hist["eval_acc"][-1], hist["eval_top2"][-1]
    return {"run": key, "label": run.name, "model": run.model, "seed": seed, "params": count_params(model),
            "weights": table.totals["weights"], "macs": table.totals["macs"], "epochs": len(hist["train_loss"]),
            "test_acc": test_acc, "test_top2": test_top2, "best_eval_acc": max(hist["eval_acc"]),
            "train_seconds": seconds, "num_classes": len(train.classes), "history": hist,
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()}}


def _arithmetic(exp, results, folder, path):
    from paddle_cnn import report
    from paddle_cnn.analysis import model_overview
    from paddle_cnn.arithmetic import all_checks
    results["models"] = model_overview()
    results["claims"] = [{"model": "", "metric": "arithmetic", "value": c.stated, "source": c.source,
                          "text": c.claim, "ours": c.ours, "verdict": "reproduced" if c.verdict == "agrees"
                          else "not reproduced", "reason": c.note} for c in all_checks()]
    atomic_write_text(path, json.dumps(results, indent=1, default=str))
    report.write_report(results, folder)
    return results
