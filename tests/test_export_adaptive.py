"""Export of `AdaptiveCodebookEmbedding`: one code table per code length."""

import keras
import numpy as np
import pytest

from keras_dccl.export import LiteRTRunner
from keras_dccl.export import TFLiteFile
from keras_dccl.export import export_litert
from keras_dccl.export.export_litert import exported_id_order
from keras_dccl.export.litert_codebook_embedding import quantize_codebooks
from keras_dccl.layers.adaptive_codebook_embedding import (
    AdaptiveCodebookEmbedding,
)
from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.text import WordTokenizer

LENGTH = 12


def lookup_model(layer):
    ids = keras.Input((LENGTH,), dtype="int32")
    return keras.Model(ids, layer(ids))


def classifier(layer):
    model = keras.Sequential()
    model.add(keras.Input((LENGTH,), dtype="int32"))
    model.add(layer)
    model.add(keras.layers.GlobalAveragePooling1D())
    model.add(keras.layers.Dense(3))
    return model


def tokens(num_words):
    """A vocabulary for `export_litert(..., vocabulary=...)`."""
    return ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(num_words - 2)]


def word_ids(num_words, rows=16):
    ids = np.random.default_rng(0).integers(0, num_words, (rows, LENGTH))
    ids[0, :3] = [0, 1, 2]
    return ids.astype(np.int32)


def run_exported(path, model, ids):
    """Runs the file on the renumbered ids of `ids`, one row at a time."""
    new_ids = np.argsort(exported_id_order(model))[ids].astype(np.int32)
    runner = LiteRTRunner(path)
    return np.concatenate([runner(row[None])[0] for row in new_ids])


@pytest.mark.parametrize("learn_codes", [False, True], ids=["frozen", "train"])
@pytest.mark.parametrize("codebook_size", [16, 32])
@pytest.mark.parametrize("mask_zero", [False, True])
def test_float_export_matches_keras(
    tmp_path, learn_codes, codebook_size, mask_zero
):
    layer = AdaptiveCodebookEmbedding(
        400,
        8,
        code_lengths=(0, 1, 3, 8),
        codebook_size=codebook_size,
        learn_codes=learn_codes,
        mask_zero=mask_zero,
        seed=3,
    )
    model = classifier(layer)
    ids = word_ids(400)
    path = export_litert(
        model, tmp_path / "m.tflite", quantize="none", vocabulary=tokens(400)
    )
    np.testing.assert_allclose(
        run_exported(path, model, ids),
        model.predict(ids, verbose=0),
        atol=1e-5,
    )
    assert layer.learn_codes == learn_codes


def test_int8_export_within_rounding_bound(tmp_path):
    layer = AdaptiveCodebookEmbedding(600, 16, learn_codes=False, seed=4)
    model = lookup_model(layer)
    ids = word_ids(600)
    path = export_litert(model, tmp_path / "m.tflite", vocabulary=tokens(600))
    _, scales = quantize_codebooks(layer.compute_codebooks())
    # A word of length l sums l rows, each off by at most half its scale.
    lengths = np.asarray(layer.code_lengths)[layer.compute_lengths()]
    bound = np.array([scales[:length].sum() / 2 for length in lengths])
    error = np.abs(run_exported(path, model, ids) - model.predict(ids))
    assert np.all(error.max(axis=-1) <= bound[ids] + 1e-6)
    assert error.max() > 0


def test_id_order_groups_words_by_length_and_keeps_reserved_ids():
    layer = AdaptiveCodebookEmbedding(300, 4, learn_codes=False, seed=5)
    model = lookup_model(layer)
    order = exported_id_order(model)
    assert sorted(order) == list(range(300))
    assert list(order[:2]) == [0, 1]
    lengths = layer.compute_lengths()[order[2:]]
    assert np.all(np.diff(lengths.astype(int)) >= 0)
    # Within a length, the words keep their relative order.
    for length in np.unique(lengths):
        assert np.all(np.diff(order[2:][lengths == length]) > 0)
    assert exported_id_order(lookup_model(CodebookEmbedding(9, 4, 2))) is None


