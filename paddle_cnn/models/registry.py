"""Model registry: every network is a one-line registered factory, created by name."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import paddle.nn as nn

from paddle_cnn.text import did_you_mean


@dataclass(frozen=True)
class ModelSpec:
    name: str
    factory: Callable[..., nn.Layer]
    input_shape: tuple  # native input, C x H x W
    summary: str  # one line: what it is
    source: str  # which article / section it follows
    defaults: dict = field(default_factory=dict)  # keyword arguments the factory is called with


class UnknownModelError(ValueError):
    """Raised for a model name that is not registered; the message names the closest valid names."""


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, input_shape: tuple, summary: str, source: str, **defaults):
    """Decorator: register `factory(num_classes=..., **kw)` under `name` (defaults are passed on creation)."""

    def deco(factory):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(name, factory, tuple(input_shape), summary, source, dict(defaults))
        return factory

    return deco


def list_models() -> list[str]:
    return list(_REGISTRY)


def model_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(did_you_mean("model", name, _REGISTRY, "run `paddle-cnn list` for the names")) \
            from None


def create_model(name: str, num_classes: int = 10, seed: int | None = None, **kw) -> nn.Layer:
    """Build a registered model. kw override the registered defaults (e.g. input_size, in_channels).

    seed: the initial weights' seed (paddle.seed(seed) first, as `paddle-cnn run` seeds a run before building its
    model: create_model(name, seed=s) has the weights of that run's seed s). None: paddle's generator as it is.
    TrainConfig.seed seeds what fit draws (batch order, augmentation, dropout), not the weights."""
    spec = model_spec(name)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        import paddle
        paddle.seed(seed)
    args = {**spec.defaults, **kw}
    args.setdefault("in_channels", spec.input_shape[0])
    args.setdefault("input_size", tuple(spec.input_shape[1:]))
    model = spec.factory(num_classes=num_classes, **args)
    model.__class__ = _named_class(spec, type(model))
    return model


_CLASSES: dict[tuple, type] = {}


def _named_class(spec: ModelSpec, base: type) -> type:
    """`base` under the model's own name with its factory's docstring, so that help(model) and the model's repr
    say which network it is (one subclass per name, adding nothing but the name and the text)."""
    key = (spec.name, base)
    if key not in _CLASSES:
        c, h, w = spec.input_shape
        doc = (f"{spec.name}: {spec.summary}. Native input {c}x{h}x{w}; source: {spec.source}.\n\n"
               f"{inspect.cleandoc(spec.factory.__doc__ or '')}\n\n"
               f"Built by paddle_cnn.create_model({spec.name!r}, num_classes=..., **kw) from "
               f"{spec.factory.__module__}.{spec.factory.__name__}; a {base.__name__} ({base.__module__}).")
        _CLASSES[key] = type(spec.name, (base,), {"__doc__": doc, "__module__": spec.factory.__module__})
    return _CLASSES[key]
