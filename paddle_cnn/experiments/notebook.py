"""The settings of an experiment notebook: its parameters cell's None values resolved, and said in one line, so
that every notebook runs the same way (and stays a few calls long).

    run = notebook_settings(PROFILE, SEEDS, DATA_DIR, LOGDIR, OVERRIDES)
    results = run_experiment("pool-vs-stride", **run, reuse=not RETRAIN)
    show(results)
"""
from __future__ import annotations

import os

from paddle_cnn.experiments.definitions import CPU_DEFAULT, FASTEST, default_profile, resolve_profile

SEEDS = 3  # per run: fewer cannot tell a difference from the noise


def notebook_settings(profile: str | None = None, seeds: int | None = None, data_dir: str | None = None,
                      logdir: str | None = None, overrides: dict | None = None, log=print) -> dict:
    """profile None: $PADDLE_CNN_PROFILE, else smoke under pytest (a bare `pytest --nbmake notebooks` then takes
    minutes on a CPU with only the embedded data), else full on a GPU and quick on a CPU. seeds None: 3 (1 under
    smoke). data_dir None: the checkout's data/ (AI Studio: work/data and its mounted data sets). logdir None: the
    checkout's logs/ (AI Studio: work/logs); smoke runs go to smoke-logs/ beside it, apart from real results.
    overrides: settings varied from the article's ({"lr": 0.01}), checked here; runs of their own."""
    import warnings
    warnings.filterwarnings("ignore", message="No ccache found")  # paddle 3.x on import; about C++ extensions
    from paddle_cnn.data import default_data_dir
    from paddle_cnn.places import default_logdir, shown
    if profile:
        why = "set in the parameters cell"
    elif os.environ.get("PADDLE_CNN_PROFILE"):
        profile, why = os.environ["PADDLE_CNN_PROFILE"], "from $PADDLE_CNN_PROFILE"
    elif "PYTEST_CURRENT_TEST" in os.environ:
        profile, why = FASTEST, "running under pytest"
    else:
        why = "no GPU here" if default_profile().name == CPU_DEFAULT else "a GPU is present"
    profile = resolve_profile(profile).name  # decided here, once: the runs get it by name
    seeds = seeds or (1 if profile == FASTEST else SEEDS)
    data_dir = data_dir or default_data_dir()
    logdir = logdir or default_logdir(profile)
    from paddle_cnn.experiments.plans import check_overrides
    from paddle_cnn.training.config import settings_label
    overrides = check_overrides(overrides)
    varied = f"; OVERRIDDEN: {settings_label(overrides)} (runs of their own)" if overrides else ""
    log(f"profile {profile} ({why}), {seeds} seed(s) per run; data: {shown(data_dir)}; logs: {shown(logdir)}{varied}")
    return {"profile": profile, "seeds": seeds, "data_dir": data_dir, "logdir": logdir, "overrides": overrides}

