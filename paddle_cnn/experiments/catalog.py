"""Every claim of every article, and where it is judged: by an experiment's runs, by the layer arithmetic, or not
at all (with the reason). Each experiment's claims table lists all the claims of its article, so a reader of one
notebook sees what the article says and which of it this suite checks."""
from __future__ import annotations

from functools import lru_cache

from paddle_cnn.experiments.definitions import EXPERIMENTS
from paddle_cnn.sources import article_of, cite

NOTEBOOKS = {"layer-arithmetic": "00_layer_arithmetic", "bn-ablation": "01_bn_ablation_cifar10",
             "lenet-mnist": "02_lenet_alexnet_mnist", "alexnet-mnist": "02_lenet_alexnet_mnist",
             "pool-vs-stride": "03_pool_vs_stride2_mnist", "classic-caltech16": "04_classic_models_caltech16",
             "tricks-caltech16": "05_cnn_tricks_caltech16", "vgg16-cifar10": "06_vgg16_cifar10"}

_BN_PAPER = "a property of BN quoted from its paper: the article runs no experiment on it (it would need a sweep " \
            "of learning rates or initialisations, which the article does not define)"
# (source, claim, why no run here judges it)
NOT_JUDGED = (
    (cite("a000", "答2"), "BN allows a larger learning rate", _BN_PAPER),
    (cite("a000", "答2"), "BN makes training depend less on the initialisation", _BN_PAPER),
    (cite("a000", "答2"), "BN suppresses vanishing gradients", _BN_PAPER),
    (cite("a001", "AlexNet mnist"), "with 5 epochs instead of the first try's, the accuracy is lower still",
     "the article prints neither the first try's settings nor the 5-epoch figure, so no run can repeat it"),
    (cite("a001", "AlexNet mnist"), "too small a batch trains slowly; too large a batch may lower the accuracy",
     "general advice: the article reports no run of it"),
    (cite("a003", "二.3, 二.5"), "VGG needs a careful initialisation and layer-wise training at 16 and 19 layers",
     "advice from the VGG paper: the article trains only VGG13, from scratch"),
    (cite("a003", "二.5"), "GoogLeNet needs its auxiliary classifiers",
     "the article's GoogLeNet (and ours) has none; it reports no run with them"),
    (cite("a003", "四"), "on the 8-class cosmetics data set the CNN reaches over 80%",
     "that data set is not published with the article"),
    (cite("a004", "训练结果"), "TensorFlow's VGG16 reaches 89.18% in 18 h 12 min",
     "the article's TensorFlow code only times forward and backward passes, it never trains: there is no run to "
     "repeat (and TensorFlow is outside this suite)"),
    (cite("a004", "训练结果"), "VGG16 is more accurate than LeNet and AlexNet at the same passes and device",
     "the article's LeNet and AlexNet runs on CIFAR-10 are in earlier posts, not printed: no recipe to repeat"),
    (cite("a003", "四、总结"), "a deeper version of the CNN (more convs, BN or concat blocks) was worse",
     "the article names none of the deeper configurations it tried"),
    (cite("a002", "7、验证模型, 10、模型验证"), "eval losses 1.4789e-05 (LeNet) and 1.7807e-06 (LeNet_nopool)",
     "paddle.Model.evaluate prints the last batch's loss, not the test set's: no quantity a run can compare"),
    (cite("a002", "引言"), "pooling is a fixed (prior) down-sampling that brings invariance; a stride-2 conv learns its "
     "sampling rule", "a view of the two layers, with no run behind it"),
    (cite("a000", "答2"), "without BN each layer's input distribution shifts (ICS), more so the deeper the network",
     _BN_PAPER),
    (cite("a004", "总结"), "deeper networks are better, if ReLU and BN keep the gradients from vanishing",
     "the article runs no depth comparison"),
    (cite("a004", "Vgg网络结构"), "VGG-16 and VGG-19 (D, E) are the best networks of the VGG paper",
     "an ImageNet result of the VGG paper, quoted"),
    (cite("a004", "速度"), "VGG16 forward and forward-backward seconds per batch (batch 128, 224x224)",
     "hardware-bound: vgg16-cifar10 measures the same benchmark on the device at hand (its speed table)"),
)


@lru_cache(maxsize=1)
def _arithmetic() -> tuple:
    from paddle_cnn.arithmetic.claims import all_checks
    return tuple((c.source, c.claim) for c in all_checks())


def article_claims(key: str) -> list[dict]:
    """Every claim of article `key`: {source, text, where} with where an experiment name, or '' (not judged) and
    the reason."""
    rows = [{"source": c.source, "text": c.text, "where": e.name, "reason": ""}
            for e in EXPERIMENTS.values() for c in e.claims if article_of(c.source) == key]
    rows += [{"source": s, "text": t, "where": "layer-arithmetic", "reason": ""}
             for s, t in _arithmetic() if article_of(s) == key]
    rows += [{"source": s, "text": t, "where": "", "reason": why} for s, t, why in NOT_JUDGED if article_of(s) == key]
    return rows


def other_claims(exp) -> list[dict]:
    """The claims of `exp`'s article that `exp` does not judge itself, as claim rows saying where they are judged
    (or why not). The arithmetic experiment spans all articles and lists only its own checks."""
    if exp.arithmetic or not article_of(exp.source):
        return []
    own = {c.text for c in exp.claims}
    rows = []
    for c in article_claims(article_of(exp.source)):
        if c["where"] == exp.name and c["text"] in own:
            continue
        verdict = f"judged in {c['where']} (notebook {NOTEBOOKS[c['where']][:2]})" if c["where"] else \
            "not judged here"
        reason = c["reason"] or f"its verdict and figures are in {c['where']}'s results"
        rows.append({"model": "", "metric": "", "value": None, "source": c["source"], "text": c["text"],
                     "claimed": "", "ours": None, "n": "", "interval": "", "verdict": verdict, "rule": "",
                     "reason": reason,
                     "judged_in": c["where"]})  # the experiment that judges it, '' for none: marks a row as other
    return rows
