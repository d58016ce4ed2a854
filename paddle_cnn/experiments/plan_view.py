"""An experiment's plans as a notebook shows them before it trains: per run, the model (linked to its source), the
data and every setting, and where to change what."""
from __future__ import annotations

import inspect
import os

from paddle_cnn.text import Table, md_escape

SHOWN = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "lr_schedule", "milestones",
         "augment", "input_size", "in_channels", "max_batches")


def model_source(name: str, start: str | None = None) -> str:
    """The file that builds registered model `name`, relative to `start` (default: the working folder, the
    notebook's)."""
    from paddle_cnn.models.registry import model_spec
    path = inspect.getsourcefile(model_spec(name).factory)
    return os.path.relpath(path, start or os.getcwd())


def plans_table(plans: list) -> Table:
    """One row per run label (its seeds share everything but the seed): model and its arguments, data, and the
    settings in SHOWN plus any other that differs from its default."""
    from paddle_cnn.experiments.plans import TrainPlan
    from paddle_cnn.training.config import TrainConfig
    defaults = TrainConfig().computed()
    rows: dict = {}
    for p in plans:
        if not isinstance(p, TrainPlan):
            continue
        if p.label in rows:
            rows[p.label]["seeds"] += f", {p.seed}"
            continue
        settings = p.config.computed()
        if settings.get("optimizer") != "momentum":  # read by the momentum optimizer only
            settings.pop("momentum", None)
        other = {k: v for k, v in settings.items() if k not in SHOWN and k != "seed" and v != defaults.get(k)}
        d = p.data
        rows[p.label] = {"run": p.label, "seeds": str(p.seed),
                         "model": p.model + (f"({', '.join(f'{k}={v!r}' for k, v in p.model_kw.items())})"
                                             if p.model_kw else ""),
                         "data": f"{d.name} ({d.train_subset or 'all'} train / {d.test_subset or 'all'} test)",
                         **{k: settings[k] for k in SHOWN if settings.get(k) not in (None, (), [])},
                         "other settings": ", ".join(f"{k}={v}" for k, v in other.items())}
    columns = ["run", "seeds", "model", "data"] + [k for k in SHOWN if any(k in r for r in rows.values())]
    columns += ["other settings"] if any(r["other settings"] for r in rows.values()) else []
    return Table(rows.values(), columns, "the runs: model, data and settings (one row per run; its seeds differ "
                                         "only in the seed)")


def where_to_change(plans: list, experiment: str) -> str:
    """Markdown: the models' source files (linked) and where each kind of change is made."""
    from paddle_cnn.experiments.plans import TrainPlan
    models = sorted({p.model for p in plans if isinstance(p, TrainPlan)})
    files: dict = {}
    for m in models:
        files.setdefault(model_source(m), []).append(m)
    defs = os.path.relpath(os.path.join(os.path.dirname(__file__), "definitions.py"), os.getcwd())
    links = "; ".join(f"[{md_escape(', '.join(ms))}]({f})" for f, ms in files.items())
    return (f"**The models' source**: {links}. **To change a setting** for runs of your own, put it in OVERRIDES "
            f"in the parameters cell (`{{\"lr\": 0.01, \"epochs\": 5}}`: any column above; they train in a "
            f"folder of their own and are never compared with the article's numbers), or type `paddle-cnn run "
            f"{experiment} --set lr=0.01`. The article's settings themselves, the runs and their claims are data "
            f"in [definitions.py]({defs}) (experiment `{experiment}`).")


def show_plans(experiment: str, profile=None, seeds: int = 3, overrides: dict | None = None, **_) -> None:
    """In a notebook: the plans of `experiment` as run_experiment would train them (plans_table), and
    where_to_change. Takes notebook_settings' dict as keywords."""
    from paddle_cnn.experiments.plans import plan_experiment
    plans = plan_experiment(experiment, profile, seeds, overrides)
    from paddle_cnn.text import display_parts
    display_parts([("table", plans_table(plans)), ("md", where_to_change(plans, experiment))])
