"""The verdict rules, table-driven, on made-up runs whose right answers are worked out by hand.

Three seeds per arm unless a case says otherwise; `three(m, sd)` is [m - sd, m, m + sd] (std ddof 1 = sd), so a
one-sample 95% t-interval is m ± 4.303 * sd / sqrt(3) = m ± 2.484 sd, and the Welch difference of two such arms has
se = sd * sqrt(2/3) with 4 degrees of freedom (t 2.776). ADVERSARIAL cases are the ways the old rules said
"reproduced" when they should not have: none of them may read "reproduced"; CONTROL cases must.
"""
import math

import numpy as np
import pytest

from paddle_cnn.experiments import Experiment, Run
from paddle_cnn.experiments.definitions import Claim, better, converges, gain, gain_range, gap, loss_rise
from paddle_cnn.experiments.statistics import t_quantile, welch
from paddle_cnn.experiments.verdicts import judge_better, roughness, verdicts

LN10 = math.log(10)


def three(m, sd=0.01):
    return [m - sd, m, m + sd]


def runs(label, values, metric="test_acc"):
    """Runs whose `metric` takes `values`, one per seed. Measures of curves get curves that produce them."""
    out = []
    for i, v in enumerate(values):
        r = {"run": f"{label}-s{i}", "label": label, "model": label, "seed": i, "params": 100, "num_classes": 10,
             "test_acc": 0.5, "best_eval_acc": 0.5, "epochs": 4, "train_seconds": 1.0,
             "history": {"eval_loss": [1.0, 0.9, 0.8, 0.7], "eval_acc": [0.2, 0.4, 0.5, 0.5],
                         "train_loss": [2.3, 2.0, 1.5, 1.0], "train_acc": [0.2, 0.4, 0.5, 0.5]}}
        if metric in ("test_acc", "best_eval_acc", "train_seconds"):
            r[metric] = v
        elif metric == "train_loss_drop":
            r["history"]["train_loss"][-1] = (1 - v) * LN10
        elif metric == "train_eval_gap":
            r["history"]["train_acc"][-1] = 0.5 + v
        elif metric == "eval_loss_rise":  # lowest 0.7 at epoch 3, then the last epoch v x 0.7 above it
            r["history"]["eval_loss"] = [1.0, 0.9, 0.7, 0.7 * (1 + v)]
        elif metric == "eval_loss_roughness":  # alternating steps of size v: std of the changes grows with v
            r["history"]["eval_loss"] = [1.0, 1.0 - v, 1.0, 1.0 - v]
        elif metric == "epochs_to_90":
            r["history"]["eval_acc"] = [0.1] * (int(v) - 1) + [0.9] * (5 - int(v) + 1)
        else:
            raise AssertionError(metric)
        out.append(r)
    return out


def judge(claim, a, b=(), profile="full"):
    exp = Experiment("e", "title", "source", "data", (Run(claim.run, claim.run),), {}, {}, claims=(claim,))
    data = runs(claim.run, a, claim.metric) + (runs(claim.than, b, claim.metric) if claim.than else [])
    return verdicts(exp, {"profile": profile, "runs": data})[0]


def value(v, tol=0.01, metric="test_acc"):
    return Claim("value", "a", metric, v, "source", "text", tolerance=tol)


def g(words, factor=1.0):
    return gain("a", "b", words, "source", "text", metric="test_acc", factor=factor)


BETTER = better("a", "b", "test_acc", "source", "text")

