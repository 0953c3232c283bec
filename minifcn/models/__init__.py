"""The models: VGG16 and the fully convolutional networks built from it.

- ``VGG16``: the ImageNet classifier (fc6, fc7, fc8 fully connected over a 224×224 input).
- ``FCN32s``, ``FCN16s``, ``FCN8s``, ``FCN8sAtOnce``: ``(n_class=21, base_channels=64,
  fc_channels=4096)``; scores (N, n_class, H, W) for any input (N, 3, H, W).
- ``get_model(name, **kw)``: by name, 'fcn32s' | 'fcn16s' | 'fcn8s' | 'fcn8s-atonce' | 'vgg16'
  (``model_key`` normalises a name, ``model_class`` gives its class).
- Two geometries, one call each: ``FCN8s()`` is the paper's network (conv1_1 padded by 100, fc6
  by 0, dropout 0.5); ``FCN8s.main_job()`` is the one ``python -m minifcn train`` trains (fc6
  padded by 3, conv1_1 by 0, no dropout, widths / 8). ``PAPER`` and ``MAIN_JOB`` hold both.
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


# The class names, as a weights file saves them, lowered: 'fcn8satonce' → 'fcn8s-atonce'.
_CLASS_KEYS = {cls.__name__.lower(): key for key, cls in MODELS.items()}


def model_key(name):
    """A model's name as ``MODELS`` spells it, however it was written: 'fcn8s', 'FCN8s',
    'fcn8s_atonce', or a class name as saved in a weights file ('FCN8sAtOnce' → 'fcn8s-atonce').
    The one place names are normalised; an unknown name comes back normalised, not in MODELS."""
    key = str(name).strip().lower().replace("_", "-")
    return _CLASS_KEYS.get(key, key)


def model_class(name):
    """The class of a model name or class name (``model_key``), e.g. 'fcn8s' or 'FCN8s'."""
    key = model_key(name)
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}: expected one of {tuple(MODELS)}")
    return MODELS[key]


def get_model(name, **kwargs):
    """A new model by name ('fcn32s', 'fcn16s', 'fcn8s', 'fcn8s-atonce', 'vgg16'; written as
    ``model_key`` allows), built with ``kwargs``: the paper's geometry, unless ``kwargs`` say
    otherwise (``model_class(name).main_job()`` builds the main job's)."""
    return model_class(name)(**kwargs)
