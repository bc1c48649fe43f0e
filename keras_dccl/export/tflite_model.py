"""Deprecated module: the class is `keras_dccl.export.TFLiteFile` now.

Kept for one release so that `from keras_dccl.export.tflite_model import
TFLiteModel` still works.
"""

import warnings

from keras_dccl.export.tflite_file import OperatorInfo  # noqa: F401
from keras_dccl.export.tflite_file import TensorInfo  # noqa: F401
from keras_dccl.export.tflite_file import TFLiteFile

TFLiteModel = TFLiteFile

warnings.warn(
    "`keras_dccl.export.tflite_model` is deprecated: use "
    "`keras_dccl.export.TFLiteFile` (the same class, renamed).",
    DeprecationWarning,
    stacklevel=2,
)
