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
from paddle_cnn.text import Table

__all__ = ["ShapeError", "LayerRow", "LayerTable", "layer_table", "count_params", "parse_input", "CONVENTION",
           "arithmetic_only_init", "model_table", "model_overview"]

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


def layer_table(model: nn.Layer, input_shape: Sequence[int], name: str | None = None) -> LayerTable:
    """Run one sample of `input_shape` (C x H x W) through `model` and tabulate every leaf layer.

    Each leaf (and every layer owning parameters directly) gets a row per call, its parameters counted on the
    first call; layers never called in forward are listed as '(not called)' with their parameters, so the
    params total equals paddle.summary's trainable params. Raises ShapeError for an input the model cannot take.
    """
    input_shape = tuple(int(s) for s in input_shape)
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
        msg = str(e).strip().splitlines()
        raise ShapeError(f"layer '{where}' failed on input {_shape(input_shape)}: "
                         f"{msg[-1] if msg else type(e).__name__}") from None
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
    kw go to create_model (num_classes, input_size, model options)."""
    from paddle_cnn.models import model_spec
    return layer_table(arithmetic_model(name, **kw), tuple(input_shape or model_spec(name).input_shape), name)


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
