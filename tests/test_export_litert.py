import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from text_data import encode

from keras_dccl.compressed_table import CompressedTable
from keras_dccl.compression.compress import compress
from keras_dccl.export import LiteRTRunner
from keras_dccl.export import TFLiteFile
from keras_dccl.export import export_litert
from keras_dccl.export.export_litert import export_lookup
from keras_dccl.export.export_litert import strip_codebook_embeddings
from keras_dccl.export.litert_codebook_embedding import pair_codebooks
from keras_dccl.export.litert_codebook_embedding import quantize_codebooks
from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.readers import load_glove_package
from keras_dccl.readers import load_rotten_tomatoes

LENGTH = 12


def run_tflite(path, inputs):
    """Runs each row of `inputs` as a batch of one; dequantizes int8."""
    runner = LiteRTRunner(path)
    return np.concatenate([runner(row[None])[0] for row in inputs])


def classifier(embedding, hidden=None):
    model = keras.Sequential()
    model.add(keras.Input((LENGTH,), dtype="int32"))
    model.add(embedding)
    model.add(keras.layers.GlobalAveragePooling1D())
    if hidden:
        model.add(keras.layers.Dense(hidden, activation="relu"))
    model.add(keras.layers.Dense(2))
    return model


def random_ids(num_words, rows=8, seed=0):
    ids = np.random.default_rng(seed).integers(1, num_words, (rows, LENGTH))
    ids[:, -3:] = 0
    return ids.astype(np.int32)


@pytest.mark.parametrize("learn_codes", [False, True], ids=["frozen", "train"])
@pytest.mark.parametrize("mask_zero", [False, True])
def test_float_export_matches_keras(tmp_path, learn_codes, mask_zero):
    embedding = CodebookEmbedding(
        300, 8, 6, 16, learn_codes=learn_codes, mask_zero=mask_zero, seed=1
    )
    model = classifier(embedding, hidden=5)
    ids = random_ids(300)
    path = export_litert(model, tmp_path / "m.tflite", quantize="none")
    np.testing.assert_allclose(
        run_tflite(path, ids), model.predict(ids, verbose=0), atol=1e-5
    )
    # Export strips a copy: the model keeps its training form.
    assert embedding.learn_codes == learn_codes


