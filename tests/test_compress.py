import dataclasses

import numpy as np
import pytest

from keras_dccl.compression import local_search
from keras_dccl.compression.compress import RECIPES
from keras_dccl.compression.compress import compress
from keras_dccl.compression.compress import default_recipe
from keras_dccl.compression.gumbel_training import GumbelCodeLearner
from keras_dccl.readers.glove_package import load_glove_package

SEARCH = dataclasses.replace(RECIPES["search"], search_iterations=15)
ANNEAL = dataclasses.replace(RECIPES["anneal"], search_iterations=4)
TINY_GUMBEL = dataclasses.replace(
    RECIPES["gumbel_search"],
    gumbel=dataclasses.replace(
        RECIPES["gumbel_search"].gumbel, epochs=3, batch_size=128
    ),
    search_iterations=2,
)


@pytest.fixture(scope="module")
def glove():
    return load_glove_package(2000)


def mean_distance_to_mean(vectors):
    return np.linalg.norm(vectors - vectors.mean(axis=0), axis=1).mean()


def test_search_beats_residual_kmeans_and_the_mean(glove):
    words, vectors = glove
    baseline = compress(vectors, 8, 16, recipe="residual_kmeans", verbose=0)
    learned = compress(
        vectors, 8, 16, recipe=SEARCH, vocabulary=words, verbose=0
    )
    reference = mean_distance_to_mean(vectors)
    assert learned.metadata["mean_distance"] < 0.6 * reference
    assert (
        learned.metadata["mean_distance"]
        < 0.975 * baseline.metadata["mean_distance"]
    )
    # The metadata agrees with an independent NumPy reconstruction.
    rebuilt = sum(learned.codebooks[m][learned.codes[:, m]] for m in range(8))
    distance = np.linalg.norm(vectors - rebuilt, axis=1).mean()
    np.testing.assert_allclose(
        learned.metadata["mean_distance"], distance, rtol=1e-5
    )
    assert learned.vocabulary == words
    assert learned.codes.dtype == np.uint8
    assert learned.codes.max() < 16


def test_annealed_search_finds_a_better_basin_at_small_m(glove):
    # 2,000 GloVe words at M=8: the plain search levels off (its patience
    # stops it) 7% above where the annealed codebooks lead.
    _, vectors = glove
    plain = compress(vectors, 8, 16, recipe="beam", verbose=0)
    annealed = compress(vectors, 8, 16, recipe="anneal", verbose=0)
    assert (
        annealed.metadata["mean_distance"]
        < 0.98 * plain.metadata["mean_distance"]
    )


@pytest.mark.parametrize(
    "num_codebooks, expected", [(12, "anneal"), (13, "beam")]
)
def test_default_recipe_anneals_with_at_most_a_code_bit_a_dimension(
    glove, num_codebooks, expected
):
    # 50 dimensions: 12 codes of 4 bits are 48 bits, 13 are 52.
    _, vectors = glove
    compressed = compress(vectors[:300], num_codebooks, 16, verbose=0)
    assert compressed.metadata["recipe"] == expected
    assert default_recipe(num_codebooks, 16, 50) == expected


def test_noise_keeps_the_search_going_past_its_patience(glove, monkeypatch):
    _, vectors = glove
    calls = []
    original = local_search.least_squares_codebooks

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(local_search, "least_squares_codebooks", counted)
    for noise in (0.0, 0.5):
        recipe = dataclasses.replace(
            SEARCH, search_iterations=7, search_patience=0, search_noise=noise
        )
        calls.clear()
        compress(vectors[:500], 4, 8, recipe=recipe, verbose=0)
        # One update a search iteration, then the refit on all rows.
        assert len(calls) == (8 if noise else 2)


def test_same_seed_same_codes_other_seed_other_codes(glove):
    _, vectors = glove
    first = compress(vectors[:500], 4, 8, recipe=SEARCH, seed=3, verbose=0)
    second = compress(vectors[:500], 4, 8, recipe=SEARCH, seed=3, verbose=0)
    third = compress(vectors[:500], 4, 8, recipe=SEARCH, seed=4, verbose=0)
    np.testing.assert_array_equal(first.codes, second.codes)
    np.testing.assert_array_equal(first.codebooks, second.codebooks)
    assert not np.array_equal(first.codes, third.codes)


class Interrupt(Exception):
    pass


def interrupt_after(monkeypatch, target, name, calls):
    original = getattr(target, name)
    count = {"calls": 0}

    def wrapper(*args, **kwargs):
        count["calls"] += 1
        if count["calls"] > calls:
            raise Interrupt()
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)


