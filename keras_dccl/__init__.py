"""keras-dccl: word embeddings as learned discrete codes, for Keras 3.

Shu & Nakayama, "Compressing Word Embeddings via Deep Compositional Code
Learning", ICLR 2018.

Every public name is loaded on first use, so `import keras_dccl` is quick:
`compress`, `CompressedEmbedding` and the readers need only NumPy, while the
layers, callbacks and model recipes load Keras (and TensorFlow) when first
touched.
"""

import importlib
import os
import sys

from keras_dccl.version import __version__  # noqa: F401

# Public name -> module that defines it.
_LAZY_NAMES = {
    "AdaptiveCodebookEmbedding": (
        "keras_dccl.layers.adaptive_codebook_embedding"
    ),
    "ArtifactError": "keras_dccl.compressed_embedding",
    "CodebookDecoder": "keras_dccl.layers.codebook_decoder",
    "CodebookEmbedding": "keras_dccl.layers.codebook_embedding",
    "CompressedEmbedding": "keras_dccl.compressed_embedding",
    "GumbelSoftmaxEncoder": "keras_dccl.layers.gumbel_softmax_encoder",
    "RECIPES": "keras_dccl.compression.compress",
    "TemperatureSchedule": "keras_dccl.callbacks.temperature_schedule",
    "VectorFileError": "keras_dccl.readers.vector_file_error",
    "WordTokenizer": "keras_dccl.text.word_tokenizer",
    "compress": "keras_dccl.compression.compress",
    "compress_model": "keras_dccl.models.compress_model",
    "distill": "keras_dccl.models.distill",
    "load_glove_package": "keras_dccl.readers.glove_package",
    "load_rotten_tomatoes": "keras_dccl.readers.rotten_tomatoes",
    "read_vectors": "keras_dccl.readers.read_vectors",
}

# Sub-packages reachable as attributes, as when this file imported them.
_SUBPACKAGES = (
    "callbacks",
    "compressed_embedding",
    "compression",
    "export",
    "layers",
    "models",
    "readers",
    "text",
    "utils",
)


def _defined(module_name):
    # Names of modules not written yet stay out of `__all__`, so that
    # `from keras_dccl import *` works while they are under way.
    parts = module_name.split(".")[1:]
    path = os.path.join(os.path.dirname(__file__), *parts) + ".py"
    return os.path.exists(path)


__all__ = sorted(
    [name for name, module in _LAZY_NAMES.items() if _defined(module)]
    + ["__version__"]
)


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"keras_dccl.{name}")
    module_name = _LAZY_NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'keras_dccl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__


# A `.keras` file finds the layers by their registered names. When Keras is
# loaded already (`import keras` then `import keras_dccl`, as isort orders
# them), register them now, at no cost; otherwise importing
# `keras_dccl.layers` (or touching a layer) registers them.
if "keras" in sys.modules:
    importlib.import_module("keras_dccl.layers")
