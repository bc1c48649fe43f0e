"""TFLite / LiteRT export. Imports TensorFlow, so users import it on demand."""

from keras_dccl.export.edgetpu import EdgeTPUProblem
from keras_dccl.export.edgetpu import check_edgetpu
from keras_dccl.export.edgetpu import export_edgetpu
from keras_dccl.export.edgetpu import run_edgetpu_split
from keras_dccl.export.export_litert import export_litert
from keras_dccl.export.export_litert import export_lookup
from keras_dccl.export.export_litert import exported_id_order
from keras_dccl.export.export_litert import strip_codebook_embeddings
from keras_dccl.export.litert_runner import LiteRTRunner
from keras_dccl.export.tflite_model import TFLiteModel

__all__ = [
    "EdgeTPUProblem",
    "LiteRTRunner",
    "TFLiteModel",
    "check_edgetpu",
    "export_edgetpu",
    "run_edgetpu_split",
    "export_litert",
    "export_lookup",
    "exported_id_order",
    "strip_codebook_embeddings",
]
