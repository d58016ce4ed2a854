"""Experiments: the articles' runs, profiles and claims as data (definitions), resolved into run plans (plans),
executed by the runner, judged (verdicts) and reported (report: tables, plots, results.md)."""
from paddle_cnn.experiments.definitions import EXPERIMENTS, PROFILES, Claim, Experiment, Run, get_experiment
from paddle_cnn.experiments.plans import TrainPlan, plan_experiment
from paddle_cnn.experiments.runner import run_experiment

__all__ = ["EXPERIMENTS", "PROFILES", "Claim", "Experiment", "Run", "get_experiment", "TrainPlan",
           "plan_experiment", "run_experiment"]
