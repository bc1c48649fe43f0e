import importlib.util
import json
import os
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dccl.export import LiteRTRunner
from keras_dccl.export import TFLiteFile
from keras_dccl.export import export_litert
from keras_dccl.export import text_interpreter
from keras_dccl.export.text_to_ids import TEXT_CUSTOM_OPS
from keras_dccl.export.text_to_ids import TextToIds
from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.readers import load_rotten_tomatoes
from keras_dccl.text import WordTokenizer

LENGTH = 24
CONVERT_SCRIPT = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "tflite", "convert.py"
)
VECTORS = os.path.join(
    os.path.dirname(__file__), "data", "tokenizer_vectors.json"
)
# Beyond the Rotten Tomatoes snippets: empty, cut, unknown, non-ASCII.
EXOTIC_TEXTS = [
    "",
    "   ",
    "A fine film. " * 10,
    "Café naïve ÉCOLE straße",
    "中文 film 😀 good 👍🏽",
    "Don't... it’s “great” — not good?!",
    "ﬁne ﬂick ½ №1 ™ zero\u200bwidth\u00a0space",
    "qwertyuiop asdfghjkl",
]


@pytest.fixture(scope="module")
def sentences():
    sentences, _ = load_rotten_tomatoes()
    return sentences


@pytest.fixture(scope="module")
def tokenizer(sentences):
    return WordTokenizer.from_texts(sentences[:4000], LENGTH, max_words=3000)


def classifier(vocabulary_size, dtype="int32", seed=0):
    keras.utils.set_random_seed(seed)
    ids = keras.Input((LENGTH,), dtype=dtype, name="ids")
    x = CodebookEmbedding(vocabulary_size, 16, 8, 16, mask_zero=True)(ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(8, activation="relu")(x)
    return keras.Model(ids, keras.layers.Dense(2)(x))


def run_text_model(path, texts, batch_size=None):
    runner = text_interpreter(path).get_signature_runner()
    step = batch_size or len(texts)
    return np.concatenate(
        [
            runner(text=np.array(texts[start : start + step]))["output_0"]
            for start in range(0, len(texts), step)
        ]
    )


@pytest.mark.parametrize(
    "quantize, batch_size", [("none", None), ("int8", 1), ("float16", None)]
)
def test_text_model_matches_ids_model_and_keras(
    tmp_path, sentences, tokenizer, quantize, batch_size
):
    model = classifier(tokenizer.vocabulary_size)
    texts = sentences[6000:6300] + EXOTIC_TEXTS
    text_path = export_litert(
        model,
        tmp_path / "text.tflite",
        quantize=quantize,
        batch_size=batch_size,
        tokenizer=tokenizer,
    )
    ids_path = export_litert(
        model, tmp_path / "ids.tflite", quantize=quantize, batch_size=1
    )
    ids = tokenizer(texts)
    ids_runner = LiteRTRunner(ids_path)
    expected = np.concatenate([ids_runner(row[None])[0] for row in ids])
    result = run_text_model(text_path, texts, batch_size)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)
    if quantize == "none":
        # An all-padding row is a masked mean of nothing: NaN in TFLite,
        # while TensorFlow's RELU turns it to 0.
        words = ids.any(axis=1)
        np.testing.assert_allclose(
            result[words],
            model.predict(ids[words], verbose=0),
            rtol=0,
            atol=1e-5,
        )

    text_model = TFLiteFile(text_path)
    (text_input,) = text_model.inputs
    assert text_input.dtype == "STRING"
    assert text_input.shape_signature == (batch_size or -1,)
    custom = [name for name in text_model.op_names if "CUSTOM" in name]
    assert custom == [f"CUSTOM:{op}" for op in TEXT_CUSTOM_OPS]
    assert not [name for name in text_model.op_names if "Flex" in name]
    ids_model = TFLiteFile(ids_path)
    assert set(text_model.op_names) - set(ids_model.op_names) <= {
        *custom,
        "CONCATENATION",
        "EXPAND_DIMS",
        "SHAPE",
    }


def test_int64_ids_model(tmp_path, sentences, tokenizer):
    model = classifier(tokenizer.vocabulary_size, dtype="int64")
    texts = sentences[7000:7050]
    path = export_litert(
        model, tmp_path / "t.tflite", quantize="none", tokenizer=tokenizer
    )
    expected = model.predict(tokenizer(texts).astype(np.int64), verbose=0)
    np.testing.assert_allclose(
        run_text_model(path, texts), expected, rtol=0, atol=1e-5
    )