def test_conv_functional_model_exports(tmp_path):
    ids_input = keras.Input((LENGTH,), dtype="int32")
    x = CodebookEmbedding(200, 8, 4, 8, seed=2)(ids_input)
    x = keras.layers.Conv1D(6, 3, activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    model = keras.Model(ids_input, keras.layers.Dense(3)(x))
    ids = random_ids(200)
    path = export_litert(
        model, tmp_path / "m.tflite", quantize="none", batch_size=1
    )
    np.testing.assert_allclose(
        run_tflite(path, ids), model.predict(ids, verbose=0), atol=1e-5
    )


@pytest.fixture(scope="module")
def compressed():
    rng = np.random.default_rng(0)
    return CompressedTable(
        rng.integers(0, 16, (2000, 32)).astype(np.uint8),
        rng.standard_normal((32, 16, 24)).astype(np.float32),
    )


def test_lookup_int8_within_rounding_bound(tmp_path, compressed):
    path = export_lookup(
        compressed, tmp_path / "l.tflite", sequence_length=LENGTH, batch_size=1
    )
    ids = random_ids(2000)
    result = run_tflite(path, ids)
    expected = compressed.reconstruct(ids.ravel()).reshape(result.shape)
    # Rounding each codebook to int8 moves an entry by at most scale / 2.
    _, scales = quantize_codebooks(compressed.codebooks)
    bound = scales.sum() / 2 + 1e-5
    assert np.abs(result - expected).max() <= bound
    assert np.abs(result - expected).max() > 0  # it really is quantized


@pytest.mark.parametrize(
    "quantize, dtype, atol",
    [("none", "FLOAT32", 1e-5), ("float16", "FLOAT16", 2e-2)],
)
def test_lookup_float_codebooks(tmp_path, compressed, quantize, dtype, atol):
    path = export_lookup(compressed, tmp_path / "l.tflite", quantize=quantize)
    ids = random_ids(2000)
    result = run_tflite(path, ids)
    expected = compressed.reconstruct(ids.ravel()).reshape(result.shape)
    np.testing.assert_allclose(result, expected, atol=atol)
    model = TFLiteFile(path)
    (codebooks,) = [
        t for t in model.tensors if t.shape == (512, 24) and t.constant_bytes
    ]
    assert codebooks.dtype == dtype


@pytest.mark.parametrize(
    "codebook_size, packed_shape",
    [(16, (2000, 16)), (32, (2000, 32)), (4, (2000, 16))],
)
def test_structure_codes_uint8_codebooks_int8_builtins_only(
    tmp_path, codebook_size, packed_shape
):
    rng = np.random.default_rng(1)
    compressed = CompressedTable(
        rng.integers(0, codebook_size, (2000, 32)).astype(np.uint8),
        rng.standard_normal((32, codebook_size, 24)).astype(np.float32),
    )
    path = export_lookup(compressed, tmp_path / "l.tflite")
    model = TFLiteFile(path)
    tables = {t.dtype: t for t in model.tensors if t.constant_bytes > 1000}
    assert tables["UINT8"].shape == packed_shape
    assert tables["INT8"].shape == (32 * codebook_size, 24)
    assert not [name for name in model.op_names if name.startswith("CUSTOM")]
    assert "ARG_MAX" not in model.op_names and "GATHER" in model.op_names


def test_embedding_part_within_information_bound(tmp_path):
    num_words, num_codebooks, codebook_size, dim = 20000, 32, 16, 50
    rng = np.random.default_rng(2)
    compressed = CompressedTable(
        rng.integers(0, 16, (num_words, num_codebooks)).astype(np.uint8),
        rng.standard_normal((num_codebooks, codebook_size, dim)).astype(
            np.float32
        ),
    )
    path = export_lookup(compressed, tmp_path / "l.tflite")
    sizes = TFLiteFile(path).size_breakdown()
    bound = (
        num_words * num_codebooks * np.log2(codebook_size) / 8
        + num_codebooks * codebook_size * dim
        + 4 * num_codebooks
    )
    embedding = sizes["codes"] + sizes["codebooks"] + sizes["scales"]
    assert bound <= embedding <= 1.02 * bound + 4096
    assert sizes["rest"] < 8192


def test_fixed_and_dynamic_shapes(tmp_path, compressed):
    fixed = export_lookup(
        compressed, tmp_path / "f.tflite", sequence_length=LENGTH, batch_size=1
    )
    assert TFLiteFile(fixed).inputs[0].shape_signature == (1, LENGTH)
    dynamic = export_lookup(compressed, tmp_path / "d.tflite")
    assert TFLiteFile(dynamic).inputs[0].shape_signature == (-1, -1)
    interpreter = Interpreter(model_path=str(dynamic))
    ids = random_ids(2000, rows=3)
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], ids.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], ids)
    interpreter.invoke()
    output = interpreter.get_tensor(
        interpreter.get_output_details()[0]["index"]
    )
    assert output.shape == (3, LENGTH, 24)


def test_full_int8_agrees_on_real_sentences(tmp_path):
    words, vectors = load_glove_package(3000)
    sentences, labels = load_rotten_tomatoes()
    ids = encode(sentences, words, LENGTH)
    table = np.concatenate([np.zeros((2, 50), np.float32), vectors])
    codes = compress(table, 8, 16, recipe="residual_kmeans", verbose=0)
    embedding = CodebookEmbedding.from_compressed(codes, mask_zero=True)
    model = classifier(embedding, hidden=16)
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(ids[:6000], labels[:6000], batch_size=64, epochs=2, verbose=0)
    path = export_litert(
        model,
        tmp_path / "q.tflite",
        quantize="full_int8",
        batch_size=1,
        representative_inputs=ids[6000:6300],
    )
    model_file = TFLiteFile(path)
    assert model_file.outputs[0].dtype == "INT8"
    float_ops = {
        model_file.operators[i].name
        for i, op in enumerate(model_file.operators)
        for t in op.outputs
        if model_file.tensors[t].dtype == "FLOAT32"
    }
    assert not float_ops & {"FULLY_CONNECTED", "SUM", "MEAN", "GATHER"}
    test_ids = ids[7000:8000]
    expected = model.predict(test_ids, verbose=0)
    result = run_tflite(path, test_ids)
    agreement = (expected.argmax(1) == result.argmax(1)).mean()
    assert agreement >= 0.98
    # And the model learned something real, so agreement is not trivial.
    accuracy = (expected.argmax(1) == labels[7000:8000]).mean()
    assert accuracy > 0.6


