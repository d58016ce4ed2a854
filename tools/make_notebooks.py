"""Writes notebooks/01..06 from one template: the article's claim, a parameters cell, the run through the package,
tables, plots, the claims' verdicts and the VisualDL command. (00 is written by make_notebook00.py.)
Run: python tools/make_notebooks.py"""
import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell

NOTEBOOKS = {
    "01_bn_ablation_cifar10": ("bn-ablation", """# 01 · BatchNorm ablation on CIFAR-10 (article 000)

Doi技术团队, *PaddlePaddle训练cifar10数据集的一个例子*, https://blog.doiduoyi.com/authors/1584446358138, 问题2.

The article trains its three-block conv-pool network (`convpool3`) on CIFAR-10 with and without BatchNorm after
the first two blocks, and concludes from the curves that **with BN the accuracy is higher and the loss and
accuracy fluctuate less**. We train both, for several seeds, and turn both halves of the claim into numbers:
the difference of mean test accuracies with its standard error, and "smoothness" as the standard deviation of the
epoch-to-epoch changes of the eval loss."""),
    "02_lenet_alexnet_mnist": (("lenet-mnist", "alexnet-mnist"), """# 02 · LeNet and AlexNet on MNIST (article 001)

*LeNet网络结构 / AlexNet 网络结构* (blog post with PyTorch code on MNIST), sections 4-5.

The article trains LeNet on MNIST with SGD and saves a checkpoint per epoch, then AlexNet: a first try reaches
**only ~71%**; with **lr 0.001, momentum 0.9, random horizontal flip and random grayscale, 20 epochs** it reaches
**97%** test accuracy. MNIST digits are resized to AlexNet's input and repeated to three channels on the device."""),
    "03_pool_vs_stride2_mnist": ("pool-vs-stride", """# 03 · Max-pooling vs stride-2 convolution (article 002)

李长安, *聊聊池化层和步长为2的卷积层* (华为云社区《对于池化层和步长为2的卷积层的一些思考》), 2023-03-22.

LeNet with max-pooling against `LeNet_nopool`, whose pools are replaced by stride-2 convolutions (plus a 3x3
conv). Adam, lr 0.001, batch 64, 10 epochs on MNIST. The article reports **acc_top1 0.9810 / top2 0.9932** for
LeNet and **0.9837 / 0.9964** for LeNet_nopool, with **61,706 vs 66,346** parameters, and concludes that the
stride-2 version is slightly better. One run each, no seeds: is a 0.27-point gap more than the noise?"""),
    "04_classic_models_caltech16": ("classic-caltech16", """# 04 · Classic models on 16 Caltech-101 classes (article 003)

*一文搞懂卷积网络之一(【动态图】从LeNet到GoogLeNet)*, https://aistudio.baidu.com/aistudio/projectdetail/601071, 二.

LeNet (sigmoid), AlexNet, VGG13 and GoogLeNet (Inception v1, no auxiliary heads) on 16 Caltech-101 classes at
224x224, Momentum, lr 0.001, batch 32, 60 epochs. Claims: **LeNet does not converge**, **AlexNet is the best of
the four** (VGG overfits, GoogLeNet converges slowly); **BN adds ~8 points to GoogLeNet** and **at least 1 point
to VGG**, with BN where the article's `VGG_BN` and `GoogLeNet_BN` put it."""),
    "05_cnn_tricks_caltech16": ("tricks-caltech16", """# 05 · A CNN improved trick by trick (article 003)

*一文搞懂卷积网络之一(【动态图】从LeNet到GoogLeNet)*, https://aistudio.baidu.com/aistudio/projectdetail/601071, 三.

Six 5x5 convs and five max-pools with a sigmoid fc head **do not converge**; BN after every conv makes the
baseline. Then one trick at a time: **LeakyReLU +ten-odd points, global average pooling +~25, dropout 0.5 +~20,
two 3x3 convs per 5x5 +~20, a multi-scale concat block +~25**, and all of them together **66%** val accuracy with
piecewise lr decay (**~60%** without). Here every variant is one configurable class (`paddle_cnn.models.tricks`)."""),
    "06_vgg16_cifar10": ("vgg16-cifar10", """# 06 · VGG16 on CIFAR-10 (article 004)

Charlotte77, *【深度学习系列】用PaddlePaddle和Tensorflow实现经典CNN网络Vgg*, http://www.cnblogs.com/charlotte77/.

VGG16 with BN and dropout in the conv groups and a 512-wide head (`vgg16_cifar`), Momentum 0.9, L2 regularisation,
'discexp' learning-rate decay, batch 128, 200 passes: **89.11% test accuracy** (16h21min on 8 K80s; TensorFlow
89.18%). The quick profile runs a few epochs on a subset; the full profile is the article's recipe for a GPU."""),
}


def parameters(source):
    """The parameters cell, tagged for papermill."""
    return code(source, metadata={"tags": ["parameters"]})


