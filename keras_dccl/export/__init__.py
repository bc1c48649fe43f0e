"""TFLite / LiteRT export. Imports TensorFlow, so users import it on demand."""

from keras_dccl.export.export_litert import export_litert
from keras_dccl.export.export_litert import export_lookup
from keras_dccl.export.export_litert import strip_codebook_embeddings
from keras_dccl.export.tflite_model import TFLiteModel

__all__ = [
    "TFLiteModel",
    "export_litert",
    "export_lookup",
    "strip_codebook_embeddings",
]