def test_graph_ids_equal_word_tokenizer(sentences, tokenizer):
    # split_words itself is checked against tensorflow-text on all the
    # sentences in test_word_tokenizer.py; here the ids, cut and padded.
    with open(VECTORS, encoding="utf-8") as file:
        vectors = json.load(file)
    texts = [case["text"] for case in vectors["cases"]] + EXOTIC_TEXTS
    long_words = ["a" * 150, "ж" * 60]  # beyond the default 100 bytes
    cases = [
        (tokenizer, sentences[:2000] + texts),
        (
            WordTokenizer(vectors["vocabulary"], vectors["sequence_length"]),
            texts,
        ),
        (
            WordTokenizer(["[PAD]", "[UNK]", *long_words], 4),
            [" ".join(long_words), "a" * 151, "ж" * 61 + " " + "a" * 150],
        ),
    ]
    for word_tokenizer, texts in cases:
        graph_ids = TextToIds(word_tokenizer)(tf.constant(texts)).numpy()
        np.testing.assert_array_equal(graph_ids, word_tokenizer(texts))


def test_bad_arguments(tmp_path, tokenizer):
    model = classifier(tokenizer.vocabulary_size)
    first = keras.Input((LENGTH,), dtype="int32")
    second = keras.Input((LENGTH,), dtype="int32")
    vectors = CodebookEmbedding(tokenizer.vocabulary_size, 4, 2, 4)(first)
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    two_inputs = keras.Model(
        [first, second],
        keras.layers.Concatenate()([pooled, keras.ops.cast(second, "float32")]),
    )
    ids_2d = keras.Input((LENGTH, 2), dtype="int32")
    vectors = CodebookEmbedding(tokenizer.vocabulary_size, 4, 2, 4)(ids_2d)
    rank_3 = keras.Model(ids_2d, vectors)
    float_ids = keras.Input((LENGTH,), dtype="float32")
    vectors = CodebookEmbedding(tokenizer.vocabulary_size, 4, 2, 4)(float_ids)
    float_input = keras.Model(float_ids, vectors)
    short = WordTokenizer(tokenizer.vocabulary, LENGTH - 1)
    small_model = classifier(100)
    cases = [
        (model, {"tokenizer": tokenizer.vocabulary}, "WordTokenizer"),
        (two_inputs, {}, "has 2 inputs"),
        (rank_3, {}, r"shape \(batch, length\)"),
        (float_input, {}, "integer word ids"),
        (model, {"tokenizer": short}, "model input length 24"),
        (model, {"sequence_length": 16}, "sequence_length"),
        (small_model, {}, "embedding of 100 rows"),
        (
            model,
            {"quantize": "full_int8", "representative_inputs": [[1] * 24]},
            "full_int8",
        ),
    ]
    for bad_model, arguments, message in cases:
        arguments = {"tokenizer": tokenizer, **arguments}
        with pytest.raises(ValueError, match=message) as error:
            export_litert(bad_model, tmp_path / "x.tflite", **arguments)
        assert "\n" not in str(error.value)
    assert not (tmp_path / "x.tflite").exists()


def test_missing_tensorflow_text_names_the_extra(
    tmp_path, monkeypatch, tokenizer
):
    model = classifier(tokenizer.vocabulary_size)
    monkeypatch.setitem(sys.modules, "tensorflow_text", None)
    with pytest.raises(ImportError, match=r'pip install "keras-dccl\[text\]"'):
        export_litert(model, tmp_path / "x.tflite", tokenizer=tokenizer)
    with pytest.raises(ImportError, match="keras-dccl"):
        text_interpreter(tmp_path / "x.tflite")
    assert not (tmp_path / "x.tflite").exists()


def test_convert_script_text_input(tmp_path, capsys, tokenizer):
    spec = importlib.util.spec_from_file_location("convert", CONVERT_SCRIPT)
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    classifier(tokenizer.vocabulary_size).save(tmp_path / "model.keras")
    vocabulary = str(tmp_path / "vocabulary.txt")
    tokenizer.save_vocabulary(vocabulary)
    output = tmp_path / "text.tflite"
    arguments = [str(tmp_path / "model.keras"), "-o", str(output)]
    code = convert.main([*arguments, "--text-input", vocabulary])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert ": ok" in out and "FAILED" not in out and "tokenizer" in out
    assert TFLiteFile(output).inputs[0].dtype == "STRING"
    output.unlink()
    for flags, message in [
        (["--text-input", "missing.txt"], "missing.txt"),
        (["--text-input", vocabulary, "--quantize", "full_int8"], "full_int8"),
    ]:
        assert convert.main([*arguments, *flags]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not output.exists()
