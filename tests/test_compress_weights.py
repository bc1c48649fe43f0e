import dataclasses

import numpy as np
import pytest

from keras_dccl.compression.compress import RECIPES
from keras_dccl.compression.compress import compress
from keras_dccl.readers.glove_package import load_glove_package

SHORT = dataclasses.replace(RECIPES["search"], search_iterations=6)


@pytest.fixture(scope="module")
def vectors():
    return load_glove_package(1500)[1]


def row_distances(compressed, vectors):
    rebuilt = sum(
        compressed.codebooks[m][compressed.codes[:, m]]
        for m in range(compressed.num_codebooks)
    )
    return np.linalg.norm(vectors.astype(np.float64) - rebuilt, axis=1)


def test_a_heavily_weighted_row_gets_better_codes(vectors):
    plain = compress(vectors, 4, 16, recipe=SHORT, verbose=0)
    distances = row_distances(plain, vectors)
    # The worst-reconstructed row, made to count as much as 2,000 others.
    row = int(distances.argmax())
    weights = np.ones(len(vectors))
    weights[row] = 2000.0
    weighted = compress(
        vectors, 4, 16, recipe=SHORT, weights=weights, verbose=0
    )
    weighted_distances = row_distances(weighted, vectors)
    assert not np.array_equal(weighted.codes[row], plain.codes[row])
    assert weighted_distances[row] < 0.5 * distances[row]
    # The other rows pay for it, but only a little on average.
    others = np.arange(len(vectors)) != row
    assert weighted_distances[others].mean() > distances[others].mean()
    assert weighted_distances[others].mean() < 1.1 * distances[others].mean()
    # Both metrics are reported, against an independent computation.
    metadata = weighted.metadata
    np.testing.assert_allclose(
        metadata["mean_distance"], weighted_distances.mean(), rtol=1e-5
    )
    np.testing.assert_allclose(
        metadata["weighted_mean_distance"],
        np.average(weighted_distances, weights=weights),
        rtol=1e-5,
    )
    assert "weighted_mean_distance" not in plain.metadata


def test_uniform_weights_change_nothing(vectors):
    plain = compress(vectors[:600], 4, 8, recipe=SHORT, verbose=0)
    uniform = compress(
        vectors[:600], 4, 8, recipe=SHORT, weights=np.full(600, 3.0), verbose=0
    )
    np.testing.assert_array_equal(plain.codes, uniform.codes)
    np.testing.assert_allclose(
        uniform.metadata["weighted_mean_distance"],
        uniform.metadata["mean_distance"],
        rtol=1e-6,
    )


def test_bad_weights_are_refused(vectors):
    table = vectors[:100]
    cases = [
        (np.ones(99), "one number per row"),
        (np.ones((100, 1)), "one number per row"),
        (np.r_[-1.0, np.ones(99)], "non-negative"),
        (np.r_[np.nan, np.ones(99)], "finite"),
        (np.zeros(100), "all be zero"),
    ]
    for weights, message in cases:
        with pytest.raises(ValueError, match=message):
            compress(table, 2, 4, weights=weights, verbose=0)
