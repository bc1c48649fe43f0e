from keras_dccl.layers.adaptive_codebook_embedding import (
    AdaptiveCodebookEmbedding,
)
from keras_dccl.layers.codebook_decoder import CodebookDecoder
from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.layers.gumbel_softmax_encoder import GumbelSoftmaxEncoder

__all__ = [
    "AdaptiveCodebookEmbedding",
    "CodebookDecoder",
    "CodebookEmbedding",
    "GumbelSoftmaxEncoder",
]
