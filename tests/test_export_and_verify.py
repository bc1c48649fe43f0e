"""`export_and_verify`: export, run with LiteRT, compare with Keras."""

import keras
import numpy as np
import pytest

from keras_dccl.compressed_table import CompressedTable
from keras_dccl.export.export_and_verify import TOLERANCES
from keras_dccl.export.export_and_verify import Verification
from keras_dccl.export.export_and_verify import export_and_verify
from keras_dccl.layers.adaptive_codebook_embedding import (
    AdaptiveCodebookEmbedding,
)
from keras_dccl.layers.codebook_embedding import CodebookEmbedding

LENGTH, WORDS = 6, 80
TOKENS = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(WORDS - 2)]


def classifier(embedding):
    keras.utils.set_random_seed(0)
    ids = keras.Input((LENGTH,), dtype="int32")
    vectors = keras.layers.GlobalAveragePooling1D()(embedding(ids))
    return keras.Model(ids, keras.layers.Dense(3)(vectors))


def word_ids(rows=8):
    return np.random.default_rng(1).integers(0, WORDS, (rows, LENGTH))


@pytest.fixture(scope="module")
def model():
    return classifier(CodebookEmbedding(WORDS, 8, 4, 16, seed=2))


@pytest.mark.parametrize("quantize", ["none", "int8"])
def test_differences_within_their_bounds(tmp_path, model, quantize):
    ids = word_ids()
    result = export_and_verify(
        model, tmp_path / "m.tflite", ids, quantize=quantize, batch_size=2
    )
    assert result.passed and (tmp_path / "m.tflite").exists()
    (output,) = result.outputs
    reference = model.predict(ids, verbose=0)
    assert output.bound == pytest.approx(
        TOLERANCES[quantize] * np.abs(reference).max()
    )
    assert output.max_difference <= output.bound
    if quantize == "int8":
        assert output.max_difference > 0  # the codebooks are rounded
    assert "max abs difference" in str(result) and ": ok" in str(result)


def test_adaptive_ids_are_renumbered_for_the_file(tmp_path):
    model = classifier(AdaptiveCodebookEmbedding(WORDS, 8, seed=3))
    result = export_and_verify(
        model, tmp_path / "a.tflite", word_ids(), "none", vocabulary=TOKENS
    )
    assert result.outputs[0].max_difference < 1e-5


def test_lookup_model_compared_with_reconstruct(tmp_path):
    rng = np.random.default_rng(0)
    table = CompressedTable(
        rng.integers(0, 16, (WORDS, 4)).astype(np.uint8),
        rng.standard_normal((4, 16, 8)).astype(np.float32),
    )
    result = export_and_verify(table, tmp_path / "l.tflite", word_ids())
    assert result.passed and result.outputs[0].max_difference > 0


def test_a_difference_beyond_the_bound_is_reported(tmp_path, model):
    path = tmp_path / "m.tflite"
    with pytest.raises(RuntimeError, match="max abs difference .* FAILED"):
        export_and_verify(model, path, word_ids(), tolerance=0.0)
    assert path.exists()  # kept, to inspect
    result = export_and_verify(
        model, path, word_ids(), tolerance=0.0, raise_on_failure=False
    )
    assert not result.passed
    (output,) = result.outputs
    assert output.bound == 0 < output.max_difference


def test_wrong_outputs_are_reported():
    reference = np.ones((4, 3), np.float32)
    wrong = [
        ([reference[:, :2]], "shape (4, 2), expected (4, 3)"),
        ([reference, reference], "2 LiteRT outputs for 1 Keras outputs"),
        ({"other": reference}, "no LiteRT output"),
    ]
    for outputs, message in wrong:
        result = Verification.compare(
            {"logits": reference} if isinstance(outputs, dict) else reference,
            outputs,
            "none",
        )
        assert not result.passed
        assert "FAILED" in str(result) and message in str(result), result
    flipped = reference * np.array([1.0, 2.0, 3.0])
    result = Verification.compare(flipped, [flipped[:, ::-1]], "full_int8")
    assert result.outputs[0].argmax_agreement == 0.0 and not result.passed


def test_bad_inputs_write_nothing(tmp_path, model):
    path = tmp_path / "m.tflite"
    for inputs, options, message in [
        (word_ids(5), {"batch_size": 2}, "whole number of batches"),
        (word_ids(), {"quantize": "int3"}, "`quantize` must be one of"),
        (word_ids(), {"tolerance": -1.0}, "`tolerance` must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            export_and_verify(model, path, inputs, **options)
    assert not path.exists()
