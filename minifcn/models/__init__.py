"""The models: VGG16 and the fully convolutional networks built from it.

- ``VGG16``: the ImageNet classifier (fc6, fc7, fc8 fully connected over a 224×224 input).
- ``FCN32s``, ``FCN16s``, ``FCN8s``, ``FCN8sAtOnce``: ``(n_class=21, base_channels=64,
  fc_channels=4096)``; scores (N, n_class, H, W) for any input (N, 3, H, W).
- ``get_model(name, **kw)``: by name, 'fcn32s' | 'fcn16s' | 'fcn8s' | 'fcn8s-atonce' | 'vgg16'.
- ``score, blobs = model.forward(x, return_blobs=True)``: an FCN's named intermediate blobs
  (pool1 … pool5, fc6, fc7, score_fr, upscore2, score_pool4c, fuse_pool4, …), in order.

docs/models.md describes them, the weights conversion, and the two input conventions.
"""
from .fcn import FCN, MAIN_JOB, PAPER, ParamCopy, Skip  # noqa: F401
from .fcn8s import FCN8s, FCN8sAtOnce
from .fcn16s import FCN16s
from .fcn32s import FCN32s
from .vgg import VGG16

MODELS = {
    "fcn32s": FCN32s,
    "fcn16s": FCN16s,
    "fcn8s": FCN8s,
    "fcn8s-atonce": FCN8sAtOnce,
    "vgg16": VGG16,
}


def get_model(name, **kwargs):
    """A new model by name ('fcn32s', 'fcn16s', 'fcn8s', 'fcn8s-atonce', 'vgg16'; case and
    '_' vs '-' do not matter), built with ``kwargs``."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}: expected one of {tuple(MODELS)}")
    return MODELS[key](**kwargs)


def model_class(class_name):
    """The class called ``class_name`` (as saved in a weights file), e.g. 'FCN8s'."""
    for cls in MODELS.values():
        if cls.__name__ == class_name:
            return cls
    raise ValueError(f"unknown model class {class_name!r}: expected one of "
                     f"{tuple(c.__name__ for c in MODELS.values())}")