def test_two_adaptive_layers_are_refused():
    ids = keras.Input((LENGTH,), dtype="int32")
    first = AdaptiveCodebookEmbedding(50, 4, learn_codes=False)(ids)
    second = AdaptiveCodebookEmbedding(50, 4, learn_codes=False)(ids)
    model = keras.Model(ids, keras.layers.Add()([first, second]))
    with pytest.raises(ValueError, match="supports one"):
        exported_id_order(model)


def test_structure_and_size_within_information_bound(tmp_path):
    num_words, dim, codebook_size = 20000, 50, 16
    layer = AdaptiveCodebookEmbedding(
        num_words, dim, codebook_size=codebook_size, learn_codes=False, seed=6
    )
    path = export_litert(
        lookup_model(layer), tmp_path / "m.tflite", vocabulary=tokens(num_words)
    )
    model = TFLiteFile(path)
    lengths = np.asarray(layer.code_lengths)[layer.compute_lengths()]
    counts = {n: int(np.sum(lengths[2:] == n)) for n in layer.code_lengths}
    code_tables = sorted(
        t.shape
        for t in model.tensors
        if t.dtype == "UINT8" and t.constant_bytes
    )
    # One packed table per positive length: each word pays for its length.
    assert code_tables == sorted(
        (counts[n], n // 2) for n in layer.code_lengths if n and counts[n]
    )
    codebooks = [
        t for t in model.tensors if t.dtype == "INT8" and t.constant_bytes
    ]
    assert [t.shape for t in codebooks] == [(16 * codebook_size, dim)]
    assert not [name for name in model.op_names if name.startswith("CUSTOM")]
    sizes = model.size_breakdown()
    bound = (
        np.sum(lengths[2:]) * np.log2(codebook_size) / 8
        + 16 * codebook_size * dim  # int8 codebooks
        + 4 * 16  # their scales
        + 2 * dim * 4  # float32 vectors of the two reserved ids
    )
    embedding = sizes["codes"] + sizes["codebooks"] + sizes["scales"]
    assert bound <= embedding <= 1.02 * bound + 4096


def test_vocabulary_file_follows_the_exported_ids(tmp_path):
    vocabulary = tokens(300)
    layer = AdaptiveCodebookEmbedding(300, 4, learn_codes=False, seed=7)
    model = classifier(layer)
    with pytest.raises(ValueError, match="pass `vocabulary=`"):
        export_litert(model, tmp_path / "m.tflite")
    with pytest.raises(ValueError, match="has 3 tokens .* input_dim"):
        export_litert(model, tmp_path / "m.tflite", vocabulary=vocabulary[:3])
    # Float32 codebooks: what is compared is the order of the ids, not the
    # int8 rounding (which, with unseeded weights, reached 1.2e-5).
    path = export_litert(
        model, tmp_path / "m.tflite", vocabulary=vocabulary, quantize="none"
    )
    exported = WordTokenizer(tmp_path / "m.vocabulary.txt", LENGTH)
    sentences = ["w5 w17 w200 unknown", "w299 w3"]
    original = WordTokenizer(vocabulary, LENGTH)(sentences)
    # The app tokenizes with the exported file and feeds the ids as they are.
    runner = LiteRTRunner(path)
    np.testing.assert_allclose(
        np.concatenate([runner(row[None])[0] for row in exported(sentences)]),
        model.predict(original, verbose=0),
        atol=1e-5,
    )
    assert exported.vocabulary[:2] == ["[PAD]", "[UNK]"]
    assert sorted(exported.vocabulary) == sorted(vocabulary)


def test_full_int8_export_keeps_the_argmax(tmp_path):
    # Seeded: the codebooks and the classifier's weights are random, and
    # with some draws (other tests run first) two logits sit within the
    # int8 rounding of each other for 2 of the 64 rows.
    keras.utils.set_random_seed(3)
    layer = AdaptiveCodebookEmbedding(400, 8, learn_codes=False, seed=3)
    model = classifier(layer)
    ids = word_ids(400, rows=64)
    # Calibration ids are the model's own: export renumbers them too.
    path = export_litert(
        model,
        tmp_path / "m.tflite",
        quantize="full_int8",
        representative_inputs=ids,
        vocabulary=tokens(400),
    )
    outputs = run_exported(path, model, ids)
    expected = model.predict(ids, verbose=0)
    assert np.mean(outputs.argmax(-1) == expected.argmax(-1)) >= 0.98
