"""keras-dccl: word embeddings as learned discrete codes, for Keras 3.

Shu & Nakayama, "Compressing Word Embeddings via Deep Compositional Code
Learning", ICLR 2018.
"""

from keras_dccl.callbacks.temperature_schedule import TemperatureSchedule
from keras_dccl.compressed_embedding import ArtifactError
from keras_dccl.compressed_embedding import CompressedEmbedding
from keras_dccl.compression.compress import RECIPES
from keras_dccl.compression.compress import compress
from keras_dccl.layers.adaptive_codebook_embedding import (
    AdaptiveCodebookEmbedding,
)
from keras_dccl.layers.codebook_decoder import CodebookDecoder
from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.layers.gumbel_softmax_encoder import GumbelSoftmaxEncoder
from keras_dccl.readers.glove_package import load_glove_package
from keras_dccl.readers.read_vectors import read_vectors
from keras_dccl.readers.rotten_tomatoes import load_rotten_tomatoes
from keras_dccl.readers.vector_file_error import VectorFileError
from keras_dccl.text.word_tokenizer import WordTokenizer
from keras_dccl.version import __version__

__all__ = [
    "AdaptiveCodebookEmbedding",
    "ArtifactError",
    "CodebookDecoder",
    "CodebookEmbedding",
    "CompressedEmbedding",
    "GumbelSoftmaxEncoder",
    "RECIPES",
    "TemperatureSchedule",
    "VectorFileError",
    "WordTokenizer",
    "__version__",
    "compress",
    "load_glove_package",
    "load_rotten_tomatoes",
    "read_vectors",
]
