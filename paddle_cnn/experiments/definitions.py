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
    """kind: 'value' (our metric vs the stated number), 'better' (run beats `than` on metric), 'smoother'
    (run's eval-loss curve is smoother than `than`'s), 'delta' (run - than is about `value`), 'no_learning'
    (stays near chance), 'params' (exact parameter count)."""
    kind: str
    run: str
    metric: str
    value: object
    source: str
    text: str
    than: str = ""
    tolerance: float = 0.01


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
    arithmetic: bool = False  # also check the articles' layer arithmetic (shapes, counts, MACs of every model)


A000, A001, A002 = cite("a000", "问题2"), cite("a001", "4-5, AlexNet mnist"), cite("a002", "6-11")
A003, A004 = cite("a003", "二.5, 三"), cite("a004", "训练结果")
SMOKE = dict(epochs=2, train_subset=200, test_subset=100, max_batches=4)
SMOKE_CALTECH = dict(epochs=2, train_subset=160, test_subset=48, max_batches=4, batch_size=8)

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
        Claim("better", "lenet_nopool", "test_acc", None, A002,
              "stride-2 convolutions instead of max-pooling give a (slightly) better LeNet", than="lenet"),
    ),
    notes="quick: the 4,000 / 1,000 embedded MNIST digits instead of 60,000 / 10,000, same recipe, 15 epochs "
          "instead of 10 (60,000 images seen instead of 600,000)."))

_add(Experiment(
    "lenet-mnist", "LeNet on MNIST with SGD (article 001)", A001, "mnist",
    runs=(Run("lenet", "lenet"),),
    train=dict(epochs=8, batch_size=64, optimizer="momentum", lr=1e-3, momentum=0.9),
    profiles={"full": {}, "quick": dict(dataset="mnist-5k"), "smoke": dict(dataset="mnist-5k", **SMOKE)},
    claims=(Claim("params", "lenet", "params", 61_706, cite("a001", "LeNet 4.3"),
                  "LeNet for 28x28 MNIST (conv 6@5x5 pad 2, conv 16@5x5, fc 120-84-10) has 61,706 parameters"),),
    notes="article 001 saves a checkpoint per epoch (net_008.pth after 8 epochs); ours does too."))

_add(Experiment(
    "alexnet-mnist", "AlexNet on MNIST: 71% first, 97% with momentum and augmentation (article 001)", A001,
    "mnist",
    runs=(Run("alexnet_first_try", "alexnet", train_kw=dict(lr=0.01, momentum=0.0, optimizer="sgd", augment=())),
          Run("alexnet", "alexnet")),
    train=dict(epochs=20, batch_size=64, optimizer="momentum", lr=1e-3, momentum=0.9, augment=("flip", "grayscale"),
               input_size=224, in_channels=3),
    profiles={"full": {}, "quick": dict(dataset="mnist-5k", epochs=4, input_size=64, train_subset=2000),
              "smoke": dict(dataset="mnist-5k", input_size=64, **{**SMOKE, "max_batches": 13, "batch_size": 16})},
    claims=(Claim("value", "alexnet", "test_acc", 0.97, A001,
                  "AlexNet with lr 0.001, momentum 0.9, flip + grayscale augmentation, 20 epochs: 97%",
                  tolerance=0.01),
            Claim("better", "alexnet", "test_acc", None, A001, "the tuned AlexNet beats the first try (~71%)",
                  than="alexnet_first_try")),
    notes="MNIST digits are resized to the AlexNet input and repeated to 3 channels on the device. The article's "
          "first-try settings are not printed; ours is plain SGD, lr 0.01, no augmentation. quick: 64x64 inputs."))

_add(Experiment(
    "bn-ablation", "BatchNorm ablation on the CIFAR-10 conv-pool net (article 000)", A000, "cifar10",
    runs=(Run("convpool3", "convpool3"), Run("convpool3_bn", "convpool3_bn")),
    train=dict(epochs=20, batch_size=128, optimizer="adam", lr=1e-3),
    profiles={"full": {}, "quick": dict(epochs=5, train_subset=10_000, test_subset=2_000),
              "smoke": dict(SMOKE)},
    claims=(Claim("params", "convpool3", "weights", 89_500, cite("a000", "问题1"),
                  "89,500 weights without bias"),
            Claim("better", "convpool3_bn", "test_acc", None, A000, "with BN the accuracy is higher",
                  than="convpool3"),
            Claim("smoother", "convpool3_bn", "eval_loss", None, A000,
                  "with BN the loss and accuracy curves fluctuate less", than="convpool3")),
    notes="The article prints no optimizer; we use Adam 0.001 at its batch size 128. 'Smoother' is measured as "
          "the standard deviation of the epoch-to-epoch changes of the eval loss (lower is smoother)."))

