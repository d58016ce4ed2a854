"""Model zoo: `create_model(name, num_classes=..., **kw)`, `list_models()`, `model_spec(name)`.

One module per family; importing this package registers them all.
"""
from paddle_cnn.models.registry import (ModelSpec, UnknownModelError, create_model, list_models, model_spec,
                                        register_model)
from paddle_cnn.models import lenet, convpool, alexnet, vgg, googlenet, tricks  # noqa: F401,E402  (registration)

__all__ = ["create_model", "list_models", "model_spec", "register_model", "ModelSpec", "UnknownModelError"]