def notebook(experiments, intro):
    exps = (experiments,) if isinstance(experiments, str) else experiments
    cells = [md(intro), parameters(f"""# Parameters (this cell is tagged `parameters`: papermill -p PROFILE quick ...)
PROFILE = None        # full (GPU, the article's settings) | quick (minutes on a CPU) | smoke (seconds); None: below
SEEDS = None          # seeds per run (None: 1 under smoke, else 2; spreads need 2 or more)
DATA_DIR = "../data"  # data sets (see data/README.md)
LOGDIR = None         # VisualDL runs + results (None: ../logs, or ../logs/smoke for the smoke profile)
RESUME = False        # True: keep finished runs of the same plans, resume an interrupted one"""),
             code(f"""# PROFILE None: $PADDLE_CNN_PROFILE, else smoke under pytest (so `pytest --nbmake notebooks` takes minutes on
# a CPU), else the package's default (full on a GPU, quick on a CPU)
import os
from paddle_cnn.experiments.definitions import default_profile
if PROFILE is None:
    PROFILE = os.environ.get("PADDLE_CNN_PROFILE") or (
        "smoke" if "PYTEST_CURRENT_TEST" in os.environ else default_profile().name)
SEEDS = SEEDS or (1 if PROFILE == "smoke" else 2)
LOGDIR = LOGDIR or os.path.join("..", "logs", "smoke" if PROFILE == "smoke" else "")
EXPERIMENTS = {list(exps)!r}

from IPython.display import display
from paddle_cnn.experiments import run_experiment
from paddle_cnn.experiments.report import plot_curves, plot_final, summarize
from paddle_cnn.text import Table
print("profile", PROFILE, "| seeds", SEEDS)""")]
    for e in exps:
        cells += [md(f"## Experiment `{e}`"),
                  code(f"""results = run_experiment({e!r}, PROFILE, SEEDS, DATA_DIR, LOGDIR, resume=RESUME)
all_results = globals().setdefault("all_results", {{}})
all_results[{e!r}] = results
for note in results["notes"]:
    print("note:", note)
Table(summarize(results), ["run", "model", "seeds", "params", "MACs", "epochs", "test acc", "test top-2",
                           "best eval acc", "train s"], "mean ± std over seeds")"""),
                  code("""display(plot_curves(results), plot_final(results))  # also saved as curves.png / final.png beside results.json"""),
                  *([code("""Table(results["timing"], ["model", "input", "batch", "forward s/batch",
                         "forward-backward s/batch", "forward img/s", "forward-backward GFLOP/s", "device"],
      "article 004's speed benchmark")""")] if e == "vgg16-cifar10" else []),
                  code("""Table(results["claims"], ["text", "value", "ours", "verdict", "reason"], "the article's claims")""")]
    cells += [md("""The same runs in VisualDL (scalars per epoch and batch, hyperparameters side by side):

```bash
visualdl --logdir logs --language en --disable-telemetry
```"""),
              code("""# Checks, each of which can fail: what this notebook shows is what results.json holds; every run trained
# the epochs its experiment plans; exact parameter counts match the article; losses are finite; and training moved:
# the train loss fell in every run of quick/full, and in at least one run per experiment under smoke (two epochs of
# a few batches at the article's small learning rates cannot move every deep network).
import json, math
from paddle_cnn.experiments import plan_experiment
for name, res in all_results.items():
    with open(os.path.join(LOGDIR, name, "results.json"), encoding="utf-8") as f:
        saved = json.load(f)
    assert [(c["text"], c["verdict"]) for c in saved["claims"]] == [(c["text"], c["verdict"]) for c in res["claims"]]
    plans = {p.key: p for p in plan_experiment(name, res["profile"], res["seeds"])}
    for r in res["runs"]:
        assert r["epochs"] == plans[r["run"]].config.epochs, r["run"]
    assert all(c["verdict"] == "reproduced" for c in res["claims"] if c["metric"] in ("params", "weights")), name
    assert all(math.isfinite(v) for r in res["runs"] for v in r["history"]["train_loss"]), name
    moved = {r["run"]: r["history"]["train_loss"][-1] < r["history"]["train_loss"][0] for r in res["runs"]}
    print(name, "train loss fell in", sum(moved.values()), "of", len(moved), "runs")
    assert any(moved.values()) if res["profile"] == "smoke" else all(moved.values()), (name, moved)"""),
              md("## What we found"),
              code("""for name, res in all_results.items():
    print(f"{name} ({res['profile']} profile):")
    for c in res["claims"]:
        print(f"  - {c['text']}: {c['verdict']}. ours: {c['ours']}. {c['reason']}")"""),
              md("""The verdicts above are computed from this run. Under the smoke profile (CI) they can only say
*not comparable*: two short epochs on a tiny subset, or generated data where the real set is not present. The
README's results table holds the quick-profile figures measured on a 2-core CPU, and `--profile full` on a GPU
runs the article's settings.""")]
    return nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                      "language": "python"}})


for fname, (exps, intro) in NOTEBOOKS.items():
    nbf.write(notebook(exps, intro), f"notebooks/{fname}.ipynb")
