"""The articles' experiments and the profiles as data: a small table of runs per experiment, the articles'
settings and claims, and what each profile changes. Nothing else in the package names a profile.

A run is (label, model, model kwargs, training overrides); an experiment's `train` holds the article's settings
(TrainConfig fields) and `profiles` what each profile overrides (TrainConfig fields, plus the data keys `dataset`,
`train_subset`, `test_subset`). Claims carry their source (title/author/URL as printed in the article).
paddle_cnn.experiments.plans turns (experiment, profile, seeds) into explicit run plans.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from paddle_cnn.sources import cite
from paddle_cnn.text import did_you_mean


@dataclass(frozen=True)
class Profile:
    name: str
    what: str
    comparable: bool  # its accuracies may be compared with the article's numbers
    judges_runs: bool  # its runs are long enough to judge comparisons between them (else: exact counts only)
    generated_data_ok: bool  # a data set missing locally is replaced by generated files in the real format


PROFILES = {p.name: p for p in (
    Profile("full", "the article's settings (meant for a GPU; the default when one is present)", True, True, False),
    Profile("quick", "minutes on a 2-core CPU: fewer epochs, subsets, smaller inputs (each experiment says which)",
            False, True, False),
    Profile("smoke", "seconds, for CI and nbmake: 2 epochs of 4 batches on a tiny subset, small inputs, generated "
            "data where the real set is not present locally", False, False, True),
)}
GPU_DEFAULT, CPU_DEFAULT, FASTEST = "full", "quick", "smoke"


@dataclass(frozen=True)
class Run:
    name: str  # run label in logs and tables
    model: str  # registered model name
    model_kw: dict = field(default_factory=dict)
    train_kw: dict = field(default_factory=dict)  # overrides of the experiment's training settings


@dataclass(frozen=True)
class Claim:
    """One claim of an article, judged by paddle_cnn.experiments.verdicts (its docstring has the rules).

    kind: 'params' (exact count), 'value' (the article's number vs our interval, ± tolerance), 'gain' (run - factor
    x than, in the range the article's words give), 'better' (run beats `than` on metric: a Welch t-test; the
    metric says whether lower is better; with `rivals`, `than` is the strongest of them in our runs), 'fewer' (a
    count of the model, 'params' or 'macs', smaller for run than for `than`: exact, every profile), 'range' (a
    per-run measure inside `range`), 'shown' (ours beside the article's figure, not judged: `why_not`). metric: a
    key of verdicts.MEASURES (or 'params' / 'weights' / 'macs')."""
    kind: str
    run: str
    metric: str
    value: object
    source: str
    text: str
    than: str = ""
    tolerance: float = 0.01
    words: str = ""  # the article's words for a gain or a range ("~25 points", "does not converge")
    range: tuple = ()  # (low, high) the words stand for; None: unbounded
    factor: float = 1.0  # gain of run over factor x than ("more than doubles": 2)
    show: object = None  # 'shown' claims: runs -> our figure as text
    why_not: str = ""  # 'shown' claims: why there is no verdict
    rivals: tuple = ()  # 'better' claims of a best ("the largest gain"): run against the strongest of these runs


CONVERGED_DROP = 0.10  # 'converges': the training loss ends >= 10% below that of a uniform guess, ln(classes)


def gain_range(words: str) -> tuple:
    """The article's words for a gain as an explicit range of accuracy points: '~X' -> 0.6X..1.4X (~25 ->
    15..35), 'ten-odd' -> 10..19, 'at least X' -> >= X, 'at most X' -> <= X (no gain beyond X; any loss
    passes), 'within X' -> -X..X (a small effect either way: 'helps little'), 'more than' -> > 0."""
    import re
    w = words.strip()
    if w == "ten-odd":
        return 0.10, 0.19
    m = re.fullmatch(r"(~|at least |at most |within )(\d+(?:\.\d+)?)", w)
    if not m:
        raise ValueError(f"no range for the gain words {words!r}: use '~X', 'ten-odd', 'at least X', 'at most X' or "
                         "'within X'")
    x = float(m.group(2)) / 100
    return {"~": (round(0.6 * x, 4), round(1.4 * x, 4)), "at least ": (x, None), "at most ": (None, x),
            "within ": (-x, x)}[m.group(1)]


def gain(run, than, words, source, text, metric="best_eval_acc", factor=1.0) -> Claim:
    return Claim("gain", run, metric, None, source, text, than=than, words=words,
                 range=(0.0, None) if factor != 1 else gain_range(words), factor=factor)


def better(run, than, metric, source, text) -> Claim:
    return Claim("better", run, metric, None, source, text, than=than)


def fewer(run, than, metric, source, text) -> Claim:
    """run's model has fewer parameters / MACs than than's: a count, judged exactly under every profile."""
    return Claim("fewer", run, metric, None, source, text, than=than)


def best(run, rivals, metric, source, text) -> Claim:
    """run beats every one of `rivals` on metric: judged as 'better' against the strongest rival in our runs."""
    return Claim("better", run, metric, None, source, text, than=rivals[0], rivals=tuple(rivals))


def costlier(run, than, low, source, text, words="") -> Claim:
    """run's training step costs at least `low` times than's: the ratio of their step times, timed alternately in
    one process (the experiment's step_timing), so that the machine's load does not decide it."""
    return Claim("cost", run, "step_seconds", None, source, text, than=than, words=words, range=(low, None))


def converges(run, source, text, does=True) -> Claim:
    """'converges' / 'does not converge', on the training loss: its drop below ln(classes) at the last epoch."""
    return Claim("range", run, "train_loss_drop", None, source, text,
                 words="converges" if does else "does not converge",
                 range=(CONVERGED_DROP, None) if does else (None, CONVERGED_DROP))


def gap(run, source, text, low=None, high=None, words="") -> Claim:
    """Overfitting as the train - eval accuracy gap at the last epoch, in a range."""
    return Claim("range", run, "train_eval_gap", None, source, text, words=words, range=(low, high))


def loss_rise(run, source, text, low=None, high=None, words="") -> Claim:
    """Overfitting read off the validation-loss curve, as article 003 does: the eval loss's rise after its
    minimum (last / lowest - 1), in a range."""
    return Claim("range", run, "eval_loss_rise", None, source, text, words=words, range=(low, high))


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    source: str
    dataset: str
    runs: tuple
    train: dict  # training settings of the article (the full profile)
    profiles: dict  # profile -> overrides: epochs, train_subset, test_subset, input_size, max_batches, ...
    claims: tuple = ()
    notes: str = ""
    timing: dict = field(default_factory=dict)  # profile -> (model, CxHxW, batch, steps): article 004's benchmark
    step_timing: tuple = ()  # runs whose training steps are timed alternately in one process (cost claims)
    arithmetic: bool = False  # also check the articles' layer arithmetic (shapes, counts, MACs of every model)
    assumed: tuple = ()  # settings the runs assume because the article does not print them


A000, A001, A002 = cite("a000", "问题2"), cite("a001", "4-5, AlexNet mnist"), cite("a002", "6-11")
A003, A004 = cite("a003", "二.5, 三"), cite("a004", "训练结果")
A003_CLASSIC, A003_TRICKS = cite("a003", "二.5 对比分析"), cite("a003", "三 手撕CNN")
A004_SUMMARY = cite("a004", "总结")
# profile -> (rounds, steps per model per round) of an experiment's step timing (runner: timing.alternating_train_steps)
STEP_TIMING = {"full": (20, 5), "quick": (10, 2), "smoke": (3, 1)}
SMOKE = dict(epochs=2, train_subset=200, test_subset=100, max_batches=4)
SMOKE_CALTECH = dict(epochs=2, train_subset=160, test_subset=32, max_batches=2, batch_size=8)

EXPERIMENTS: dict[str, Experiment] = {}


def _add(e: Experiment) -> None:
    EXPERIMENTS[e.name] = e


_add(Experiment(
    "pool-vs-stride", "Max-pooling vs stride-2 convolution in LeNet on MNIST (article 002)", A002, "mnist",
    runs=(Run("lenet", "lenet"), Run("lenet_nopool", "lenet_nopool")),
    train=dict(epochs=10, batch_size=64, optimizer="adam", lr=1e-3),
    profiles={"full": {}, "quick": dict(dataset="mnist-5k", epochs=15),
              "smoke": dict(dataset="mnist-5k", **SMOKE)},
    claims=(
        Claim("params", "lenet", "params", 61_706, A002, "LeNet has 61,706 parameters"),
        Claim("params", "lenet_nopool", "params", 66_346, A002, "LeNet_nopool has 66,346 parameters"),
        Claim("value", "lenet", "test_acc", 0.9810, A002, "LeNet acc_top1 0.9810 on the MNIST test set"),
        Claim("value", "lenet", "test_top2", 0.9932, A002, "LeNet acc_top2 0.9932"),
        Claim("value", "lenet_nopool", "test_acc", 0.9837, A002, "LeNet_nopool acc_top1 0.9837"),
        Claim("value", "lenet_nopool", "test_top2", 0.9964, A002, "LeNet_nopool acc_top2 0.9964"),
        better("lenet_nopool", "lenet", "test_acc", A002,
               "stride-2 convolutions instead of max-pooling give a (slightly) better LeNet"),
        fewer("lenet", "lenet_nopool", "params", cite("a002", "实验结果分析"),
              "but the improved LeNet has more parameters than the original (参数量上是高于原始的)"),
    ),
    notes="quick: the 4,000 / 1,000 embedded MNIST digits instead of 60,000 / 10,000, same recipe, 15 epochs "
          "instead of 10 (60,000 images seen instead of 600,000)."))

_add(Experiment(
    "lenet-mnist", "LeNet on MNIST with SGD (article 001)", A001, "mnist",
    runs=(Run("lenet", "lenet"),),
    train=dict(epochs=8, batch_size=64, optimizer="momentum", lr=1e-3, momentum=0.9),
    profiles={"full": {}, "quick": dict(dataset="mnist-5k"), "smoke": dict(dataset="mnist-5k", **SMOKE)},
    claims=(Claim("params", "lenet", "params", 61_706, cite("a002", "11、参数量对比"),
                  "LeNet for 28x28 MNIST (conv 6@5x5 pad 2, conv 16@5x5, fc 120-84-10) has 61,706 parameters "
                  "(printed in article 002; article 001 prints no count for this network)"),),
    assumed=("article 001 prints no recipe for LeNet on MNIST beyond 'SGD' and the checkpoint net_008.pth: "
             "8 epochs, batch 64, lr 0.001 and momentum 0.9 are ours (the article's AlexNet settings)",
             "article 001 prints no code for this network: ours is article 002's LeNet, which as printed has no ReLU "
             "after conv2 (conv1, ReLU, pool, ReLU, conv2, pool)"),
    notes="article 001 saves a checkpoint per epoch (net_008.pth after 8 epochs); ours does too. It prints no "
          "accuracy for LeNet, so this run has no number to reproduce: it shows what the recipe gives."))

_add(Experiment(
    "alexnet-mnist", "AlexNet on MNIST: 71% first, 97% with momentum and augmentation (article 001); LRN's cost "
    "(article 004)", A001, "mnist",
    runs=(Run("alexnet_first_try", "alexnet", train_kw=dict(lr=0.01, momentum=0.0, optimizer="sgd", augment=())),
          Run("alexnet", "alexnet"), Run("alexnet_lrn", "alexnet", dict(lrn=True, lrn_alpha=1e-4))),
    train=dict(epochs=20, batch_size=64, optimizer="momentum", lr=1e-3, momentum=0.9, augment=("flip", "grayscale"),
               input_size=224, in_channels=3),
    profiles={"full": {}, "quick": dict(dataset="mnist-5k", epochs=4, input_size=64, train_subset=2000),
              "smoke": dict(dataset="mnist-5k", input_size=64, **{**SMOKE, "max_batches": 13, "batch_size": 16})},
    step_timing=("alexnet", "alexnet_lrn"),
    claims=(Claim("value", "alexnet_first_try", "test_acc", 0.71, A001, "the first try reaches only ~71%",
                  tolerance=0.02),
            Claim("value", "alexnet", "test_acc", 0.97, A001,
                  "AlexNet with lr 0.001, momentum 0.9, flip + grayscale augmentation, 20 epochs: 97%",
                  tolerance=0.01),
            better("alexnet", "alexnet_first_try", "test_acc", A001, "the tuned AlexNet beats the first try"),
            costlier("alexnet_lrn", "alexnet", 1.10, A004_SUMMARY,
                     "LRN costs much computation (太耗费计算资源: a training step takes longer with it)",
                     words="costs much: a training step >= 10% longer"),
            better("alexnet_lrn", "alexnet", "test_acc", cite("a001", "AlexNet 网络结构"),
                   "LRN strengthens the model's generalisation (增强了模型的泛化能力: a higher test accuracy with it)"),
            gain("alexnet_lrn", "alexnet", "within 1", A004_SUMMARY,
                 "LRN helps little (作用不大: a small effect, within 1 point either way)", metric="test_acc")),
    assumed=("the first try's settings are not printed: ours is plain SGD, lr 0.01, no momentum, no augmentation",
             "LRN (article 004's claim, tested here on article 001's AlexNet): size 5, alpha 1e-4, beta 0.75, k 2 "
             "after conv1 and conv2, as in the AlexNet paper (alpha on the sum of squares: paddle's "
             "LocalResponseNorm averages them, so it is given 5e-4)",
             "the input (MNIST digits resized to 224x224 and repeated to 3 channels) and batch 64: the article trains "
             "torchvision's AlexNet on MNIST but prints neither"),
    notes="MNIST digits are resized to the AlexNet input and repeated to 3 channels on the device. quick: 64x64 "
          "inputs, 2,000 training images, 4 epochs."))

_add(Experiment(
    "bn-ablation", "BatchNorm ablation on the CIFAR-10 conv-pool net (article 000)", A000, "cifar10",
    runs=(Run("convpool3", "convpool3"), Run("convpool3_bn", "convpool3_bn")),
    train=dict(epochs=20, batch_size=128, optimizer="adam", lr=1e-3),
    profiles={"full": {}, "quick": dict(epochs=5, train_subset=10_000, test_subset=2_000),
              "smoke": dict(SMOKE)},
    claims=(Claim("params", "convpool3", "weights", 89_500, cite("a000", "问题1"),
                  "89,500 weights without bias"),
            better("convpool3_bn", "convpool3", "test_acc", A000, "with BN the accuracy is higher"),
            better("convpool3_bn", "convpool3", "eval_loss_roughness", A000,
                   "with BN the loss and accuracy curves fluctuate less (the loss curve)"),
            better("convpool3_bn", "convpool3", "eval_acc_roughness", A000,
                   "with BN the loss and accuracy curves fluctuate less (the accuracy curve)"),
            better("convpool3_bn", "convpool3", "epochs_to_90", A000, "BN speeds up convergence"),
            better("convpool3_bn", "convpool3", "train_eval_gap", A000, "BN acts as a regulariser")),
    assumed=("the article prints no optimizer, lr or epochs: Adam, lr 0.001, 20 epochs at its batch size 128",),
    notes="'Smoother' is the standard deviation of the epoch-to-epoch changes of the eval loss (lower is "
          "smoother); 'converges faster' is fewer epochs to 90% of the run's best eval accuracy; 'regulariser' "
          "a smaller train - eval accuracy gap at the last epoch."))

_CALTECH = dict(epochs=60, batch_size=32, optimizer="momentum", lr=1e-3, momentum=0.9, input_size=224)
_CALTECH_QUICK = dict(epochs=3, input_size=64, train_subset=800, test_subset=240)
_CALTECH_ASSUMED = ("momentum 0.9: the article names the Momentum optimizer but prints no value",
                    "the 16 classes and the train / eval split: the article's AI Studio list files are not "
                    "printed; ours are the classes and split of paddle_cnn.data.caltech (shown above)")
_add(Experiment(
    "classic-caltech16", "LeNet, AlexNet, VGG13 and GoogLeNet on 16 Caltech-101 classes, with and without BN "
    "(article 003)", A003, "caltech16",
    runs=(Run("lenet_sigmoid", "lenet_sigmoid"), Run("alexnet", "alexnet", dict(relu_logits=True)),
          Run("vgg13", "vgg13"), Run("googlenet", "googlenet"),
          Run("vgg13_bn", "vgg13_bn", dict(bn="article003")), Run("googlenet_bn", "googlenet_bn"),
          Run("vgg13_allbn", "vgg13_bn", dict(bn="article003_all")),
          Run("googlenet_allbn", "googlenet", dict(batch_norm="all"))),
    train=_CALTECH, profiles={"full": {}, "quick": _CALTECH_QUICK, "smoke": dict(input_size=64, **SMOKE_CALTECH)},
    claims=(converges("lenet_sigmoid", A003_CLASSIC, "LeNet (sigmoid) does not converge at 224x224", does=False),
            better("alexnet", "vgg13", "best_eval_acc", A003_CLASSIC, "AlexNet is the most accurate: beats VGG"),
            better("alexnet", "googlenet", "best_eval_acc", A003_CLASSIC, "AlexNet beats GoogLeNet"),
            better("alexnet", "lenet_sigmoid", "best_eval_acc", A003_CLASSIC, "AlexNet beats LeNet"),
            loss_rise("vgg13", A003_CLASSIC, "VGG overfits badly (观察验证集的loss: read off the eval loss)",
                      low=0.20, words="overfits badly: the eval loss ends >= 20% above its minimum"),
            loss_rise("googlenet", A003_CLASSIC, "GoogLeNet does not overfit (on the same eval loss curve)",
                      high=0.05, words="does not overfit: the eval loss ends within 5% of its minimum"),
            better("alexnet", "googlenet", "epochs_to_90", A003_CLASSIC, "GoogLeNet converges slowly (slower than "
                   "AlexNet)"),
            gain("googlenet_bn", "googlenet", "~8", A003_CLASSIC, "BN adds about 8 points to GoogLeNet"),
            better("googlenet_bn", "googlenet", "epochs_to_90", A003_CLASSIC, "BN speeds up GoogLeNet's convergence"),
            better("googlenet_bn", "googlenet", "eval_loss_roughness", A003_CLASSIC,
                   "BN steadies GoogLeNet's validation loss"),
            better("vgg13_bn", "vgg13", "final_eval_loss", A003_CLASSIC,
                   "BN greatly lowers VGG's validation loss (大大降低了验证集的loss: its level at the end)"),
            better("vgg13_bn", "vgg13", "eval_loss_rise", A003_CLASSIC,
                   "BN curbs VGG's overfitting (the eval loss rises less after its minimum)"),
            gain("vgg13_bn", "vgg13", "at least 1", A003_CLASSIC, "BN adds at least 1 point to VGG"),
            better("vgg13_bn", "vgg13_allbn", "best_eval_acc", cite("a003", "三.6"),
                   "two or three BN layers help VGG, more hurt (BN after every conv is worse)"),
            better("googlenet_bn", "googlenet_allbn", "best_eval_acc", cite("a003", "三.6"),
                   "two or three BN layers help GoogLeNet, more hurt (all five BN lines of its code are worse)")),
    assumed=_CALTECH_ASSUMED + (
        "AlexNet as article 003 writes it: conv1 padding 2 at 224x224 and a ReLU on the logits (act='relu' on its "
        "last fc)", "VGG13 with BN at the article's two places (the other BN lines of its code are commented "
        "out); vgg13_allbn uncomments them all (conv-ReLU-BN after every conv, as the article's act-then-BN "
        "lines), for the 'more BN hurts' claim; googlenet_allbn likewise uncomments GoogLeNet_BN's two other BN lines "
        "(after pool2 and pool4: five BN layers)"),
    notes="No augmentation, as the article says for its comparisons. quick: 64x64 inputs, 800 training images, 3 "
          "epochs: far from the article's 60 epochs at 224x224."))

_TRICK_BASE = "cnn_bn"
_DECAY = dict(lr_schedule="piecewise", milestones=(20, 40))
_add(Experiment(
    "tricks-caltech16", "A CNN improved trick by trick on 16 Caltech-101 classes (article 003)", A003, "caltech16",
    runs=tuple(Run(n, n) for n in ("cnn_sigmoid", "cnn_bn", "cnn_leakyrelu", "cnn_gap", "cnn_dropout", "cnn_3x3",
                                   "cnn_concat", "cnn_alltricks"))
    + (Run("cnn_alltricks_lrdecay", "cnn_alltricks", train_kw=_DECAY),
       Run("cnn_tanh", "cnn_sigmoid", dict(act="tanh")), Run("cnn_relu", "cnn_leakyrelu", dict(act="relu")),
       Run("cnn_bn_lrdecay", "cnn_bn", train_kw=_DECAY), Run("cnn_gap_lrdecay", "cnn_gap", train_kw=_DECAY)),
    train=_CALTECH, profiles={"full": {}, "quick": _CALTECH_QUICK, "smoke": dict(input_size=32, **SMOKE_CALTECH)},
    claims=(converges("cnn_sigmoid", A003_TRICKS, "the sigmoid CNN does not converge", does=False),
            converges("cnn_bn", A003_TRICKS, "with BN after every conv it converges (the baseline)"),
            converges("cnn_tanh", A003_TRICKS, "tanh instead of sigmoid (no BN) also converges"),
            gain("cnn_leakyrelu", _TRICK_BASE, "ten-odd", A003_TRICKS, "LeakyReLU: + ten-odd points"),
            better("cnn_leakyrelu", _TRICK_BASE, "epochs_to_90", A003_TRICKS, "LeakyReLU also speeds up training"),
            better("cnn_leakyrelu", "cnn_relu", "best_eval_acc", A003_TRICKS, "plain ReLU is worse than LeakyReLU"),
            better("cnn_relu", _TRICK_BASE, "best_eval_acc", A003_TRICKS,
                   "but plain ReLU is clearly better than sigmoid (明显好于Sigmiod: the baseline's, with BN)"),
            gain("cnn_gap", _TRICK_BASE, "~25", A003_TRICKS, "global average pooling: + ~25 points"),
            gain("cnn_dropout", _TRICK_BASE, "~20", A003_TRICKS, "dropout 0.5: + ~20 points"),
            better("cnn_dropout", _TRICK_BASE, "eval_loss_roughness", A003_TRICKS,
                   "with dropout the validation loss falls more gently"),
            gain("cnn_3x3", _TRICK_BASE, "~20", A003_TRICKS, "two 3x3 convs per 5x5: + ~20 points"),
            better("cnn_3x3", _TRICK_BASE, "best_eval_acc", A004_SUMMARY,
                   "stacked small (3x3) kernels beat one large kernel"),
            gain("cnn_concat", _TRICK_BASE, "~25", A003_TRICKS, "multi-scale concat block: + ~25 points"),
            better("cnn_concat", "cnn_dropout", "best_eval_acc", A003_TRICKS,
                   "the concat block itself helps: its code also has dropout 0.5, so it is set against cnn_dropout"),
            better("cnn_concat", _TRICK_BASE, "min_eval_loss", A003_TRICKS,
                   "with the concat block the validation loss falls very nicely (lower)"),
            Claim("value", "cnn_alltricks_lrdecay", "best_eval_acc", 0.66, A003_TRICKS,
                  "all tricks with piecewise lr decay: 66% val accuracy", tolerance=0.03),
            Claim("value", "cnn_alltricks", "best_eval_acc", 0.60, A003_TRICKS, "all tricks without decay: ~60%",
                  tolerance=0.03),
            gain("cnn_alltricks_lrdecay", _TRICK_BASE, "more than double", A003_TRICKS,
                 "all tricks together more than double the baseline's accuracy", factor=2.0),
            gain("cnn_alltricks_lrdecay", "cnn_alltricks", "~6", A003_TRICKS,
                 "piecewise lr decay lifts all tricks from ~60% to 66% (+~6 points)"),
            better(_TRICK_BASE, "cnn_tanh", "epochs_to_90", A003_TRICKS,
                   "BN, unlike tanh, also speeds up training (但加入BN还能使模型训练加速)"),
            fewer("cnn_gap", _TRICK_BASE, "params", A003_TRICKS,
                  "global average pooling greatly cuts the parameters (大大降低参数数量)"),
            best("cnn_gap", ("cnn_leakyrelu", "cnn_dropout", "cnn_3x3", "cnn_concat"), "best_eval_acc", A003_TRICKS,
                 "global average pooling is the largest single gain of the project (提升最大的处理)"),
            better("cnn_dropout", _TRICK_BASE, "train_eval_gap", A003_TRICKS,
                   "dropout curbs overfitting (降低过拟合: a smaller train - eval gap)"),
            better(_TRICK_BASE, "cnn_dropout", "epochs_to_90", A003_TRICKS,
                   "dropout also slows training (也会降低训练速度: more epochs to 90% of its best)"),
            fewer("cnn_3x3", _TRICK_BASE, "params", A004_SUMMARY,
                  "small kernels need fewer parameters than large ones (小卷积核 ... 所需参数空间更小)"),
            fewer("cnn_3x3", _TRICK_BASE, "macs", cite("a004", "Vgg网络结构"),
                  "small kernels save computation (larger kernels: 运算时间也会成倍的提升)"),
            fewer(_TRICK_BASE, "cnn_3x3", "macs", A004_SUMMARY,
                  "small kernels with more depth may take longer to train (训练时间可能更长: more computation)"),
            better("cnn_3x3", _TRICK_BASE, "epochs_to_90", A004_SUMMARY,
                   "but may converge faster (可能比后者收敛速度更快: fewer epochs to 90% of its best)"),
            gain("cnn_bn_lrdecay", _TRICK_BASE, "at most 2", A003_TRICKS,
                 "lr decay does not help the other variants (baseline)"),
            gain("cnn_gap_lrdecay", "cnn_gap", "at most 2", A003_TRICKS,
                 "lr decay does not help the other variants (global average pooling)")),
    assumed=_CALTECH_ASSUMED + (
        "the decay points are not printed: ours divide the lr by 10 at epochs 20 and 40 (scaled with the profile's "
        "epochs)", "tanh and plain ReLU: the article reports trying them without code; ours swap the activation "
        "of cnn_sigmoid (no BN) and of cnn_leakyrelu (with BN)",
        "'does not help' (lr decay) read as a gain of at most 2 points; the article tried decay on all seven "
        "variants, we on two"),
    notes="No augmentation, as the article says for its comparisons. quick: 64x64 inputs, 800 training images, 3 "
          "epochs: far from the article's 60 epochs at 224x224."))


def _hours(runs) -> str:
    from paddle_cnn.experiments.statistics import stats
    m, _, n = stats([r.get("train_seconds") for r in runs])
    return f"{m / 3600:.2f} h for {runs[0]['epochs']} passes ({n} seed(s), device of the run)"


_add(Experiment(
    "vgg16-cifar10", "VGG16 with BN and dropout on CIFAR-10 (article 004)", A004, "cifar10",
    runs=(Run("vgg16_cifar", "vgg16_cifar"),),
    train=dict(epochs=200, batch_size=128, optimizer="momentum", lr=0.1, momentum=0.9, weight_decay=2e-4,
               lr_schedule="exponential", gamma=0.1, decay_epochs=100),
    profiles={"full": {}, "quick": dict(epochs=2, train_subset=5_000, test_subset=1_000),
              "smoke": dict(SMOKE)},
    claims=(Claim("value", "vgg16_cifar", "test_acc", 0.8911, A004, "89.11% test accuracy after 200 passes",
                  tolerance=0.01),
            Claim("shown", "vgg16_cifar", "train_seconds", None, A004, "200 passes took 16 h 21 min on 8 Tesla K80",
                  words="16 h 21 min (8 K80, 7 threads)", show=_hours,
                  why_not="different hardware and framework (paddle.v2 on 8 K80): times are shown, not judged")),
    timing={"full": ("vgg16", (3, 224, 224), 128, 100), "quick": ("vgg16", (3, 224, 224), 8, 5),
            "smoke": ("vgg16", (3, 64, 64), 2, 2)},
    assumed=("paddle.v2 scaled the learning rate (0.1/128) and L2 rate (0.0002*128) by the batch size 128; in "
             "paddle 2.x terms that is lr 0.1 and weight decay 2e-4 on the batch-mean loss",
             "'discexp' decay x0.1 every 100 epochs (50,000*100 samples), scaled with the profile's epochs"),
    notes="No augmentation: the article's reader shuffles cifar.train10() and feeds the images as they are. The "
          "article's speed benchmark (forward and forward-backward seconds per batch of VGG16 at 224x224, batch "
          "128) is measured beside it; quick uses batch 8, smoke 2 images at 64x64."))

_add(Experiment(
    "layer-arithmetic", "Shapes, parameters and MACs of every model, and the articles' arithmetic (no training)",
    cite("a000", "问题1") + "; " + cite("a001", "2"), "", runs=(), train={},
    profiles={"full": {}, "quick": {}, "smoke": {}}, arithmetic=True))


class UnknownExperimentError(ValueError):
    pass


def get_experiment(name: str) -> Experiment:
    """An experiment by its name, or by the number of the notebook that runs it ('03', '3': pool-vs-stride). A
    model's name, or a notebook of two experiments, is one line saying what to type instead."""
    if name in EXPERIMENTS:
        return EXPERIMENTS[name]
    from paddle_cnn.experiments.catalog import NOTEBOOKS
    number = str(name).strip()
    runs = [e for e, nb in NOTEBOOKS.items() if number.isdigit() and nb[:2] == number.zfill(2)]
    if len(runs) == 1:
        return EXPERIMENTS[runs[0]]
    if runs:
        raise UnknownExperimentError(f"notebook {number.zfill(2)} runs {' and '.join(runs)}: name one of them")
    from paddle_cnn.models import list_models
    if name in list_models():
        training = [e.name for e in EXPERIMENTS.values() if any(r.model == name for r in e.runs)]
        raise UnknownExperimentError(
            f"{name!r} is a model, not an experiment: `paddle-cnn summary {name}` shows its layers"
            + (f"; experiments that train it: {', '.join(training)}" if training else ""))
    raise UnknownExperimentError(did_you_mean("experiment", name, EXPERIMENTS))


def check_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(did_you_mean("profile", name, PROFILES))
    return PROFILES[name]


def resolve_profile(profile: "str | Profile | None") -> Profile:
    """The one place a profile is decided: a Profile as it is, a name checked (one-line ValueError with a
    did-you-mean), None the default (default_profile). Everything downstream carries the Profile object."""
    if isinstance(profile, Profile):
        return profile
    return check_profile(profile) if profile else default_profile()


def default_profile() -> Profile:
    """$PADDLE_CNN_PROFILE, else the full profile on a GPU and the quick one on a CPU."""
    env = os.environ.get("PADDLE_CNN_PROFILE")
    if env:
        try:
            return check_profile(env)
        except ValueError as e:
            raise ValueError(f"PADDLE_CNN_PROFILE: {e}") from None
    from paddle_cnn.device import gpu_available
    return PROFILES[GPU_DEFAULT if gpu_available() else CPU_DEFAULT]
