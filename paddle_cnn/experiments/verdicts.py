"""Verdicts: each claim of an experiment beside our figure, judged by a rule that can say "not reproduced".

The rules (docs/experiments.md, "How claims are judged", the foot of every results.md; pinned in tests/test_verdicts.py):
- exact counts ('params'): reproduced when equal, under every profile;
- a number ('value', "89.11%"): our 95% t-interval over seeds, widened by the claim's tolerance, must contain the
  article's number: "reproduced" (unless the interval is wider than WIDE x the tolerance each side: "inside the
  noise"); else "above" / "below". Only under a profile with the article's settings;
- a gain ('gain', "+~25 points"): the article's words are an explicit range (~25 -> 15..35, ten-odd -> 10..19,
  at least 1 -> >= 1, at most 2 -> <= 2, within 1 -> -1..+1), compared with the 95% Welch interval of our difference: "larger than
  claimed" / "smaller than claimed" (wholly above / below), "opposite direction", "reproduced" (overlapping a
  range that excludes zero with an interval that excludes zero too; for a range that includes zero, "helps
  little", our whole interval inside it), else "inside the noise";
- better / smoother / faster ('better'): a two-sided Welch t-test at 5% with the t quantile of its own degrees of
  freedom: "reproduced", "opposite direction" or "inside the noise";
- a measure in a range ('range': converges, does not converge, overfits): our interval inside the range
  "reproduced", wholly outside "above" / "below", across a bound "inside the noise"; convergence is judged on
  the training loss, which is what the articles speak of;
- a cost ('cost': "costs much computation"): the ratio of the two models' seconds per training step, timed
  alternately in one process (rounds), its 95% t-interval (log scale) against the claimed range of ratios;
- fewer than 3 seeds in a run a statistical rule needs: "needs >= 3 seeds", never a direction from a sign.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from paddle_cnn.experiments.definitions import CONVERGED_DROP, check_profile
from paddle_cnn.experiments.statistics import (LEVEL, MAX_SEEDS, POWER, interval, seeds_needed, seeds_to_fit,
                                               stats, welch)
from paddle_cnn.training.config import settings_label

NOT_COMPARABLE = "not comparable at this profile"
NEEDS_SEEDS = "needs >= 3 seeds"
MIN_SEEDS = 3
WIDE = 5  # a number's interval wider than WIDE x its tolerance (each side) is too noisy to reproduce anything

RULES = [
    ("exact count", "reproduced when our count equals the article's, under every profile"),
    ("number", "reproduced when the article's number lies inside our 95% t-interval over seeds widened by the "
               f"stated tolerance, unless that interval is more than {WIDE} x the tolerance wide on each side (then: "
               "inside the noise); 'above' / 'below' when our whole widened interval is above / below it; judged "
               "only under the full profile (the article's settings)"),
    ("gain", "the article's words become an explicit range (~25 -> 15..35, ten-odd -> 10..19, at least 1 -> >= 1, "
             "at most 2 -> <= 2 ('does not help': any loss passes), within 1 -> -1..+1 ('helps little': a small "
             "effect either way)), compared with the 95% Welch interval of our difference: wholly above / below the "
             "range: larger / smaller than claimed; wholly below zero (for a claimed gain) or below a two-sided "
             "range: opposite direction (larger than claimed); overlapping a range that excludes zero: reproduced "
             "if our interval excludes zero too, else inside the noise; for a range that includes zero: reproduced "
             "only with our whole interval inside it, else inside the noise"),
    ("better", "a two-sided Welch t-test at the 5% level, t quantile for its own degrees of freedom: reproduced, "
               "opposite direction, or inside the noise"),
    ("fewer", "a count of the two models (parameters, multiply-accumulates): exact, reproduced when the first is "
              "smaller; under quick and smoke counted at the profile's input size, marked with the profile"),
    ("cost", "the ratio of two models' seconds per training step, timed alternately in one process (rounds of "
             "steps of each; a drift of the machine's load falls on both alike, which the runs' wall times do not "
             "share): its 95% t-interval over rounds (geometric mean) inside the claimed range: reproduced; wholly "
             "below 1: opposite direction; wholly below the range: smaller than claimed; across a bound: inside the "
             "noise"),
    ("range", "a per-run measure (training-loss drop, train-eval gap, the eval loss's rise after its minimum) "
              "against a claimed range: our 95% t-interval wholly inside it: reproduced; wholly outside: above / "
              "below; across a bound: inside the noise"),
    ("detectable", "under every comparison: the half-width of the 95% interval of the difference (smaller "
                   "differences cannot be told from the noise) and the seeds per run the article's own difference "
                   f"would need for {POWER:.0%} power at the spread observed (noncentral t); for a claim of no "
                   "effect, the seeds at which our interval could fit inside its range at all"),
    ("seeds", f"every statistical rule needs >= {MIN_SEEDS} seeds per run; with fewer the verdict is "
              f"'{NEEDS_SEEDS}'"),
    ("profiles", "under the quick profile (fewer epochs, smaller data) numbers are 'not comparable at this "
                 "profile', and the verdicts of gains, comparisons and ranges carry '(quick)'; the smoke profile "
                 "judges exact counts only"),
]


def by_label(results) -> dict:
    out: dict = {}
    for r in results.get("runs", []):
        out.setdefault(r.get("label", r["model"]), []).append(r)
    return out


# --- per-run measures -------------------------------------------------------------------------------------------

def roughness(values) -> float:
    """'Smoothness' made a number: the standard deviation of the epoch-to-epoch changes of a curve."""
    v = np.asarray(values, dtype=float)
    return float(np.std(np.diff(v))) if len(v) > 2 else float("nan")


def _last(run, key):
    h = run.get("history", {}).get(key) or []
    return float(h[-1]) if h else float("nan")


def loss_rise(run) -> float:
    """Overfitting as the articles read it off the validation-loss curve: how far the eval loss ends above its
    lowest point (0: still at its minimum; 0.5: half again as high)."""
    losses = run.get("history", {}).get("eval_loss") or []
    return float(losses[-1] / min(losses) - 1) if losses and min(losses) > 0 else float("nan")


def epochs_to(run, fraction=0.9) -> float:
    """Epochs until the eval accuracy first reaches `fraction` of its best."""
    acc = run.get("history", {}).get("eval_acc") or []
    if not acc:
        return float("nan")
    best = max(acc)
    return float(next(i + 1 for i, a in enumerate(acc) if a >= fraction * best))


def train_loss_drop(run) -> float:
    """1 - final training loss / ln(classes): 0 for a network that still guesses uniformly, 1 for a perfect fit."""
    return 1 - _last(run, "train_loss") / math.log(run.get("num_classes", 10))


# name: (per-run function, higher is better, what it is)
MEASURES = {
    "test_acc": (lambda r: r.get("test_acc"), True, "test accuracy"),
    "test_top2": (lambda r: r.get("test_top2"), True, "test top-2 accuracy"),
    "best_eval_acc": (lambda r: r.get("best_eval_acc"), True, "best eval accuracy"),
    "train_seconds": (lambda r: r.get("train_seconds"), False, "training time, s"),
    "eval_loss_roughness": (lambda r: roughness(r["history"]["eval_loss"]), False,
                            "roughness of the eval loss (std of its epoch-to-epoch changes)"),
    "min_eval_loss": (lambda r: min(r["history"]["eval_loss"]), False, "lowest eval loss"),
    "final_eval_loss": (lambda r: _last(r, "eval_loss"), False, "eval loss at the last epoch"),
    "eval_loss_rise": (lambda r: loss_rise(r), False,
                       "rise of the eval loss after its minimum (last / lowest - 1)"),
    "eval_acc_roughness": (lambda r: roughness(r["history"]["eval_acc"]), False,
                           "roughness of the eval accuracy (std of its epoch-to-epoch changes)"),
    "train_eval_gap": (lambda r: _last(r, "train_acc") - _last(r, "eval_acc"), False,
                       "train - eval accuracy at the last epoch"),
    "epochs_to_90": (lambda r: epochs_to(r, 0.9), False, "epochs to 90% of the best eval accuracy"),
    "train_loss_drop": (train_loss_drop, True, "1 - final training loss / ln(classes)"),
}


def measure(name: str, run: dict) -> float:
    v = MEASURES[name][0](run)
    return float("nan") if v is None else float(v)


# --- the rules --------------------------------------------------------------------------------------------------

def range_text(lo, hi, percent=True) -> str:
    f = (lambda v: f"{100 * v:g}") if percent else (lambda v: f"{v:g}")
    unit = " points" if percent else ""
    if lo is None:
        return f"<= {f(hi)}{unit}"
    if hi is None:
        return f">= {f(lo)}{unit}"
    return f"{f(lo)}..{f(hi)}{unit}"


def against_range(lo, hi, r_lo, r_hi) -> str:
    """Our interval [lo, hi] against a claimed range [r_lo, r_hi] (None: unbounded): 'above', 'below', 'inside'
    (ours wholly within it), 'overlaps'."""
    if r_hi is not None and lo > r_hi:
        return "above"
    if r_lo is not None and hi < r_lo:
        return "below"
    if (r_lo is None or lo >= r_lo) and (r_hi is None or hi <= r_hi):
        return "inside"
    return "overlaps"


def judge_value(xs, value, tolerance) -> dict:
    m, lo, hi, n = interval(xs)
    where = against_range(lo - tolerance, hi + tolerance, value, value)
    verdict = {"above": "above", "below": "below"}.get(where, "reproduced")
    if verdict == "reproduced" and (hi - lo) / 2 > WIDE * tolerance:
        verdict = "inside the noise"  # an interval that wide contains almost any number: no evidence
    return {"verdict": verdict, "ours": f"{m:.4f}", "n": n, "interval": f"[{lo:.4f}, {hi:.4f}]",
            "rule": f"number: the article's {value} must lie in our 95% t-interval ± {tolerance} (half-width at "
                    f"most {WIDE} x {tolerance})"}


def no_effect(r_lo, r_hi) -> bool:
    """A claimed range that includes zero ('helps little', 'does not help'): a claim of no (large) effect."""
    return (r_lo is None or r_lo <= 0) and (r_hi is None or r_hi >= 0)


def judge_gain(xs, ys, r_lo, r_hi, factor=1.0) -> dict:
    w = welch(xs, ys, factor)
    where = against_range(w["lo"], w["hi"], r_lo, r_hi)
    no_effect_ok = no_effect(r_lo, r_hi)
    if w["hi"] < 0 and factor == 1 and not no_effect_ok:
        verdict = "opposite direction"
    elif where == "above":
        verdict = "larger than claimed"
    elif where == "below" and r_lo is not None and r_lo < 0:  # "helps little" (within 1), a loss beyond it: reversed
        verdict = "opposite direction, larger than claimed"
    elif where == "below":
        verdict = "smaller than claimed"
    elif no_effect_ok:  # a claim of no (large) effect needs our whole interval inside its range
        verdict = "reproduced" if where == "inside" else "inside the noise"
    elif w["lo"] <= 0:
        verdict = "inside the noise"
    else:
        verdict = "reproduced"
    what = "difference" if factor == 1 else f"a - {factor:g} x b"
    return {"verdict": verdict, "ours": f"{w['diff']:+.4f}", "n": f"{w['na']} vs {w['nb']}",
            "interval": f"[{w['lo']:+.4f}, {w['hi']:+.4f}]",
            "rule": f"gain: 95% Welch interval of the {what} (df {w['df']:.1f}) vs the claimed range"}


def judge_better(xs, ys, higher_is_better=True) -> dict:
    w = welch(xs, ys)
    d = w["diff"] if higher_is_better else -w["diff"]
    verdict = "inside the noise" if w["p"] >= 1 - LEVEL else ("reproduced" if d > 0 else "opposite direction")
    return {"verdict": verdict, "ours": f"{w['a']:.4f} vs {w['b']:.4f}", "n": f"{w['na']} vs {w['nb']}",
            "interval": f"[{w['lo']:+.4f}, {w['hi']:+.4f}]",
            "rule": f"better: two-sided Welch t-test, p = {w['p']:.3f}, df {w['df']:.1f}"}


def judge_range(xs, r_lo, r_hi) -> dict:
    m, lo, hi, n = interval(xs)
    where = against_range(lo, hi, r_lo, r_hi)
    verdict = {"inside": "reproduced", "overlaps": "inside the noise"}.get(where, where)
    return {"verdict": verdict, "ours": f"{m:.4f}", "n": n, "interval": f"[{lo:.4f}, {hi:.4f}]",
            "rule": "range: our 95% t-interval within the claimed range"}


def log_ratios(xs, ys) -> np.ndarray:
    """ln(x / y) of each round: a cost ratio is averaged on the log scale (x1/2 and x2 cancel)."""
    return np.log(np.asarray(xs, dtype=float) / np.asarray(ys, dtype=float))


def judge_cost(xs, ys, r_lo, r_hi) -> dict:
    """A cost ratio: seconds per training step of run (xs) over than (ys), one pair per round timed alternately in
    one process. The 95% t-interval of the mean log ratio over rounds, exponentiated, against the claimed range of
    ratios: inside it: reproduced; wholly below 1: opposite direction (cheaper); wholly below the range: smaller
    than claimed; wholly above: larger than claimed; across a bound: inside the noise."""
    m, lo, hi, n = interval(log_ratios(xs, ys))
    m, lo, hi = math.exp(m), math.exp(lo), math.exp(hi)
    where = against_range(lo, hi, r_lo, r_hi)
    verdict = "opposite direction" if hi < 1 else {"inside": "reproduced", "above": "larger than claimed",
                                                   "below": "smaller than claimed"}.get(where, "inside the noise")
    return {"verdict": verdict, "ours": f"x{m:.3f}", "n": f"{n} rounds", "interval": f"[x{lo:.3f}, x{hi:.3f}]",
            "rule": "cost: 95% t-interval of the step-time ratio over rounds timed alternately in one process "
                    "(geometric mean) vs the claimed range",
            "detectable": f"ratios within x{lo / m:.3f}..x{hi / m:.3f} of ours cannot be told apart ({n} rounds)"}


def cost_row(c, timing, profile) -> dict:
    """A 'cost' claim judged on results.json's step_timing (rows of per-round seconds per run)."""
    rounds = {t["run"]: t["seconds"] for t in timing or []}
    if c.run not in rounds or c.than not in rounds:
        return {"reason": "its step timing is not run yet (run the experiment again: finished runs are reused)"}
    xs, ys = rounds[c.run], rounds[c.than]
    ratio = float(np.exp(np.mean(log_ratios(xs, ys))))  # the geometric mean of the rounds' ratios
    if not profile.judges_runs:
        return {"ours": f"x{ratio:.3f}", "n": f"{len(xs)} rounds", "reason": f"{profile.name} profile: {profile.what}"}
    if len(xs) < MIN_SEEDS:
        return {"ours": f"x{ratio:.3f}", "n": f"{len(xs)} rounds", "verdict": f"needs >= {MIN_SEEDS} rounds"}
    row = judge_cost(xs, ys, *c.range)
    if not profile.comparable:
        row["verdict"] += f" ({profile.name})"
        row["reason"] = f"{profile.name} profile: timed at its input size, not the article's"
    return row


