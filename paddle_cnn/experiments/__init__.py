"""Experiments: the articles' runs, profiles and claims as data (definitions), resolved into run plans (plans),
executed by the runner, judged (verdicts) and reported (report: tables, plots, results.md).

The names below are imported on first use, so reading the definitions (the CLI's help, `paddle-cnn list`) does
not load paddle."""
_PUBLIC = {"EXPERIMENTS": "definitions", "PROFILES": "definitions", "Claim": "definitions",
           "Experiment": "definitions", "Run": "definitions", "get_experiment": "definitions",
           "TrainPlan": "plans", "plan_experiment": "plans", "run_experiment": "runner",
           "show": "report", "show_findings": "report", "show_plans": "plan_view",
           "notebook_settings": "notebook"}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        import importlib
        return getattr(importlib.import_module(f"paddle_cnn.experiments.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module 'paddle_cnn.experiments' has no attribute {name!r}")