CASES = [  # (id, claim, a, b, profile, verdict, role)
    # numbers
    ("80% against ~60% is above, not reproduced", value(0.60, 0.05), three(0.80), (), "full", "above", "adversarial"),
    ("above the article's number is 'above'", value(0.97), three(0.99, 0.002), (), "full", "above", "adversarial"),
    ("clearly below", value(0.9810), three(0.95, 0.005), (), "full", "below", "adversarial"),
    ("two seeds: no interval to judge", value(0.97), [0.97, 0.97], (), "full", "needs >= 3 seeds", "adversarial"),
    ("a number under quick is not comparable", value(0.97), three(0.97), (), "quick",
     "not comparable at this profile", "adversarial"),
    ("inside the widened interval", value(0.9810), three(0.975, 0.005), (), "full", "reproduced", "control"),
    ("an interval too wide to tell (half-width > 5 x tolerance)", value(0.71, 0.02), three(0.70, 0.05), (), "full",
     "inside the noise", "adversarial"),
    ("the first try's [0.41, 1.13] against 71%", value(0.71, 0.02), [0.61, 0.818, 0.888], (), "full",
     "inside the noise", "adversarial"),
    ("a moderately wide interval contains it", value(0.71, 0.02), three(0.70, 0.02), (), "full", "reproduced",
     "control"),
    # gains
    ("+60 points against ~25 is larger", g("~25"), three(0.85), three(0.25), "full", "larger than claimed",
     "adversarial"),
    ("+0.5 points against 'at least 1' is smaller", g("at least 1"), three(0.505, 0.001), three(0.50, 0.001),
     "full", "smaller than claimed", "adversarial"),
    ("+25 points against ten-odd is larger", g("ten-odd"), three(0.75), three(0.50), "full",
     "larger than claimed", "adversarial"),
    ("-10 points against ~8 is the opposite direction", g("~8"), three(0.40), three(0.50), "full",
     "opposite direction", "adversarial"),
    ("overlapping ~8 but including no gain", g("~8"), three(0.55, 0.05), three(0.50, 0.05), "full",
     "inside the noise", "adversarial"),
    ("LRN 'helps little' but gains 5 points", g("within 1"), three(0.55, 0.002), three(0.50, 0.002), "full",
     "larger than claimed", "adversarial"),
    ("LRN 'helps little' but loses 13.5 points: an effect, reversed", g("within 1"), three(0.365, 0.002),
     three(0.50, 0.002), "full", "opposite direction, larger than claimed", "adversarial"),
    ("'helps little' losing 1.5 points", g("within 1"), three(0.485, 0.001), three(0.50, 0.001), "full",
     "opposite direction, larger than claimed", "adversarial"),
    ("all tricks less than double", g("more than double", 2.0), three(0.66), three(0.40), "full",
     "smaller than claimed", "adversarial"),
    ("a gain with one seed", g("~25"), [0.75], [0.50], "quick", "needs >= 3 seeds", "adversarial"),
    ("'helps little' on an interval of [-0.41, +0.27]", g("within 1"), [0.60, 0.70, 0.90], [0.80, 0.75, 0.85],
     "full", "inside the noise", "adversarial"),
    ("'does not help' across its bound", g("at most 2"), three(0.52, 0.01), three(0.50, 0.01), "full",
     "inside the noise", "adversarial"),
    ("'does not help' (at most 2) when it hurts: holds", g("at most 2"), three(0.40, 0.002),
     three(0.50, 0.002), "full", "reproduced", "control"),
    ("'helps little': -0.5 points, interval inside -1..+1", g("within 1"), three(0.495, 0.001), three(0.50, 0.001),
     "full", "reproduced", "control"),
    ("+25 points against ~25", g("~25"), three(0.75), three(0.50), "full", "reproduced", "control"),
    ("+12 points against ten-odd", g("ten-odd"), three(0.62), three(0.50), "full", "reproduced", "control"),
    ("+0.2 points against 'within 1'", g("within 1"), three(0.502, 0.002), three(0.50, 0.002), "full",
     "reproduced", "control"),
    ("0.66 against 2 x 0.30", g("more than double", 2.0), three(0.66), three(0.30), "full", "reproduced",
     "control"),
    # better / smoother / faster
    ("+0.1 point with one seed per run", BETTER, [0.901], [0.900], "quick", "needs >= 3 seeds", "adversarial"),
    ("two seeds per run", BETTER, [0.95, 0.96], [0.80, 0.81], "full", "needs >= 3 seeds", "adversarial"),
    ("t = 2.5 at df 4: beyond the old 2 standard errors, inside the noise", BETTER,
     three(0.80 + 2.5 * 0.01 * math.sqrt(2 / 3)), three(0.80), "full", "inside the noise", "adversarial"),
    ("clearly worse", BETTER, three(0.80), three(0.90), "full", "opposite direction", "adversarial"),
    ("a small difference", BETTER, three(0.905), three(0.90), "full", "inside the noise", "adversarial"),
    ("smoke judges no runs", BETTER, three(0.90), three(0.10), "smoke", "not comparable at this profile",
     "adversarial"),
    ("rougher eval loss is not smoother", better("a", "b", "eval_loss_roughness", "s", "t"), three(0.3, 0.02),
     three(0.1, 0.02), "full", "opposite direction", "adversarial"),
    ("t = 3.2 at df 4", BETTER, three(0.80 + 3.2 * 0.01 * math.sqrt(2 / 3)), three(0.80), "full", "reproduced",
     "control"),
    ("clearly better, quick marks it", BETTER, three(0.90), three(0.80), "quick", "reproduced (quick)", "control"),
    ("smoother eval loss", better("a", "b", "eval_loss_roughness", "s", "t"), three(0.1, 0.02), three(0.3, 0.02),
     "full", "reproduced", "control"),
    ("fewer epochs to 90%", better("a", "b", "epochs_to_90", "s", "t"), [1, 1, 2], [4, 4, 3], "full",
     "reproduced", "control"),
    # ranges: convergence on the training loss, overfitting as a train - eval gap
    ("'does not converge' but the loss fell by half", converges("a", "s", "t", does=False), three(0.5, 0.02), (),
     "full", "above", "adversarial"),
    ("'converges' but the loss stayed at ln(10)", converges("a", "s", "t"), three(0.01, 0.005), (), "full",
     "below", "adversarial"),
    ("'converges' across the 10% bound", converges("a", "s", "t"), three(0.10, 0.03), (), "full",
     "inside the noise", "adversarial"),
    ("'overfits badly' with a 2-point gap", gap("a", "s", "t", low=0.20), three(0.02), (), "full", "below",
     "adversarial"),
    ("'does not converge' and it did not", converges("a", "s", "t", does=False), three(0.01, 0.005), (), "full",
     "reproduced", "control"),
    ("'converges' and it did", converges("a", "s", "t"), three(0.5, 0.02), (), "full", "reproduced", "control"),
    ("'overfits badly' with a 30-point gap", gap("a", "s", "t", low=0.20), three(0.30), (), "full", "reproduced",
     "control"),
    ("'overfits badly' but the eval loss ends 2% above its minimum", loss_rise("a", "s", "t", low=0.20),
     three(0.02, 0.005), (), "full", "below", "adversarial"),
    ("'does not overfit' but the eval loss ends 40% above its minimum", loss_rise("a", "s", "t", high=0.05),
     three(0.40), (), "full", "above", "adversarial"),
    ("'overfits badly': the eval loss ends 50% above its minimum", loss_rise("a", "s", "t", low=0.20), three(0.50),
     (), "full", "reproduced", "control"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_verdict_table(case):
    name, claim, a, b, profile, verdict, role = case
    row = judge(claim, a, b, profile)
    assert row["verdict"] == verdict, row
    if role == "adversarial":
        assert not row["verdict"].startswith("reproduced"), row
    else:
        assert row["verdict"].startswith("reproduced"), row


def test_the_table_is_big_enough_and_has_both_kinds():
    roles = [c[-1] for c in CASES]
    assert len(CASES) >= 20 and roles.count("adversarial") >= 15 and roles.count("control") >= 8


def test_every_judged_row_shows_its_rule_n_and_interval():
    row = judge(g("~25"), three(0.75), three(0.50))
    assert row["n"] == "3 vs 3" and row["interval"].startswith("[") and "Welch" in row["rule"]
    assert row["claimed"] == "~25 -> 15..35 points"
    row = judge(value(0.9810), three(0.975, 0.005))
    assert row["n"] == 3 and row["interval"] == "[0.9626, 0.9874]" and "t-interval" in row["rule"]


@pytest.mark.parametrize("df,q", [(1, 12.706), (2, 4.303), (4, 2.776), (10, 2.228), (30, 2.042), (1000, 1.962)])
def test_t_quantiles_match_the_tables(df, q):
    assert t_quantile(0.975, df) == pytest.approx(q, abs=1e-3)


def test_welch_uses_its_own_degrees_of_freedom():
    w = welch([1.0, 2.0, 3.0], [1.0, 1.1, 1.2, 1.3, 1.4])  # variances 1/3 and 0.025/5
    va, vb = 1.0 / 3, 0.025 / 5
    assert w["se"] == pytest.approx(math.sqrt(va + vb))
    assert w["df"] == pytest.approx((va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 4))
    assert 2.0 < w["df"] < 2.2  # the noisy arm's n - 1, not n1 + n2 - 2 = 6
    assert judge_better([1.0, 2.0, 3.0], [1.0, 1.1, 1.2, 1.3, 1.4])["verdict"] == "inside the noise"


@pytest.mark.parametrize("words,rng", [("~25", (0.15, 0.35)), ("ten-odd", (0.10, 0.19)), ("at least 1", (0.01, None)),
                                       ("within 1", (-0.01, 0.01)),
                                       ("~8", (0.048, 0.112)), ("at most 2", (None, 0.02))])
def test_the_articles_words_become_explicit_ranges(words, rng):
    assert gain_range(words) == pytest.approx(rng) if None not in rng else gain_range(words) == rng


def test_unknown_gain_words_are_refused():
    with pytest.raises(ValueError, match="no range for the gain words 'about a lot'"):
        gain_range("about a lot")


def test_roughness_is_the_spread_of_the_steps():
    assert roughness([1.0, 0.9, 0.8, 0.7]) == pytest.approx(0.0, abs=1e-12)
    assert roughness([1.0, 0.5, 0.9, 0.3]) > 0.4


# the claims the articles make that once had no row anywhere (issue list), by a phrase of our text
ONCE_UNJUDGED = ["larger learning rate", "less on the initialisation", "speeds up convergence", "lower still",
                 "5 conv layers and 3 conv layers", "(13-3+12)", "fully connected layers", "VGG overfits badly",
                 "GoogLeNet does not overfit", "GoogLeNet converges slowly", "steadies GoogLeNet",
                 "lowers VGG's validation loss", "more hurt", "tanh instead of sigmoid", "plain ReLU is worse",
                 "clearly better than sigmoid", "more than double", "lr decay does not help", "falls more gently",
                 "falls very nicely", "LRN costs much", "LRN helps little", "3x3) kernels beat", "16 h 21 min"]


def test_every_article_lists_all_its_claims():
    """Each experiment's claims table lists every claim of its article (judged there, elsewhere, or not judged
    with a reason), and the claims that once had no row have one."""
    from paddle_cnn.experiments.catalog import NOTEBOOKS, article_claims
    from paddle_cnn.experiments.definitions import EXPERIMENTS
    from paddle_cnn.sources import SOURCES, article_of
    every = []
    for key in SOURCES:
        rows = article_claims(key)
        assert rows, key
        every += [r["text"] for r in rows]
        assert all(r["where"] in NOTEBOOKS or (r["where"] == "" and r["reason"]) for r in rows), key
    for exp in EXPERIMENTS.values():
        if exp.arithmetic:
            continue
        table = verdicts(exp, {"profile": "quick", "runs": []})
        texts = [r["text"] for r in table]
        assert {r["text"] for r in article_claims(article_of(exp.source))} <= set(texts), exp.name
        assert all(r["verdict"] and (r["reason"] or r["verdict"].startswith("judged in")) for r in table), exp.name
    missing = [p for p in ONCE_UNJUDGED if not any(p in t for t in every)]
    assert missing == []


def test_overridden_settings_are_judged_like_a_profile_not_the_articles():
    """Results of runs whose settings were varied from outside: a value is 'not comparable', a comparison keeps
    its verdict marked with the overrides, under the full profile too; without overrides the same data is judged
    as before."""
    exp = Experiment("e", "title", "source", "data", (Run("a", "a"), Run("b", "b")), {}, {},
                     claims=(value(0.5), g("at least 10")))
    data = runs("a", three(0.9)) + runs("b", three(0.5))
    data[0]["test_acc"], data[1]["test_acc"], data[2]["test_acc"] = 0.49, 0.5, 0.51
    plain = verdicts(exp, {"profile": "full", "runs": data})
    varied = verdicts(exp, {"profile": "full", "runs": data, "overrides": {"lr": 0.01, "augment": ["flip"]}})
    assert plain[0]["verdict"] == "reproduced" and varied[0]["verdict"] == "not comparable at this profile"
    assert "full + lr=0.01, augment=flip profile" in varied[0]["reason"]
    assert plain[1]["verdict"] and varied[1]["verdict"] == plain[1]["verdict"] + " (full + lr=0.01, augment=flip)"
    assert "not the article's settings" in varied[1]["reason"]


def test_a_number_on_our_own_split_is_not_comparable():
    """Caltech without the article's list files: our own split of the data, so the article's 66% is about another
    data set: 'not comparable' under the full profile too; with the list files' split it is judged."""
    exp = Experiment("e", "title", "source", "data", (Run("a", "a"),), {}, {}, claims=(value(0.66, 0.03),))
    data = runs("a", three(0.66))
    assert verdicts(exp, {"profile": "full", "runs": data})[0]["verdict"] == "reproduced"
    for r in data:
        r["own_split"] = False
    row = verdicts(exp, {"profile": "full", "runs": data})[0]
    assert row["verdict"] == "not comparable at this profile" and "our own split" in row["reason"]


def _exp(*claims):
    return Experiment("e", "title", "source", "data", (Run("a", "a"), Run("b", "b")), {}, {}, claims=claims)


def test_detectability_from_the_articles_own_numbers():
    """Article 002 prints 0.9837 vs 0.9810: its claimed difference is +0.0027. At sd 0.005 per arm, 3 vs 3 seeds,
    the half-width is 2.776 x 0.005 x sqrt(2/3) = 0.0113 (hand), and 80% power at 0.0027 needs n per arm with
    (t_.975 + t_.8) x 0.005 x sqrt(2/n) <= 0.0027: about 2 x (1.96 + 0.84)^2 x (0.005 / 0.0027)^2 = 54 (normal
    approximation; the t version needs one or two more)."""
    claims = (value(0.9837), Claim("value", "b", "test_acc", 0.9810, "s", "t"), better("a", "b", "test_acc", "s", "t"))
    row = verdicts(_exp(*claims), {"profile": "full", "runs": runs("a", three(0.96, 0.005))
                                   + runs("b", three(0.96, 0.005))})[2]
    text = row["detectable"]
    assert "±0.0113" in text and "+0.0027" in text, text
    n = int(text.split("would need ")[1].split(" ")[0])
    assert 54 <= n <= 57, text
    assert row["measured"] == "test accuracy"


def test_detectability_of_a_gain_and_of_a_claim_of_no_effect():
    """'~25' -> the middle of 15..35 = +0.25; 'within 1' -> the seeds at which a zero difference's interval fits
    in ±0.01: t(df) x sd x sqrt(2/n) <= 0.01 with sd 0.02 -> n >= 2 x (1.96 x 2)^2 = 31 (normal), a few more with
    t; a 'better' without numbers says the article gives no size."""
    rows = verdicts(_exp(g("~25"), g("within 1"), BETTER),
                    {"profile": "full", "runs": runs("a", three(0.75, 0.02)) + runs("b", three(0.50, 0.02))})
    assert "the article's +0.2500 would need 2 seeds" in rows[0]["detectable"], rows[0]["detectable"]
    n = int(rows[1]["detectable"].split("only from ")[1].split(" ")[0])
    assert 31 <= n <= 35, rows[1]["detectable"]
    assert "gives no size" in rows[2]["detectable"]
    assert "±0.0453" in rows[2]["detectable"]  # 2.776 x 0.02 x sqrt(2/3) (hand)


def test_claims_table_shows_words_measure_and_range_side_by_side():
    from paddle_cnn.experiments.report import claims_table
    rows = verdicts(_exp(g("within 1")), {"profile": "full", "runs": runs("a", three(0.5)) + runs("b", three(0.5))})
    table = claims_table({"claims": rows})
    i, j, k = (table.columns.index(c) for c in ("text", "claimed", "measured"))
    assert (i, j, k) == (0, 1, 2)
    row = table.rows[0]
    assert row["claimed"] == "within 1 -> -1..1 points" and row["measured"] == "test accuracy"


def test_plain_relu_is_compared_with_the_bn_baseline_not_the_net_without_bn():
    """Article 003: 'plain ReLU ... clearly better than Sigmoid' swaps the activation of its BN baseline, so the
    claim's two runs must be the same network but for the activation: equal layers and parameter counts."""
    import paddle.nn as nn

    from paddle_cnn.experiments.definitions import EXPERIMENTS
    from paddle_cnn.models import create_model
    exp = EXPERIMENTS["tricks-caltech16"]
    claim = next(c for c in exp.claims if "plain ReLU" in c.text and "sigmoid" in c.text)
    run = {r.name: r for r in exp.runs}
    acts = (nn.ReLU, nn.Sigmoid, nn.LeakyReLU, nn.Tanh)

    def layers(name):
        m = create_model(run[name].model, num_classes=16, input_size=(32, 32), **run[name].model_kw)
        return [(type(x).__name__, sum(int(p.size) for p in x.parameters(include_sublayers=False)))
                for x in m.sublayers() if not isinstance(x, acts) and not list(x.children())]
    assert claim.kind == "better" and layers(claim.run) == layers(claim.than)
    assert any(n == "BatchNorm2D" for n, _ in layers(claim.than))


def test_the_largest_gain_is_judged_against_the_strongest_rival():
    """'GAP is the largest single gain': a beats b and c clearly but not d (a 0.80 vs d 0.81): the verdict is
    against d, the strongest rival, so not 'reproduced'; with d weak too it is."""
    from paddle_cnn.experiments.definitions import best
    claim = best("a", ("b", "c", "d"), "test_acc", "s", "t")
    exp = Experiment("e", "title", "source", "data", tuple(Run(x, x) for x in "abcd"), {}, {}, claims=(claim,))

    def judged(d):
        data = runs("a", three(0.80)) + runs("b", three(0.50)) + runs("c", three(0.60)) + runs("d", three(d))
        return verdicts(exp, {"profile": "full", "runs": data})[0]
    row = judged(0.81)
    assert row["verdict"] == "inside the noise" and "strongest here: d" in row["claimed"], row
    assert judged(0.90)["verdict"] == "opposite direction"
    row = judged(0.55)
    assert row["verdict"] == "reproduced" and "strongest here: c" in row["claimed"], row
    partial = verdicts(exp, {"profile": "full", "runs": runs("a", three(0.8)) + runs("b", three(0.5))})[0]
    assert partial["reason"] == "not run yet"  # c and d missing: no verdict from the weakest rival


def test_fewer_parameters_or_macs_is_an_exact_count():
    from paddle_cnn.experiments.definitions import fewer
    claim = fewer("a", "b", "macs", "s", "t")
    exp = _exp(claim)

    def judged(ma, mb, profile="full"):
        data = runs("a", [0.5]) + runs("b", [0.5])
        data[0]["macs"], data[1]["macs"] = ma, mb
        return verdicts(exp, {"profile": profile, "runs": data})[0]
    row = judged(46, 100)
    assert row["verdict"] == "reproduced" and row["ours"] == "46 vs 100 (the first 54% fewer)", row
    assert judged(118, 100)["verdict"] == "not reproduced" and "(the first 18% more)" in judged(118, 100)["ours"]
    assert judged(100, 100)["verdict"] == "not reproduced"
    assert judged(46, 100, "quick")["verdict"] == "reproduced (quick)"
    assert judged(46, 100)["measured"] == "multiply-accumulates per image"


def test_overfitting_is_read_off_the_eval_loss_curve_as_article_003_does():
    """'VGG overfits badly' / 'GoogLeNet does not overfit' (观察验证集的loss): runs whose eval loss ends 50% above
    its minimum overfit badly even with no train - eval accuracy gap; runs whose loss keeps falling do not, even
    with a 40-point gap."""
    from paddle_cnn.experiments.definitions import EXPERIMENTS
    exp = EXPERIMENTS["classic-caltech16"]
    claims = [c for c in exp.claims if "overfit" in c.text and c.kind == "range"]
    assert len(claims) == 2

    def history(rising):
        losses = [2.0, 1.0, 1.2, 1.5] if rising else [2.0, 1.5, 1.2, 1.0]
        acc = [0.3, 0.5, 0.5, 0.5]
        return {"eval_loss": losses, "eval_acc": acc, "train_loss": [2.0, 1.0, 0.5, 0.2],
                "train_acc": [0.3, 0.5, 0.5, 0.5] if rising else [0.3, 0.6, 0.8, 0.9]}

    def judged(claim, rising):
        runs_ = [{"run": f"{claim.run}-s{i}", "label": claim.run, "model": claim.run, "seed": i, "params": 1,
                  "num_classes": 16, "test_acc": 0.5, "best_eval_acc": 0.5, "epochs": 4, "train_seconds": 1.0,
                  "history": history(rising)} for i in range(3)]
        runs_[0]["history"]["eval_loss"][-1] += 0.01  # a spread, so that the interval has a width
        one = Experiment("e", "t", "s", "d", (Run(claim.run, claim.run),), {}, {}, claims=(claim,))
        return verdicts(one, {"profile": "full", "runs": runs_})[0]["verdict"]
    badly = next(c for c in claims if "badly" in c.text)
    not_ = next(c for c in claims if "does not" in c.text)
    assert judged(badly, rising=True) == "reproduced" and judged(badly, rising=False) == "below"
    assert judged(not_, rising=False) == "reproduced" and judged(not_, rising=True) == "above"


# --- cost: the ratio of step times timed alternately in one process ---------------------------------------------

def _cost_row(ratios, profile="full", base=0.10, low=1.10, timing=True):
    """A 'cost' claim (run a costs >= `low` x b per step) on rounds whose step-time ratios a / b are `ratios`."""
    from paddle_cnn.experiments.definitions import costlier
    claim = costlier("a", "b", low, "s", "t", words="costs much")
    exp = Experiment("e", "title", "source", "data", (Run("a", "a"), Run("b", "b")), {}, {}, claims=(claim,))
    data = {"profile": profile, "runs": runs("a", [0.5]) + runs("b", [0.5])}
    if timing:
        data["step_timing"] = [{"run": "a", "seconds": [base * r for r in ratios]},
                               {"run": "b", "seconds": [base] * len(ratios)}]
    return verdicts(exp, data)[0]


def _log_interval(ratios):
    """numpy and scipy, not our statistics module: the 95% t-interval of the mean log ratio, exponentiated."""
    from scipy import stats as st
    x = np.log(np.asarray(ratios))
    h = st.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return math.exp(x.mean()), math.exp(x.mean() - h), math.exp(x.mean() + h)


@pytest.mark.parametrize("ratios, verdict", [
    ([1.30, 1.35, 1.32, 1.28, 1.33], "reproduced"),                  # clearly >= 10% more per step
    ([1.02, 1.04, 1.03, 1.05, 1.01], "smaller than claimed"),        # costlier, but under 10%: not 'much'
    ([0.80, 0.82, 0.79, 0.81, 0.83], "opposite direction"),          # cheaper with it
    ([1.00, 1.40, 0.95, 1.50, 1.20], "inside the noise"),            # an interval across 1.10
    ([0.98, 1.02, 0.99, 1.01, 1.00], "smaller than claimed"),        # no cost at all: below the claimed range
])
def test_a_cost_claim_reads_the_interval_of_the_step_time_ratio(ratios, verdict):
    row = _cost_row(ratios)
    assert row["verdict"] == verdict, row
    m, lo, hi = _log_interval(ratios)
    assert row["ours"] == f"x{m:.3f}" and row["interval"] == f"[x{lo:.3f}, x{hi:.3f}]", row
    assert row["n"] == f"{len(ratios)} rounds" and row["measured"].startswith("seconds per training step")
    assert row["claimed"] == "costs much -> a / b >= 1.1"


def test_a_cost_claim_is_marked_under_quick_shown_under_smoke_and_waits_for_its_timing():
    quick = _cost_row([1.30, 1.35, 1.32, 1.28, 1.33], "quick")
    assert quick["verdict"] == "reproduced (quick)" and "input size" in quick["reason"]
    smoke = _cost_row([1.30, 1.35, 1.32], "smoke")
    assert smoke["verdict"] == "not comparable at this profile" and smoke["ours"] == "x1.323", smoke  # (1.30 x 1.35 x 1.32) ** (1/3)
    assert "not run yet" in _cost_row([1.3] * 5, timing=False)["reason"]
    assert _cost_row([1.3, 1.4], "full")["verdict"] == "needs >= 3 rounds"
    # the ratio is run / than: the same seconds the other way round are 'opposite direction'
    assert _cost_row([1 / 1.3, 1 / 1.35, 1 / 1.32, 1 / 1.28, 1 / 1.33])["verdict"] == "opposite direction"