def strongest(c, groups) -> str:
    """The rival of a 'best' claim with the best mean of its metric in our runs."""
    higher = MEASURES[c.metric][1]
    score = {r: stats([measure(c.metric, x) for x in groups[r]])[0] * (1 if higher else -1) for r in c.rivals}
    return max(c.rivals, key=lambda r: score[r] if score[r] == score[r] else -math.inf)  # NaN: never the strongest


def judge_fewer(a, b) -> dict:
    """A count (parameters, MACs) of two models: exact, so no interval; 'reproduced' when a < b."""
    if a is None or b is None:
        return {"reason": "not recorded for these runs (rerun them)"}
    change = abs(a - b) / b if b else float("nan")  # the first against the second, as the claim orders them
    return {"ours": f"{a:,} vs {b:,} (the first {change:.0%} {'fewer' if a < b else 'more' if a > b else 'alike'})",
            "n": 1,
            "verdict": "reproduced" if a < b else "not reproduced", "rule": "exact count of the two models"}


def _claimed(c) -> str:
    if c.kind == "gain":
        return f"{c.words} -> {range_text(*c.range)}" + (f" (a - {c.factor:g} x b > 0)" if c.factor != 1 else "")
    if c.kind == "range":
        return f"{c.words} -> {range_text(*c.range, percent=False)}"
    if c.kind == "cost":
        return f"{c.words} -> {c.run} / {c.than} {range_text(*c.range, percent=False)}"
    if c.kind == "value":
        return f"{c.value} ± {c.tolerance}"
    if c.kind == "better" and c.metric in MEASURES:
        higher = MEASURES[c.metric][1]
        than = f"each of {', '.join(c.rivals)} (strongest here: {c.than})" if c.rivals else c.than
        return f"{c.run} {'>' if higher else '<'} {than} ({'higher' if higher else 'lower'} {MEASURES[c.metric][2]})"
    if c.kind == "fewer":
        return f"{c.run} < {c.than} ({measured(c)})"
    return c.words or ("" if c.value is None else f"{c.value:,}" if isinstance(c.value, int) else str(c.value))