_CALTECH = dict(epochs=60, batch_size=32, optimizer="momentum", lr=1e-3, momentum=0.9, input_size=224)
_CALTECH_QUICK = dict(epochs=3, input_size=64, train_subset=800, test_subset=240)
_add(Experiment(
    "classic-caltech16", "LeNet, AlexNet, VGG13 and GoogLeNet on 16 Caltech-101 classes, with and without BN "
    "(article 003)", A003, "caltech16",
    runs=(Run("lenet_sigmoid", "lenet_sigmoid"), Run("alexnet", "alexnet", dict(conv1_padding=2)),
          Run("vgg13", "vgg13"), Run("googlenet", "googlenet"),
          Run("vgg13_bn", "vgg13_bn", dict(bn="article003")), Run("googlenet_bn", "googlenet_bn")),
    train=_CALTECH, profiles={"full": {}, "quick": _CALTECH_QUICK, "smoke": dict(input_size=64, **SMOKE_CALTECH)},
    claims=(Claim("no_learning", "lenet_sigmoid", "best_eval_acc", None, A003, "LeNet (sigmoid) does not converge"),
            Claim("better", "alexnet", "best_eval_acc", None, A003, "AlexNet is the best of the four", than="vgg13"),
            Claim("better", "alexnet", "best_eval_acc", None, A003, "AlexNet beats GoogLeNet", than="googlenet"),
            Claim("delta", "googlenet_bn", "best_eval_acc", 0.08, A003, "BN adds about 8 points to GoogLeNet",
                  than="googlenet"),
            Claim("delta", "vgg13_bn", "best_eval_acc", 0.01, A003, "BN adds at least 1 point to VGG",
                  than="vgg13")),
    notes="quick: 64x64 inputs, 800 training images, 3 epochs: far from the article's 60 epochs at 224x224."))

_TRICK_BASE = "cnn_bn"
_add(Experiment(
    "tricks-caltech16", "A CNN improved trick by trick on 16 Caltech-101 classes (article 003)", A003, "caltech16",
    runs=tuple(Run(n, n) for n in ("cnn_sigmoid", "cnn_bn", "cnn_leakyrelu", "cnn_gap", "cnn_dropout", "cnn_3x3",
                                   "cnn_concat", "cnn_alltricks"))
    + (Run("cnn_alltricks_lrdecay", "cnn_alltricks", train_kw=dict(lr_schedule="piecewise", milestones=(20, 40))),),
    train=_CALTECH, profiles={"full": {}, "quick": _CALTECH_QUICK, "smoke": dict(input_size=32, **SMOKE_CALTECH)},
    claims=(Claim("no_learning", "cnn_sigmoid", "best_eval_acc", None, A003, "the sigmoid CNN does not converge"),
            Claim("delta", "cnn_leakyrelu", "best_eval_acc", 0.12, A003, "LeakyReLU: + ten-odd points",
                  than=_TRICK_BASE),
            Claim("delta", "cnn_gap", "best_eval_acc", 0.25, A003, "global average pooling: + ~25 points",
                  than=_TRICK_BASE),
            Claim("delta", "cnn_dropout", "best_eval_acc", 0.20, A003, "dropout 0.5: + ~20 points",
                  than=_TRICK_BASE),
            Claim("delta", "cnn_3x3", "best_eval_acc", 0.20, A003, "two 3x3 convs per 5x5: + ~20 points",
                  than=_TRICK_BASE),
            Claim("delta", "cnn_concat", "best_eval_acc", 0.25, A003, "multi-scale concat block: + ~25 points",
                  than=_TRICK_BASE),
            Claim("value", "cnn_alltricks_lrdecay", "best_eval_acc", 0.66, A003,
                  "all tricks with piecewise lr decay: 66% val accuracy", tolerance=0.03),
            Claim("value", "cnn_alltricks", "best_eval_acc", 0.60, A003, "all tricks without decay: ~60%",
                  tolerance=0.03)),
    notes="The article's decay points are not printed; ours divide the lr by 10 at epochs 20 and 40 (scaled with "
          "the epochs of the profile)."))

_add(Experiment(
    "vgg16-cifar10", "VGG16 with BN and dropout on CIFAR-10 (article 004)", A004, "cifar10",
    runs=(Run("vgg16_cifar", "vgg16_cifar"),),
    train=dict(epochs=200, batch_size=128, optimizer="momentum", lr=0.1, momentum=0.9, weight_decay=2e-4,
               lr_schedule="exponential", gamma=0.1, decay_epochs=100, augment=("crop", "flip")),
    profiles={"full": {}, "quick": dict(epochs=2, train_subset=5_000, test_subset=1_000),
              "smoke": dict(SMOKE)},
    claims=(Claim("value", "vgg16_cifar", "test_acc", 0.8911, A004, "89.11% test accuracy after 200 passes",
                  tolerance=0.01),),
    timing={"full": ("vgg16", (3, 224, 224), 128, 100), "quick": ("vgg16", (3, 224, 224), 8, 5),
            "smoke": ("vgg16", (3, 64, 64), 2, 2)},
    notes="paddle.v2 scaled the learning rate (0.1/128) and L2 rate (0.0002*128) by the batch size 128; in "
          "paddle 2.x terms that is lr 0.1 and weight decay 2e-4 on the batch-mean loss, 'discexp' decay x0.1 every "
          "100 epochs (50,000*100 samples). Augmentation (random crop + flip) as paddle's CIFAR tutorials. "
          "The article's speed benchmark (forward and forward-backward seconds per batch of VGG16 at 224x224, batch "
          "128) is measured beside it; quick uses batch 8, smoke 2 images at 64x64."))

_add(Experiment(
    "layer-arithmetic", "Shapes, parameters and MACs of every model, and the articles' arithmetic (no training)",
    cite("a000", "问题1") + "; " + cite("a001", "2"), "", runs=(), train={},
    profiles={"full": {}, "quick": {}, "smoke": {}}, arithmetic=True))


class UnknownExperimentError(ValueError):
    pass


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise UnknownExperimentError(did_you_mean("experiment", name, EXPERIMENTS))
    return EXPERIMENTS[name]


def check_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(did_you_mean("profile", name, PROFILES))
    return PROFILES[name]


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
