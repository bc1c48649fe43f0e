from keras_dccl.readers.glove_package import load_glove_package
from keras_dccl.readers.read_vectors import read_vectors
from keras_dccl.readers.rotten_tomatoes import load_rotten_tomatoes
from keras_dccl.readers.vector_file_error import VectorFileError

__all__ = [
    "VectorFileError",
    "load_glove_package",
    "load_rotten_tomatoes",
    "read_vectors",
]