def verdicts(exp, results) -> list[dict]:
    """Each claim of `exp` judged on `results` (as in results.json), then the articles' arithmetic checks, then the
    rest of the article's claims: where they are judged, or why they are not."""
    from paddle_cnn.experiments.catalog import other_claims
    profile = check_profile(str(results.get("profile")))
    if results.get("overrides"):  # settings varied from outside: like a profile, not the article's settings
        profile = dataclasses.replace(profile, name=f"{profile.name} + {settings_label(results['overrides'])}",
                                      comparable=False)
    groups = by_label(results)
    out = []
    for c in exp.claims:
        row = {"model": c.run, "metric": c.metric, "value": c.value, "source": c.source, "text": c.text,
               "claimed": _claimed(c), "measured": measured(c), "ours": None, "n": "", "interval": "", "verdict": NOT_COMPARABLE,
               "rule": "", "reason": ""}
        if c.rivals and all(groups.get(r) for r in c.rivals):  # a best: against the strongest rival in our runs
            c = dataclasses.replace(c, than=strongest(c, groups))
            row["claimed"] = _claimed(c)
        runs, other = groups.get(c.run, []), groups.get(c.than, []) if c.than else []
        if not runs or (c.than and not other) or any(not groups.get(r) for r in c.rivals):
            row["reason"] = "not run yet"
        elif c.kind == "params":
            row["ours"] = runs[0].get(c.metric)
            row.update(verdict="reproduced" if row["ours"] == c.value else "not reproduced", rule="exact count",
                       n=1)
        elif c.kind == "cost":
            row.update(cost_row(c, results.get("step_timing"), profile))
        elif c.kind == "fewer":
            row.update(judge_fewer(runs[0].get(c.metric), other[0].get(c.metric)))
            if not profile.comparable and row["verdict"] != NOT_COMPARABLE:  # counts at the profile's input size
                row.update(verdict=f"{row['verdict']} ({profile.name})",
                           reason=f"{profile.name} profile: counted at its input size, not the article's")
        else:
            row.update(_judge(c, runs, other, profile, exp.claims))
        out.append(row)
    return out + arithmetic_claims(results.get("arithmetic", [])) + other_claims(exp)


