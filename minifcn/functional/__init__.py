"""Pure array kernels: each op is a ``*_forward(...) -> (out, cache)`` / ``*_backward(dout, cache)``
pair that takes ``xp`` (NumPy or CuPy) from its inputs.  ``naive`` holds loop references.

The convolutions, max pooling and ReLU's forward exported here go through the CPU's one door
(``cpu/``): NumPy arrays take its tuned kernels, device arrays the textbook ones of ``conv.py``,
``pool.py`` and ``activation.py``.
"""
from . import conv as _conv
from . import naive  # noqa: F401
from . import pool as _pool
from . import activation as _activation
from .activation import (dropout_backward, dropout_forward, dropout_mask,  # noqa: F401
                         relu_backward)
from .cpu import door as _door
from .im2col import col2im, im2col  # noqa: F401
from .linear import linear_backward, linear_forward  # noqa: F401
from .loss import softmax_cross_entropy_backward, softmax_cross_entropy_forward  # noqa: F401
from .sizes import (conv_output_size, conv_transpose_output_size, pair,  # noqa: F401
                    pool_output_size, unpool_output_size)
from .skip import crop_backward, crop_forward, scale_backward, scale_forward  # noqa: F401
from .unpool import (max_pool2d_with_indices_forward, max_unpool2d_backward,  # noqa: F401
                     max_unpool2d_forward)
from .upsample import (bilinear_upsample_backward, bilinear_upsample_forward,  # noqa: F401
                       bilinear_weight, is_bilinear_weight, upsample_filter)

conv2d_forward = _door(_conv.conv2d_forward)
conv2d_backward = _door(_conv.conv2d_backward)
conv_transpose2d_forward = _door(_conv.conv_transpose2d_forward)
conv_transpose2d_backward = _door(_conv.conv_transpose2d_backward)
max_pool2d_forward = _door(_pool.max_pool2d_forward)
max_pool2d_backward = _door(_pool.max_pool2d_backward)
relu_forward = _door(_activation.relu_forward)
