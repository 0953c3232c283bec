"""Layers with PyTorch's names and arguments, each with a hand-written ``backward``."""
from .conv import Conv2d, ConvTranspose2d, convolutionize  # noqa: F401
from .layers import Crop, Dropout, Flatten, Identity, Linear, MaxPool2d, ReLU, Scale  # noqa: F401
from .loss import SoftmaxCrossEntropy  # noqa: F401
from .module import Module, Parameter, Sequential, is_grad_enabled, no_grad  # noqa: F401
from .unpool import MaxPool2dWithIndices, MaxUnpool2d  # noqa: F401
