"""`check_export_options`: each bad option fails with its one-line error."""

import keras
import numpy as np
import pytest

from keras_dccl.export.export_litert import export_litert
from keras_dccl.export.export_options import check_export_options
from keras_dccl.layers.adaptive_codebook_embedding import (
    AdaptiveCodebookEmbedding,
)
from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.text.word_tokenizer import WordTokenizer

LENGTH, WORDS = 6, 50
VOCABULARY = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(WORDS - 2)]


def pooled(embedding, dtype="int32", length=LENGTH):
    ids = keras.Input((length,), dtype=dtype, name="ids")
    vectors = keras.layers.GlobalAveragePooling1D()(embedding(ids))
    return keras.Model(ids, keras.layers.Dense(2)(vectors))


@pytest.fixture(scope="module")
def models():
    first = keras.Input((LENGTH,), dtype="int32", name="first")
    second = keras.Input((LENGTH,), dtype="int32", name="second")

    def adaptive():
        return AdaptiveCodebookEmbedding(WORDS, 4, learn_codes=False, seed=1)

    return {
        "model": pooled(CodebookEmbedding(WORDS, 4, 2, 16, seed=0)),
        "wide": pooled(CodebookEmbedding(WORDS, 4, 2, 32, seed=0)),
        "floats": pooled(CodebookEmbedding(WORDS, 4, 2, 16), "float32"),
        "adaptive": pooled(adaptive()),
        "two_adaptive": keras.Model(
            [first, second], [adaptive()(first), adaptive()(second)]
        ),
        # The adaptive layer's renumbered ids would reach the other one.
        "adaptive_and_other": keras.Model(
            first,
            adaptive()(first) + CodebookEmbedding(WORDS, 4, 2, 16)(first),
        ),
        "two_inputs": keras.Model(
            [first, second],
            CodebookEmbedding(WORDS, 4, 2, 16)(first)
            + keras.ops.cast(second[..., None], "float32"),
        ),
    }


def ids(rows=4, high=WORDS, length=LENGTH):
    return np.random.default_rng(0).integers(0, high, (rows, length))


def test_each_bad_option_has_its_one_line_error(models):
    short = WordTokenizer(VOCABULARY, LENGTH - 1)
    cases = [
        ("unbuilt", {"model": CodebookEmbedding(WORDS, 4)}, "built Keras"),
        ("two adaptive", {"model": "two_adaptive"}, "supports one"),
        (
            "adaptive and another",
            {"model": "adaptive_and_other", "vocabulary": VOCABULARY},
            "only code embedding",
        ),
        ("float inputs", {"model": "floats"}, "integer word ids"),
        ("pairs", {"model": "wide", "codebook_pairs": True}, "size <= 16"),
        ("quantize", {"quantize": "int4"}, "`quantize` must be one of"),
        ("dtype", {"codebook_dtype": "int4"}, "`codebook_dtype` must be"),
        ("length 0", {"sequence_length": 0}, "`sequence_length` must be"),
        ("length bool", {"sequence_length": True}, "`sequence_length` must"),
        ("batch 0", {"batch_size": 0}, "`batch_size` must be"),
        ("length", {"sequence_length": 9}, "does not match the model input"),
        ("calibration", {"quantize": "full_int8"}, "needs `representative"),
        (
            "calibration inputs",
            {"model": "two_inputs", "quantize": "full_int8",
             "representative_inputs": {"first": ids(), "second": ids()}},
            "calibrates models with one input",
        ),
        (
            "input names",
            {"model": "two_inputs", "representative_inputs": {"x": ids()}},
            "dict of arrays by input name",
        ),
        ("floats", {"representative_inputs": ids() * 0.5}, "integer array"),
        ("shape", {"representative_inputs": ids(length=3)}, r"\(N, 6\)"),
        ("range", {"representative_inputs": ids(high=99)}, r"in \[0, 50\)"),
        (
            "rows",
            {"representative_inputs": ids(rows=2), "batch_size": 3},
            "at least `batch_size`",
        ),
        ("tokenizer", {"tokenizer": VOCABULARY}, "`WordTokenizer`"),
        (
            "tokenizer full_int8",
            {"tokenizer": short, "quantize": "full_int8",
             "representative_inputs": ids()},
            "cannot be exported full_int8",
        ),
        ("tokenizer length", {"tokenizer": short}, "model input length 6"),
        ("no vocabulary", {"model": "adaptive"}, "pass `vocabulary=`"),
        (
            "vocabulary",
            {"model": "adaptive", "vocabulary": VOCABULARY[:3]},
            "has 3 tokens",
        ),
    ]  # fmt: skip
    for case, options, message in cases:
        options = {"model": "model", **options}
        model = options.pop("model")
        model = models.get(model, model) if isinstance(model, str) else model
        with pytest.raises(ValueError, match=message) as error:
            check_export_options(model, **options)
        text = str(error.value)
        assert "\n" not in text and "Received: " in text, (case, text)


def test_good_options_pass(models):
    tokenizer = WordTokenizer(VOCABULARY, LENGTH)
    good = [
        ("model", {}),
        ("model", {"quantize": "full_int8", "representative_inputs": ids()}),
        ("model", {"sequence_length": LENGTH, "batch_size": 2}),
        ("model", {"tokenizer": tokenizer, "codebook_pairs": True}),
        ("adaptive", {"vocabulary": VOCABULARY}),
        ("adaptive", {"tokenizer": tokenizer}),
        ("two_inputs", {"representative_inputs": {"first": ids(),
                                                  "second": ids()}}),
    ]  # fmt: skip
    for name, options in good:
        assert check_export_options(models[name], **options) is None


def test_export_litert_checks_first(models, tmp_path):
    path = tmp_path / "m.tflite"
    with pytest.raises(ValueError, match="in \\[0, 50\\)"):
        export_litert(
            models["model"],
            path,
            quantize="full_int8",
            representative_inputs=ids(high=99),
        )
    assert not path.exists()
