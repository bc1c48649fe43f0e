"""Deprecated module: the artifact is `keras_dccl.CompressedTable` now.

Kept for one release so that `from keras_dccl.compressed_embedding import
CompressedEmbedding` still works.
"""

import warnings

from keras_dccl.compressed_table import ArtifactError  # noqa: F401
from keras_dccl.compressed_table import CompressedTable

CompressedEmbedding = CompressedTable

warnings.warn(
    "`keras_dccl.compressed_embedding` is deprecated: use "
    "`keras_dccl.CompressedTable` (the same class, renamed).",
    DeprecationWarning,
    stacklevel=2,
)
