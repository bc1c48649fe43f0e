"""TFLite / LiteRT export. Imports TensorFlow, so users import it on demand."""

import warnings

from keras_dccl.export.edgetpu import EdgeTPUProblem
from keras_dccl.export.edgetpu import check_edgetpu
from keras_dccl.export.edgetpu import export_edgetpu
from keras_dccl.export.edgetpu import run_edgetpu_split
from keras_dccl.export.export_and_verify import export_and_verify
from keras_dccl.export.export_litert import export_litert
from keras_dccl.export.export_litert import export_lookup
from keras_dccl.export.export_litert import exported_id_order
from keras_dccl.export.export_litert import strip_codebook_embeddings
from keras_dccl.export.export_options import check_export_options
from keras_dccl.export.litert_runner import LiteRTRunner
from keras_dccl.export.text_to_ids import text_interpreter
from keras_dccl.export.tflite_file import TFLiteFile

__all__ = [
    "EdgeTPUProblem",
    "LiteRTRunner",
    "TFLiteFile",
    "check_edgetpu",
    "check_export_options",
    "export_and_verify",
    "export_edgetpu",
    "export_litert",
    "export_lookup",
    "exported_id_order",
    "run_edgetpu_split",
    "strip_codebook_embeddings",
    "text_interpreter",
]


def __getattr__(name):
    # Renamed in 0.2; the old name stays for one release.
    if name == "TFLiteModel":
        warnings.warn(
            "`keras_dccl.export.TFLiteModel` is deprecated: use "
            "`keras_dccl.export.TFLiteFile` (the same class, renamed).",
            DeprecationWarning,
            stacklevel=2,
        )
        return TFLiteFile
    raise AttributeError(
        f"module 'keras_dccl.export' has no attribute {name!r}"
    )
