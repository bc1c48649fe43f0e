"""Finds the layers an exporter replaces, for every exporter to share."""

from keras_dccl.layers.code_embedding_base import CodeEmbeddingBase
from keras_dccl.utils.model_layers import model_layers


def find_codebook_embeddings(model):
    """The code embedding layers of `model`; raises if there is none."""
    embeddings = [
        layer
        for layer in model_layers(model)
        if isinstance(layer, CodeEmbeddingBase)
    ]
    if not embeddings:
        raise ValueError(
            f"Model '{model.name}' holds no CodebookEmbedding or "
            "AdaptiveCodebookEmbedding layer; export it with "
            "`model.export(path, format='litert')` instead."
        )
    return embeddings