def _judge(c, runs, other, profile, claims) -> dict:
    xs = [measure(c.metric, r) for r in runs]
    ys = [measure(c.metric, r) for r in other]
    mean, _, n = stats(xs)
    if c.kind == "shown":
        return {"ours": c.show(runs) if c.show else f"{mean:.4f}", "n": len(xs), "verdict": "shown, not judged",
                "rule": "shown beside the article's figure", "reason": c.why_not}
    if not profile.judges_runs:
        return {"ours": None if math.isnan(mean) else f"{mean:.4f}", "n": len(xs),
                "reason": f"{profile.name} profile: {profile.what}"}
    n = min([n] + ([stats(ys)[2]] if c.than else []))
    if n < MIN_SEEDS:
        return {"ours": f"{mean:.4f}", "n": n, "verdict": NEEDS_SEEDS,
                "rule": f"a verdict needs >= {MIN_SEEDS} seeds per run (--seeds {MIN_SEEDS})"}
    if c.kind == "value":
        row = judge_value(xs, c.value, c.tolerance)
        if not profile.comparable:
            row.update(verdict=NOT_COMPARABLE, reason=f"{profile.name} profile, not the article's settings: "
                                                      "a number is compared only under the full profile")
        elif not all(r.get("own_split", True) for r in runs):
            row.update(verdict=NOT_COMPARABLE, reason="our own split of the data set (its list files, the article's "
                                                      "split, are not here): a number is compared only on the "
                                                      "article's data")
        return row
    if c.kind == "gain":
        row = judge_gain(xs, ys, *c.range, factor=c.factor)
    elif c.kind == "better":
        row = judge_better(xs, ys, MEASURES[c.metric][1])
    elif c.kind == "range":
        row = judge_range(xs, *c.range)
    else:
        raise ValueError(f"unknown claim kind {c.kind!r}")
    row["rule"] += f"; {MEASURES[c.metric][2]}"
    if c.kind in ("gain", "better"):
        row["detectable"] = detectability(c, xs, ys, claims)
    if not profile.comparable:
        row["verdict"] += f" ({profile.name})"
        row["reason"] = f"{profile.name} profile, not the article's settings"
    return row


