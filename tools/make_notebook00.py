"""Writes notebooks/00_layer_arithmetic.ipynb (source cells only; run it to fill the outputs)."""
import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
md("""# 00 · Layer arithmetic: shapes, parameters and MACs of the classic CNNs

The tutorials this suite reproduces all count by hand: output sizes, weights, "FLOPs". This notebook recomputes
every such number from our own layer tables (`paddle_cnn.arithmetic.tables.layer_table`, which works on any
`paddle.nn.Layer`) and says where an article's number does not follow from its own formula.

Sources (as printed in the articles):
- Doi技术团队, *PaddlePaddle训练cifar10数据集的一个例子*, https://blog.doiduoyi.com/authors/1584446358138 (Q1 table, Q3 "deeper?")
- *LeNet网络结构 / AlexNet 网络结构* (blog post with PyTorch code on MNIST; no author or URL printed)
- 李长安, *聊聊池化层和步长为2的卷积层* (华为云社区《对于池化层和步长为2的卷积层的一些思考》), 2023-03-22
- *一文搞懂卷积网络之一(【动态图】从LeNet到GoogLeNet)*, https://aistudio.baidu.com/aistudio/projectdetail/601071
- Charlotte77, *【深度学习系列】用PaddlePaddle和Tensorflow实现经典CNN网络Vgg*, http://www.cnblogs.com/charlotte77/

**Convention.** MACs are multiply-accumulates of conv and linear layers, as the articles count "FLOPs":
k·k·C_in·H_out·W_out·C_out for a conv, in·out for a linear layer, bias excluded; pooling, BatchNorm and
activations count 0. FLOPs = 2·MACs. Params are trainable parameters (BatchNorm running statistics excluded)."""),
code("""# Parameters (tagged `parameters`). Layer arithmetic needs no data and no training: no profile applies.
NUM_CLASSES = 10  # classifier outputs of every model in the overview below""", metadata={"tags": ["parameters"]}),
code("""import paddle_cnn
from paddle_cnn.arithmetic.tables import ShapeError, layer_table, model_overview
from paddle_cnn.arithmetic.claims import (article000_checks, article001_checks, article002_checks,
                                          article003_checks, article004_checks)
from paddle_cnn.models import create_model, list_models
from paddle_cnn.experiments.report import plot_params_vs_macs
from paddle_cnn.text import Table

COLUMNS = ["claim", "stated", "ours", "verdict", "note"]
def checks_table(checks, title):
    return Table([c.as_dict() for c in checks], COLUMNS, title)
print("paddle", __import__("paddle").__version__)"""),
md("""## Article 000, Q1: the CIFAR-10 network, layer by layer

Three `simple_img_conv_pool` blocks (5x5 conv without padding + ReLU + 2/2 max-pool) and an fc layer, on a
3x32x32 input. The article's table: 28 → 14 → 10 → 5 → 1 → 1, weights 1,500 / 25,000 / 62,500 / 500 = 89,500."""),
code("""t000 = layer_table(create_model("convpool3"), (3, 32, 32), "convpool3")
t000"""),
code("""c000 = article000_checks()
checks_table(c000, "Article 000, Q1")"""),
md("""Note the last pool: a 2x2/2 window on a 1x1 map. The article's formula (H−k)/s+1 gives 0.5; Paddle's kernel
divides in C integers (truncating toward zero) and returns 1x1, which is what the article printed and what our
shape arithmetic reproduces.

## Article 000, Q3: "deeper?"

Adding a fourth conv-pool block after the 1x1 map made the article's fluid program fail with
`EnforceNotMet: ... the output size is less than 0`. Paddle 2.x/3.x does not even say that much: on paddle 3.3 a
5x5 conv on a 1x1 map corrupts the heap, and a 3/2 max-pool on a 1x1 map silently returns a 0x0 tensor. Our
models check their shapes while they are built, and `layer_table` checks each layer's input before it runs:"""),
code("""try:
    create_model("convpool3", depth=4)
except ShapeError as e:
    print("ShapeError:", e)
try:
    layer_table(create_model("convpool3"), (3, 16, 16))
except ShapeError as e:
    print("ShapeError:", e)"""),
md("""## Article 001: LeNet-5 and AlexNet arithmetic

LeNet-5 (32x32x1 input, C5 as a 5x5 conv). The article gives C1 (5·5·1+1)·6 = 156 parameters and
5·5·1·28·28·6 = 117,600 multiplies, C5 (5·5·16+1)·120 = 48,120 and 48,000, and "about 60k (60,790)" in total."""),
code("""layer_table(create_model("lenet5"), (1, 32, 32), "lenet5")"""),
md("""AlexNet, one tower, at the 227x227 input the article says conv1 really sees. The article writes conv1's
parameters as "11×11×3×96+96 = 34,848"."""),
code("""t_alex = layer_table(create_model("alexnet", input_size=227), (3, 227, 227), "alexnet @227")
t_alex"""),
code("""c001 = article001_checks()
checks_table(c001, "Article 001")"""),
md("""## Articles 002, 003 and 004"""),
code("""c002_004 = article002_checks() + article003_checks() + article004_checks()
checks_table(c002_004, "Articles 002-004")"""),
md("""## Every registered model at its native input

Models are created with constant parameters here (`arithmetic_only_init`): shapes, counts and MACs are exact and
creation is about 5x faster than with paddle's random init of the big fc layers."""),
code("""overview = model_overview(num_classes=NUM_CLASSES, progress=True)
Table(overview, ["model", "input", "params", "macs", "layers", "summary"], f"All models, {NUM_CLASSES} classes")"""),
code("""plot_params_vs_macs(overview).figure"""),
md("""## What we found"""),
code("""checks = c000 + c001 + c002_004
# checks against numbers worked out by hand, not read from the tables: article 000's weights without bias,
# article 002's LeNet count, and every registered model in the overview
assert t000.totals["weights"] == 5*5*3*20 + 5*5*20*50 + 5*5*50*50 + 50*10
assert next(r for r in overview if r["model"] == "lenet")["params"] == (5*5*1*6 + 6) + (5*5*6*16 + 16) + (400*120 + 120) + (120*84 + 84) + (84*10 + 10)
assert {r["model"] for r in overview} == set(list_models())
agree = [c for c in checks if c.verdict == "agrees"]
print(f"{len(agree)} of {len(checks)} arithmetic claims follow from our tables. The others:")
for c in checks:
    if c.verdict != "agrees":
        print(f"- {c.claim}: stated {c.stated!r}, ours {c.ours!r}. {c.note}")
big = max(overview, key=lambda r: r["params"]); heavy = max(overview, key=lambda r: r["macs"])
print(f"Largest model: {big['model']} ({big['params']:,} params); most compute: {heavy['model']} "
      f"({heavy['macs']:,} MACs per image)")"""),
md("""Reading the table above: the articles' shape and per-layer formulas hold exactly in Paddle; the slips are in
their totals. AlexNet's "34,848" is conv1's weights without its 96 biases, and LeNet-5's "60,790" matches no
variant of the network (full or sparse C3, linear or RBF output, with or without trainable pooling
coefficients). In the overview, parameters and compute are nearly unrelated: GoogLeNet needs a fraction of
VGG's parameters for a comparable number of MACs, because global average pooling replaces the 100M-weight fc
layers, and the trick CNN of article 003 moves the same way when its fc head is replaced by global pooling."""),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
nbf.write(nb, "notebooks/00_layer_arithmetic.ipynb")
