import dataclasses
import itertools

import numpy as np
import pytest

from keras_dccl.compression.beam_search import beam_encode
from keras_dccl.compression.beam_search import residual_beam_start
from keras_dccl.compression.compress import RECIPES
from keras_dccl.compression.compress import compress
from keras_dccl.compression.local_search import least_squares_codebooks
from keras_dccl.compression.residual_kmeans import progressive_kmeans
from keras_dccl.compression.residual_kmeans import residual_encode
from keras_dccl.compression.residual_kmeans import residual_kmeans
from keras_dccl.readers.glove_package import load_glove_package


def squared_errors(vectors, codes, codebooks):
    rebuilt = sum(codebooks[m][codes[:, m]] for m in range(codes.shape[1]))
    return np.square(vectors.astype(np.float64) - rebuilt).sum(axis=1)


@pytest.fixture(scope="module")
def glove():
    return load_glove_package(1500)[1]


def test_wide_beam_is_exhaustive_and_beam_one_is_greedy():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((40, 5)).astype(np.float32)
    codebooks = rng.standard_normal((3, 4, 5)).astype(np.float32)
    every = np.array(list(itertools.product(range(4), repeat=3)))
    rebuilt = sum(codebooks[m][every[:, m]] for m in range(3))
    best = np.square(vectors[:, None] - rebuilt[None]).sum(-1).min(axis=1)
    codes = beam_encode(vectors, codebooks, beam_size=64)
    np.testing.assert_allclose(
        squared_errors(vectors, codes, codebooks), best, rtol=1e-5
    )
    np.testing.assert_array_equal(
        beam_encode(vectors, codebooks, beam_size=1),
        residual_encode(vectors, codebooks),
    )
    narrow = squared_errors(
        vectors, beam_encode(vectors, codebooks, 2), codebooks
    )
    assert (narrow >= best - 1e-5).all() and (narrow > best + 1e-6).any()


def test_least_squares_codebooks_match_a_dense_solve():
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((900, 6)).astype(np.float32)
    codes = rng.integers(0, 4, (900, 3)).astype(np.uint8)
    codes[:, 2] = np.minimum(codes[:, 2], 2)  # code 3 of codebook 2 unused
    weights = rng.uniform(0.0, 2.0, 900).astype(np.float32)
    codebooks = np.full((3, 4, 6), 7.0, np.float32)
    least_squares_codebooks(vectors, codes, codebooks, weights, chunk_size=256)
    design = np.zeros((900, 12))
    design[np.arange(900)[:, None], codes + np.array([0, 4, 8])] = 1.0
    root = np.sqrt(weights)[:, None]
    solution = np.linalg.lstsq(design * root, vectors * root, rcond=None)[0]
    np.testing.assert_allclose(
        design @ codebooks.reshape(12, 6), design @ solution, atol=1e-4
    )
    np.testing.assert_array_equal(codebooks[2, 3], np.full(6, 7.0))


def test_progressive_kmeans_finds_separated_clusters():
    rng = np.random.default_rng(2)
    centres = np.zeros((3, 20), np.float32)
    centres[1, 0], centres[2, 1] = 10.0, 10.0
    labels = rng.integers(0, 3, 600)
    points = centres[labels] + 0.1 * rng.standard_normal((600, 20))
    centroids = progressive_kmeans(points.astype(np.float32), 3, 5, rng)
    distances = np.linalg.norm(centroids[:, None] - centres[None], axis=-1)
    assert distances.min(axis=0).max() < 0.1


def test_beam_start_beats_residual_kmeans(glove):
    rng = np.random.default_rng(0)
    greedy_codes, greedy = residual_kmeans(glove, 8, 16, 10, rng)
    codes, codebooks = residual_beam_start(glove, 8, 16, 8, 10, rng)
    beam_errors = squared_errors(glove, codes, codebooks)
    assert beam_errors.mean() < 0.95 * squared_errors(
        glove, greedy_codes, greedy
    ).mean()
    # The returned codes are the beam search's under the returned codebooks.
    np.testing.assert_allclose(
        beam_errors,
        squared_errors(glove, beam_encode(glove, codebooks, 8), codebooks),
        rtol=1e-4,
    )


def test_rows_beyond_max_training_rows_get_codes(glove, tmp_path):
    path = tmp_path / "table.npy"
    np.save(path, glove)
    table = np.load(path, mmap_mode="r")
    recipe = dataclasses.replace(
        RECIPES["beam"], max_training_rows=500, search_iterations=2
    )
    sampled = compress(table, 4, 16, recipe=recipe, verbose=0)
    full = compress(
        glove,
        4,
        16,
        recipe=dataclasses.replace(recipe, max_training_rows=None),
        verbose=0,
    )  # fmt: skip
    errors = np.sqrt(squared_errors(glove, sampled.codes, sampled.codebooks))
    np.testing.assert_allclose(
        sampled.metadata["mean_distance"], errors.mean(), rtol=1e-5
    )
    # Codes learned on a third of the rows fit the rest nearly as well.
    assert sampled.metadata["mean_distance"] < 1.05 * full.metadata[
        "mean_distance"
    ]
