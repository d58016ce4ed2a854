"""Model registry: every network is a one-line registered factory, created by name."""
from __future__ import annotations

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


def create_model(name: str, num_classes: int = 10, **kw) -> nn.Layer:
    """Build a registered model. kw override the registered defaults (e.g. input_size, in_channels)."""
    spec = model_spec(name)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    args = {**spec.defaults, **kw}
    args.setdefault("in_channels", spec.input_shape[0])
    args.setdefault("input_size", tuple(spec.input_shape[1:]))
    return spec.factory(num_classes=num_classes, **args)
