"""Ids of real sentences for the export tests.

The sentences come from `keras_dccl.readers.load_rotten_tomatoes()`. Tokens are
lowercased words and punctuation, as in GloVe's vocabulary.
"""

import re

import numpy as np

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def encode(sentences, words, length):
    """Ids (N, length): 0 pads, 1 is out of vocabulary, word i is i + 2."""
    index = {word: position + 2 for position, word in enumerate(words)}
    ids = np.zeros((len(sentences), length), np.int32)
    for row, sentence in enumerate(sentences):
        tokens = TOKEN.findall(sentence.lower())[:length]
        ids[row, : len(tokens)] = [index.get(token, 1) for token in tokens]
    return ids