def test_bad_arguments(tmp_path, compressed):
    plain = keras.Sequential(
        [keras.Input((4,), dtype="int32"), keras.layers.Embedding(10, 3)]
    )
    with pytest.raises(ValueError, match="no CodebookEmbedding"):
        export_litert(plain, tmp_path / "x.tflite")
    model = classifier(CodebookEmbedding(50, 4, 2, 4))
    with pytest.raises(ValueError, match="quantize"):
        export_litert(model, tmp_path / "x.tflite", quantize="int4")
    with pytest.raises(ValueError, match="representative_inputs"):
        export_litert(model, tmp_path / "x.tflite", quantize="full_int8")
    with pytest.raises(ValueError, match="full_int8"):
        export_lookup(compressed, tmp_path / "x.tflite", quantize="full_int8")
    assert not (tmp_path / "x.tflite").exists()


@pytest.mark.parametrize(
    "num_codebooks, codebook_size", [(6, 16), (5, 16), (4, 8)]
)
def test_codebook_pairs_match_keras(tmp_path, num_codebooks, codebook_size):
    embedding = CodebookEmbedding(
        300, 8, num_codebooks, codebook_size, mask_zero=True, seed=2
    )
    model = classifier(embedding, hidden=5)
    ids = random_ids(300)
    path = export_litert(
        model, tmp_path / "p.tflite", quantize="none", codebook_pairs=True
    )
    np.testing.assert_allclose(
        run_tflite(path, ids), model.predict(ids, verbose=0), atol=1e-5
    )
    # One gather of a byte table, then of the pair table: no unpacking.
    tflite = TFLiteFile(path)
    assert "FLOOR_MOD" not in tflite.op_names
    tables = sorted(t.shape for t in tflite.tensors if t.constant_bytes > 500)
    pairs = (num_codebooks + 1) // 2
    assert (300, pairs) in tables and (pairs * 256, 8) in tables


def test_codebook_pairs_int8_within_rounding_bound(tmp_path):
    embedding = CodebookEmbedding(500, 16, 8, 16, seed=3)
    ids = keras.Input((LENGTH,), dtype="int32")
    model = keras.Model(ids, embedding(ids))
    path = export_litert(model, tmp_path / "p.tflite", codebook_pairs=True)
    _, pairs = pair_codebooks(
        embedding.compute_codes(), embedding.compute_codebooks()
    )
    _, scales = quantize_codebooks(pairs)
    inputs = random_ids(500)
    error = np.abs(run_tflite(path, inputs) - model.predict(inputs))
    assert 0 < error.max() <= scales.sum() / 2 + 1e-6
    sizes = TFLiteFile(path).size_breakdown()
    assert sizes["codes"] == 500 * 4 and sizes["codebooks"] == 4 * 256 * 16


def test_codebook_pairs_refuse_wide_codes(tmp_path):
    model = classifier(CodebookEmbedding(50, 8, 4, 32))
    with pytest.raises(ValueError, match="codebook_size <= 16"):
        export_litert(model, tmp_path / "p.tflite", codebook_pairs=True)


def test_models_without_code_embeddings_are_refused(tmp_path):
    plain = keras.Sequential(
        [keras.Input((LENGTH,), dtype="int32"), keras.layers.Embedding(9, 4)]
    )
    for export in (
        lambda: strip_codebook_embeddings(plain),
        lambda: export_litert(plain, tmp_path / "p.tflite"),
    ):
        with pytest.raises(ValueError, match="holds no CodebookEmbedding"):
            export()
    assert not (tmp_path / "p.tflite").exists()
