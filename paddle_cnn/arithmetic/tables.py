"""Layer arithmetic: per-layer output shapes, weights, biases, parameters and MACs of any paddle.nn.Layer.

Convention (stated in every table): MACs are multiply-accumulates of conv and linear layers only, as the
articles count them: k_h*k_w*(C_in/groups)*H_out*W_out*C_out for a conv and in*out for a linear layer, bias
excluded; pooling, BatchNorm and activations count 0. FLOPs = 2 * MACs. Weights are the conv/linear kernels and
BatchNorm's scale, bias their biases and BatchNorm's shift; params are a layer's trainable parameters.

Each layer's input is checked against its shape arithmetic (paddle_cnn.shapes) before the layer runs, so a
network that cannot take the input raises ShapeError naming the layer instead of a Paddle error (or, on
paddle 3.3, a corrupted heap).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass
from typing import Sequence

import paddle
import paddle.nn as nn

from paddle_cnn.arithmetic.shapes import ShapeError, fmt_shape as _shape, layer_config as _config, layer_output_shape
from paddle_cnn.text import Table, error_line

__all__ = ["ShapeError", "LayerRow", "LayerTable", "layer_table", "count_params", "parse_input", "CONVENTION",
           "arithmetic_only_init", "model_table", "model_overview", "MemoryBoundError", "check_memory",
           "memory_needed"]

CONVENTION = ("MACs = multiply-accumulates of conv/linear layers (k*k*Cin*Hout*Wout*Cout, in*out), bias, pooling, "
              "BN and activations excluded; FLOPs = 2*MACs. Params = trainable parameters (BN running "
              "statistics excluded).")


@dataclass
class LayerRow:
    name: str
    type: str
    config: str  # kernel/stride/padding where it applies
    input_shape: tuple
    output_shape: tuple
    weights: int
    bias: int
    params: int
    macs: int

    def as_dict(self):
        return asdict(self)


class LayerTable(list):
    """A list of LayerRow plus totals; prints as text, renders as HTML in Jupyter."""

    def __init__(self, rows, model_name: str, input_shape: tuple, total_params: int):
        super().__init__(rows)
        self.model_name, self.input_shape = model_name, tuple(input_shape)
        self.total_params = total_params  # every trainable parameter of the model, called in forward or not

    @property
    def totals(self) -> dict:
        return {"weights": sum(r.weights for r in self), "bias": sum(r.bias for r in self),
                "params": self.total_params, "macs": sum(r.macs for r in self),
                "flops": 2 * sum(r.macs for r in self)}

    @property
    def output_shape(self) -> tuple:
        called = [r for r in self if r.output_shape]
        return called[-1].output_shape if called else ()

    def records(self) -> list[dict]:
        return [r.as_dict() for r in self]

    def table(self) -> Table:
        """The rows as a Table (the package's one renderer), totals as its footer, the convention under it."""
        cols = ["layer", "type", "config", "output", "weights", "bias", "params", "MACs"]
        rows = [{"layer": r.name, "type": r.type, "config": r.config, "weights": r.weights, "bias": r.bias,
                 "output": _shape(r.output_shape) if r.output_shape else "(not called)", "params": r.params,
                 "MACs": r.macs} for r in self]
        t = self.totals
        foot = {"layer": "total", "output": _shape(self.output_shape), "weights": t["weights"], "bias": t["bias"],
                "params": t["params"], "MACs": t["macs"]}
        return Table(rows, cols, f"{self.model_name}  input {_shape(self.input_shape)}", footer=foot,
                     notes=[f"params {t['params']:,}  MACs {t['macs']:,}  FLOPs {t['flops']:,}", CONVENTION],
                     right=("weights", "bias", "params", "MACs"))

    def to_text(self) -> str:
        return self.table().to_text()

    __str__ = to_text

    def to_markdown(self) -> str:
        return self.table().to_markdown()

    def _repr_html_(self):
        return self.table()._repr_html_()


def parse_input(text: str) -> tuple[int, ...]:
    """'3x224x224' (or '3,224,224') -> (3, 224, 224); ValueError with a one-line reason otherwise."""
    parts = str(text).replace(",", "x").replace("X", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"--input {text!r} is not of the form CxHxW, e.g. 3x224x224") from None
    if len(dims) != 3 or min(dims) < 1:
        raise ValueError(f"--input {text!r} must be three positive integers CxHxW, e.g. 3x224x224")
    return dims


def count_params(model: nn.Layer) -> int:
    """Trainable parameters, as paddle.summary's 'Trainable params'."""
    return sum(int(p.numel()) for p in model.parameters() if not p.stop_gradient)


def _own_params(layer: nn.Layer):
    return [p for p in layer.parameters(include_sublayers=False) if not p.stop_gradient]


def _weights_bias(layer: nn.Layer) -> tuple[int, int]:
    w = b = 0
    for name, p in layer.named_parameters(include_sublayers=False):
        if p.stop_gradient:
            continue
        if name == "bias":
            b += int(p.numel())
        else:
            w += int(p.numel())
    return w, b


def _macs(layer: nn.Layer, out_shape: tuple) -> int:
    if isinstance(layer, nn.Conv2D) and len(out_shape) == 3:
        kh, kw = layer.weight.shape[2:]
        return int(kh * kw * layer.weight.shape[1] * math.prod(out_shape))  # weight: Cout x Cin/groups x k x k
    if isinstance(layer, nn.Linear):
        fin, fout = layer.weight.shape
        return int(fin * fout * math.prod(out_shape[:-1]))
    return 0


class _Recorder:
    """Forward hooks on every leaf (and every layer owning parameters directly): before a layer runs its input
    is checked against the shape arithmetic; after it, a row is recorded (parameters counted on the first call)."""

    def __init__(self, model: nn.Layer):
        self.rows: list[LayerRow] = []
        self.seen: set[int] = set()
        self.current: list[str] = []  # the layers being called, innermost last
        self.tracked = [(n, l) for n, l in model.named_sublayers(include_self=True)
                        if not l._sub_layers or _own_params(l)]
        self.hooks = []
        for layer_name, layer in self.tracked:
            self.hooks.append(layer.register_forward_pre_hook(self._pre(layer_name)))
            self.hooks.append(layer.register_forward_post_hook(self._post(layer_name)))

    def _pre(self, layer_name):
        def hook(layer, inputs):
            x = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
            if isinstance(x, paddle.Tensor):
                layer_output_shape(layer, tuple(x.shape[1:]), layer_name)  # raises ShapeError before it runs
            self.current.append(layer_name)
        return hook

    def _post(self, layer_name):
        def hook(layer, inputs, output):
            self.current.pop()
            x = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
            out = output[0] if isinstance(output, (tuple, list)) else output
            in_shape = tuple(x.shape[1:]) if isinstance(x, paddle.Tensor) else ()
            out_shape = tuple(int(s) for s in out.shape[1:]) if isinstance(out, paddle.Tensor) else ()
            w, b = _weights_bias(layer) if id(layer) not in self.seen else (0, 0)
            self.seen.add(id(layer))
            self.rows.append(LayerRow(layer_name or type(layer).__name__, type(layer).__name__, _config(layer),
                                      in_shape, out_shape, w, b, w + b, _macs(layer, out_shape)))
        return hook

    def remove(self):
        for h in self.hooks:
            h.remove()

    def uncalled(self) -> list[LayerRow]:
        """Rows for layers forward never called that own parameters (listed with them, '(not called)')."""
        return [LayerRow(n, type(l).__name__, _config(l), (), (), *_weights_bias(l), sum(_weights_bias(l)), 0)
                for n, l in self.tracked if id(l) not in self.seen and _own_params(l)]


SUMMARY_MEMORY_BYTES = 4 << 30  # what a layer table may allocate: weights + input + two activations, float32


class MemoryBoundError(ValueError):
    """A layer table whose model and input would need more memory than SUMMARY_MEMORY_BYTES (or the RAM free)."""


def memory_needed(model: nn.Layer, input_shape: Sequence[int]) -> dict:
    """Bytes a forward pass of one sample needs, from the shapes alone (nothing allocated; the model may be
    built under paddle.LazyGuard): weights, the input, and the two largest outputs of any layer (a layer's input
    and output are alive at once), all float32. Activations are counted for features -> flatten -> classifier
    stacks (every model here); another model counts only its weights and input."""
    weights = sum(math.prod(int(d) for d in p.shape) for p in model.parameters()) * 4
    weights += sum(math.prod(int(d) for d in b.shape) for b in model.buffers()) * 4
    sizes = [math.prod(input_shape)]
    features, classifier = getattr(model, "features", None), getattr(model, "classifier", None)
    if isinstance(features, nn.Layer) and isinstance(classifier, nn.Layer):
        out = layer_output_shape(features, input_shape, "features", sizes)
        if out is not None:
            layer_output_shape(classifier, (math.prod(out),), "classifier", sizes)
    largest = sorted(sizes)[-2:]
    return {"weights": weights, "input": sizes[0] * 4, "activations": sum(largest) * 4,
            "total": weights + sizes[0] * 4 + sum(largest) * 4}


def summary_memory_bound() -> int:
    """SUMMARY_MEMORY_BYTES, or half of the RAM available now when that is less."""
    from paddle_cnn.device import available_ram
    return min(SUMMARY_MEMORY_BYTES, available_ram() // 2)


def check_memory(name: str, input_shape: Sequence[int], **kw) -> dict:
    """Refuse, before anything is allocated, a layer table of model `name` at input_shape (kw as for
    create_model) that would need more than summary_memory_bound(): MemoryBoundError naming the sizes."""
    from paddle_cnn.models import create_model
    bound, what = summary_memory_bound(), f"{name} at {_shape(input_shape)} with {kw.get('num_classes', 10):,} classes"
    fix = "choose a smaller --input or --num-classes"
    gb = lambda b: f"{b / 2**30:.1f} GB"  # noqa: E731
    if math.prod(input_shape) * 4 > bound:  # paddle cannot even describe some such layers (int32 sizes)
        raise MemoryBoundError(f"{what}: the input alone is {gb(math.prod(input_shape) * 4)}, more than the "
                               f"{gb(bound)} a layer table may use; {fix}")
    try:
        with paddle.LazyGuard():  # parameters get shapes, not memory
            need = memory_needed(create_model(name, **kw), input_shape)
    except (IndexError, OverflowError) as e:  # paddle: "Integer value ... exceeds int32 range"
        raise MemoryBoundError(f"{what}: a layer would hold more than 2**31 values, paddle's limit "
                               f"({str(e).strip().splitlines()[0][:120]}); {fix}") from None
    if need["total"] > bound:
        raise MemoryBoundError(
            f"{what} would need about {gb(need['total'])} (weights {gb(need['weights'])}, input "
            f"{gb(need['input'])}, largest activations {gb(need['activations'])}), more than the {gb(bound)} a "
            f"layer table may use; {fix}")
    return need


def layer_table(model: nn.Layer, input_shape: Sequence[int], name: str | None = None) -> LayerTable:
    """Run one sample of `input_shape` (C x H x W) through `model` and tabulate every leaf layer.

    Each leaf (and every layer owning parameters directly) gets a row per call, its parameters counted on the
    first call; layers never called in forward are listed as '(not called)' with their parameters, so the
    params total equals paddle.summary's trainable params. Raises ShapeError for an input the model cannot take.
    """
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) == 4 and input_shape[0] == 1:  # (1, C, H, W): a batch of one, as paddle.summary takes it
        raise ShapeError(f"input_shape {input_shape} has a batch dimension: layer_table takes one image's C x H x W, "
                         f"{input_shape[1:]}")
    need, bound = memory_needed(model, input_shape), summary_memory_bound()
    if need["input"] + need["activations"] > bound:  # the weights exist already: what the pass would add
        raise MemoryBoundError(f"{name or type(model).__name__} at {_shape(input_shape)}: the input and its largest "
                               f"activations would need {(need['input'] + need['activations']) / 2**30:.1f} GB, more "
                               f"than the {bound / 2**30:.1f} GB a layer table may use; choose a smaller input")
    rec = _Recorder(model)
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            model(paddle.zeros([1, *input_shape], dtype="float32"))
    except ShapeError:
        raise
    except Exception as e:  # any other failure inside forward: name the layer it happened in
        where = rec.current[-1] if rec.current else (name or type(model).__name__)
        raise ShapeError(f"layer '{where}' failed on input {_shape(input_shape)}: {error_line(e)}") from None
    finally:
        rec.remove()
        if was_training:  # paddle 2.6's train() takes no mode argument
            model.train()
    return LayerTable(rec.rows + rec.uncalled(), name or type(model).__name__, input_shape, count_params(model))


@contextlib.contextmanager
def arithmetic_only_init():
    """Create models with constant-zero parameters: shapes, counts and MACs are exact, creation is ~5x faster
    (paddle's random init of VGG's 100M-weight fc layers dominates otherwise). The models are useless for
    training; use only for layer arithmetic."""
    from paddle.nn.initializer import Constant, set_global_initializer
    set_global_initializer(Constant(0.0), Constant(0.0))
    try:
        yield
    finally:
        set_global_initializer(None)


def arithmetic_model(name: str, **kw) -> nn.Layer:
    """A registered model created with constant weights (for counting, never training); kw go to create_model."""
    from paddle_cnn.models import create_model
    with arithmetic_only_init():
        return create_model(name, **kw)


def model_table(name: str, input_shape=None, **kw) -> LayerTable:
    """Layer table of a registered model (created with constant weights) at input_shape, default its native one;
    kw go to create_model (num_classes, input_size, model options). A model and input too large for memory are
    refused from their shapes first (check_memory), before anything is allocated."""
    from paddle_cnn.models import model_spec
    input_shape = tuple(input_shape or model_spec(name).input_shape)
    check_memory(name, input_shape, **kw)
    return layer_table(arithmetic_model(name, **kw), input_shape, name)


def model_overview(names=None, num_classes: int = 10, progress: bool = False) -> list[dict]:
    """Params, MACs and output size of registered models at their native inputs, one dict per model."""
    from paddle_cnn.models import list_models, model_spec
    names = list(names or list_models())
    it = names
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(names, desc="models", leave=False)
    out = []
    for name in it:
        spec = model_spec(name)
        t = model_table(name, num_classes=num_classes)
        out.append({"model": name, "input": _shape(spec.input_shape), "params": t.totals["params"],
                    "macs": t.totals["macs"], "layers": len(t), "summary": spec.summary})
    return out