@pytest.mark.parametrize(
    "recipe, target, name, calls",
    [
        (SEARCH, local_search, "least_squares_codebooks", 3),
        (ANNEAL, local_search, "least_squares_codebooks", 3),
        (TINY_GUMBEL, GumbelCodeLearner, "train_epoch", 2),
    ],
    ids=["search", "anneal", "gumbel_search"],
)
def test_interrupted_run_resumes_to_the_same_result(
    glove, tmp_path, monkeypatch, recipe, target, name, calls
):
    _, vectors = glove
    vectors = vectors[:600]
    expected = compress(vectors, 4, 8, recipe=recipe, verbose=0)
    checkpoint = tmp_path / "job.checkpoint.npz"
    with monkeypatch.context() as patch:
        interrupt_after(patch, target, name, calls)
        with pytest.raises(Interrupt):
            compress(
                vectors,
                4,
                8,
                recipe=recipe,
                checkpoint_path=str(checkpoint),
                verbose=0,
            )
    assert checkpoint.exists()
    resumed = compress(
        vectors, 4, 8, recipe=recipe, checkpoint_path=str(checkpoint)
    )
    np.testing.assert_array_equal(resumed.codes, expected.codes)
    np.testing.assert_allclose(resumed.codebooks, expected.codebooks)
    assert not checkpoint.exists()


def test_without_validation_the_search_monitors_training_rows(glove):
    _, vectors = glove
    recipe = dataclasses.replace(SEARCH, search_patience=1)
    no_split = compress(
        vectors[:800], 4, 8, recipe=recipe, validation_split=0.0, verbose=0
    )
    # Still improves on residual k-means: early stopping saw real progress.
    rkm = compress(
        vectors[:800], 4, 8, recipe="residual_kmeans", verbose=0
    ).metadata["mean_distance"]
    assert no_split.metadata["mean_distance"] < 0.99 * rkm


def test_checkpoint_of_another_job_is_refused(glove, tmp_path, monkeypatch):
    _, vectors = glove
    checkpoint = str(tmp_path / "job.checkpoint.npz")
    with monkeypatch.context() as patch:
        interrupt_after(patch, local_search, "least_squares_codebooks", 1)
        with pytest.raises(Interrupt):
            compress(
                vectors[:300],
                4,
                8,
                recipe=SEARCH,
                checkpoint_path=checkpoint,
                verbose=0,
            )
    with pytest.raises(ValueError, match="belongs to another job"):
        compress(
            vectors[:300],
            4,
            8,
            recipe=SEARCH,
            seed=1,
            checkpoint_path=checkpoint,
            verbose=0,
        )


def test_gumbel_recipe_learns_codes_from_the_encoder(glove):
    _, vectors = glove
    recipe = dataclasses.replace(TINY_GUMBEL, search_iterations=0)
    result = compress(vectors[:1000], 4, 8, recipe=recipe, verbose=0)
    reference = mean_distance_to_mean(vectors[:1000])
    assert result.metadata["mean_distance"] < reference
    assert len(np.unique(result.codes[:, 0])) > 1


def test_a_recipe_needs_a_start():
    with pytest.raises(ValueError, match="needs a start"):
        dataclasses.replace(RECIPES["search"], kmeans_iterations=0)


def test_paper_recipe_settings_are_the_authors():
    settings = RECIPES["paper"].gumbel
    assert (settings.learning_rate, settings.global_clipnorm) == (1e-4, 1e-3)
    assert (settings.batch_size, settings.epochs) == (64, 200)
    assert settings.start_temperature == settings.end_temperature == 1.0
    assert not settings.straight_through
    assert RECIPES["paper"].kmeans_iterations == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_codebooks": 0}, "num_codebooks"),
        ({"num_codebooks": True}, "num_codebooks"),
        ({"num_codebooks": 2.5}, "num_codebooks"),
        ({"codebook_size": 1}, "codebook_size"),
        ({"codebook_size": 512}, "codebook_size"),
        ({"codebook_size": 12}, "power of two"),
        ({"recipe": "fastest"}, "recipe"),
        ({"validation_split": 0.7}, "validation_split"),
        ({"seed": -1}, "seed"),
        ({"vectors": np.zeros(10)}, "2-D"),
        ({"vectors": np.full((20, 3), np.nan)}, "NaN"),
        ({"vectors": np.zeros((4, 3))}, "at least"),
    ],
)
def test_bad_arguments(kwargs, message):
    arguments = {"vectors": np.ones((64, 4), np.float32), "verbose": 0}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        compress(**arguments)
