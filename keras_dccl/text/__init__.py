"""Word splitting and vocabularies shared by the models and the demos."""

from keras_dccl.text.word_tokenizer import WordTokenizer
from keras_dccl.text.word_tokenizer import read_vocabulary
from keras_dccl.text.word_tokenizer import split_words

__all__ = ["WordTokenizer", "read_vocabulary", "split_words"]
