"""keras-dccl: word embeddings as learned discrete codes, for Keras 3.

Shu & Nakayama, "Compressing Word Embeddings via Deep Compositional Code
Learning", ICLR 2018.

The public names live in sub-packages grouped by role, as in Keras and
KerasHub:

- `keras_dccl.readers`: `read_vectors`, `load_glove_package`,
  `load_rotten_tomatoes`, `VectorFileError`;
- `keras_dccl.compression`: `compress`, `Recipe`, `RECIPES`, `default_recipe`,
  `GumbelSettings` (NumPy only);
- `keras_dccl.CompressedTable`, `keras_dccl.ArtifactError`: the NumPy
  artifact of a compressed table and its error;
- `keras_dccl.layers`: `CodebookEmbedding`, `AdaptiveCodebookEmbedding`,
  `CodebookDecoder`, `GumbelSoftmaxEncoder`;
- `keras_dccl.callbacks`: `TemperatureSchedule`;
- `keras_dccl.models`: `compress_model`, `distill` and the other
  model-level steps;
- `keras_dccl.text`: `WordTokenizer`, `read_vocabulary`, `split_words`;
- `keras_dccl.distribution`: `codebook_layout_map`;
- `keras_dccl.export`: `export_litert`, `text_interpreter`,
  `LiteRTRunner`, `TFLiteFile`, the Edge TPU split (imports TensorFlow).

The few main entry points are also here, at the top: `compress`,
`compress_model`, `distill`, `read_vectors`, `CodebookEmbedding`,
`AdaptiveCodebookEmbedding`, `CompressedTable`, `ArtifactError`. Every name
is loaded on first use, so `import keras_dccl` is quick: the NumPy path
(reading, `compress`, the artifact) never loads Keras or TensorFlow.
"""

import importlib
import sys
import warnings

from keras_dccl.version import __version__  # noqa: F401

# Top-level shortcut -> module that defines it.
_LAZY_NAMES = {
    "AdaptiveCodebookEmbedding": "keras_dccl.layers",
    "ArtifactError": "keras_dccl.compressed_table",
    "CodebookEmbedding": "keras_dccl.layers",
    "CompressedTable": "keras_dccl.compressed_table",
    "compress": "keras_dccl.compression",
    "compress_model": "keras_dccl.models",
    "distill": "keras_dccl.models",
    "read_vectors": "keras_dccl.readers",
}

# Names that were at the top level before 0.2 -> (module, name there): they
# still work for one release, with a DeprecationWarning.
_MOVED_NAMES = {
    "CodebookDecoder": ("keras_dccl.layers", "CodebookDecoder"),
    "CompressedEmbedding": ("keras_dccl.compressed_table", "CompressedTable"),
    "GumbelSoftmaxEncoder": ("keras_dccl.layers", "GumbelSoftmaxEncoder"),
    "RECIPES": ("keras_dccl.compression", "RECIPES"),
    "TemperatureSchedule": ("keras_dccl.callbacks", "TemperatureSchedule"),
    "VectorFileError": ("keras_dccl.readers", "VectorFileError"),
    "WordTokenizer": ("keras_dccl.text", "WordTokenizer"),
    "load_glove_package": ("keras_dccl.readers", "load_glove_package"),
    "load_rotten_tomatoes": ("keras_dccl.readers", "load_rotten_tomatoes"),
}

# Sub-packages (and the artifact's module) reachable as attributes.
_SUBPACKAGES = (
    "callbacks",
    "compressed_table",
    "compression",
    "distribution",
    "export",
    "layers",
    "models",
    "readers",
    "text",
    "utils",
)

__all__ = sorted([*_LAZY_NAMES, "__version__"])


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"keras_dccl.{name}")
    if name in _MOVED_NAMES:
        module_name, new_name = _MOVED_NAMES[name]
        warnings.warn(
            f"`keras_dccl.{name}` is deprecated: use "
            f"`{module_name}.{new_name}`.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module_name), new_name)
    module_name = _LAZY_NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'keras_dccl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*__all__, *_SUBPACKAGES])


# A `.keras` file finds the layers by their registered names. When Keras is
# loaded already (`import keras` then `import keras_dccl`, as isort orders
# them), register them now, at no cost; otherwise importing
# `keras_dccl.layers` (or touching a layer) registers them.
if "keras" in sys.modules:
    importlib.import_module("keras_dccl.layers")