def measured(c) -> str:
    """The quantity a claim is judged on, in words."""
    if c.metric in MEASURES:
        return MEASURES[c.metric][2]
    return {"params": "parameters (weights and biases)", "weights": "weights (no biases)",
            "step_seconds": "seconds per training step, the two models timed alternately in one process",
            "macs": "multiply-accumulates per image"}.get(c.metric, c.metric)


def article_difference(c, claims) -> float | None:
    """The size of the difference the article claims for comparison c: the middle of its gain words' range (the
    bound of 'at least X'), or the difference of the article's own numbers for the two runs on the same measure
    (article 002: 0.9837 - 0.9810); None where it gives no size (a 'better', a claim of no effect, a factor)."""
    if c.kind == "gain":
        lo, hi = c.range
        if c.factor != 1 or no_effect(lo, hi):
            return None
        return lo if hi is None else (lo + hi) / 2
    values = {(x.run, x.metric): x.value for x in claims if x.kind == "value"}
    a, b = values.get((c.run, c.metric)), values.get((c.than, c.metric))
    return None if a is None or b is None else a - b


def detectability(c, xs, ys, claims) -> str:
    """What the runs could detect: the half-width of the 95% interval of the difference, and the seeds per run the
    article's claimed difference would need for 80% power at the spread observed (for a claim of no effect: the
    seeds at which our interval could fit inside its range at all)."""
    w = welch(xs, ys, c.factor)
    sa, sb = stats(xs)[1], c.factor * stats(ys)[1]
    text = f"differences under ±{(w['hi'] - w['lo']) / 2:.4f} are not detectable ({w['na']} vs {w['nb']} seeds)"
    more = f"more than {MAX_SEEDS:,}"
    if c.kind == "gain" and c.factor == 1 and no_effect(*c.range):
        bound = min(abs(x) for x in c.range if x is not None)
        n = seeds_to_fit(sa, sb, bound)
        return text + (f"; our interval can fit inside ±{bound:g} only from {n or more} seeds per run (spread as "
                       "observed, no true difference)" if bound > 0 else "")
    d = article_difference(c, claims)
    if d is None:
        return text + "; the article gives no size for this difference"
    n = seeds_needed(sa, sb, d)
    return text + f"; the article's {d:+.4f} would need {n or more} seeds per run for {POWER:.0%} power (spread as " \
                  "observed)"


def arithmetic_claims(checks: list[dict]) -> list[dict]:
    """The articles' arithmetic checks (arithmetic/claims.py) as claim rows."""
    return [{"model": "", "metric": "arithmetic", "value": c["stated"], "source": c["source"], "text": c["claim"],
             "claimed": str(c["stated"]), "ours": c["ours"], "n": "", "interval": "",
             "verdict": "reproduced" if c["verdict"] == "agrees" else "not reproduced",
             "rule": "arithmetic from our layer tables", "reason": c["note"]} for c in checks]


def rules_markdown() -> str:
    """The rules, as the foot of every results.md and docs/experiments.md state them."""
    return "\n".join(["How claims are judged:", ""] + [f"- **{name}**: {text}" for name, text in RULES])
