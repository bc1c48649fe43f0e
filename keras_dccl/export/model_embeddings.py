"""Finds the layers an exporter replaces, for every exporter to share."""

from keras_dccl.layers.code_embedding_base import CodeEmbeddingBase


def find_codebook_embeddings(model):
    """The code embedding layers of `model`; raises if there is none."""
    embeddings = [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, CodeEmbeddingBase)
    ]
    if not embeddings:
        raise ValueError(
            f"Model '{model.name}' holds no CodebookEmbedding or "
            "AdaptiveCodebookEmbedding layer; export it with "
            "`model.export(path, format='litert')` instead."
        )
    return embeddings
