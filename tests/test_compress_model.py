"""compress_model, reverse calls, distill and multi-input export."""

import keras
import numpy as np
import pytest

import keras_dccl
from keras_dccl import CodebookEmbedding

# Export needs TensorFlow: those tests are `tensorflow_only`, the others run
# on every backend (tests/conftest.py).
tensorflow_only = pytest.mark.tensorflow_only


def export_litert(*args, **kwargs):
    from keras_dccl.export import export_litert

    return export_litert(*args, **kwargs)


def quantize_codebooks(codebooks):
    from keras_dccl.export.litert_codebook_embedding import quantize_codebooks

    return quantize_codebooks(codebooks)

VOCABULARY = 200
DIMENSION = 8
LENGTH = 6
OPTIONS = dict(num_codebooks=4, codebook_size=16, recipe="residual_kmeans")


def decoded_table(layer):
    """NumPy reference: the sum of each word's chosen codebook rows."""
    codes = layer.compute_codes()
    codebooks = layer.compute_codebooks()
    return sum(
        codebooks[m][codes[:, m]] for m in range(layer.num_codebooks)
    )


def sequential_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((LENGTH,), dtype="int32", name="ids"),
            keras.layers.Embedding(VOCABULARY, DIMENSION, name="words"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(3, name="head"),
        ]
    )
    return model


def two_input_model():
    keras.utils.set_random_seed(1)
    token_ids = keras.Input((LENGTH,), dtype="int32", name="token_ids")
    kinds = keras.Input((LENGTH,), dtype="int32", name="kind_ids")
    words = keras.layers.Embedding(VOCABULARY, DIMENSION, name="words")
    kind_table = keras.layers.Embedding(3, DIMENSION, name="kinds")
    vectors = keras.layers.Add()([words(token_ids), kind_table(kinds)])
    pooled = keras.layers.Dense(2, name="head")(
        keras.layers.GlobalAveragePooling1D()(vectors)
    )
    return keras.Model(
        {"token_ids": token_ids, "kind_ids": kinds},
        {"vectors": vectors, "scores": pooled},
    )


def two_inputs(rows=16, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "token_ids": rng.integers(0, VOCABULARY, (rows, LENGTH), "int32"),
        "kind_ids": rng.integers(0, 3, (rows, LENGTH), "int32"),
    }


def weights_by_name(model):
    return {
        layer.name: layer.get_weights()
        for layer in model.layers
        if not isinstance(layer, CodebookEmbedding)
    }


def test_sequential_model_keeps_inputs_outputs_and_weights():
    model = sequential_model()
    before = [w.copy() for w in model.get_weights()]
    student = keras_dccl.compress_model(model, verbose=0, **OPTIONS)
    layer = student.get_layer("words")
    assert isinstance(layer, CodebookEmbedding) and not layer.learn_codes
    assert student.inputs[0].name == "ids"
    assert student.inputs[0].dtype == "int32"
    assert student.outputs[0].shape == model.outputs[0].shape
    np.testing.assert_array_equal(
        student.get_layer("head").get_weights()[0],
        model.get_layer("head").get_weights()[0],
    )
    # The original model is untouched and shares no layer with the copy.
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert not {id(x) for x in model.layers} & {id(x) for x in student.layers}
    # The layer decodes the codes of `compress` on the original table.
    table = model.get_layer("words").get_weights()[0]
    expected = keras_dccl.compress(table, verbose=0, **OPTIONS).reconstruct()
    np.testing.assert_allclose(decoded_table(layer), expected, atol=1e-6)
    ids = np.arange(VOCABULARY).reshape(-1, 1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(ids))[:, 0], expected, atol=1e-6
    )


def test_functional_multi_input_model():
    model = two_input_model()
    student = keras_dccl.compress_model(model, verbose=0, **OPTIONS)
    assert [t.name for t in student.inputs] == [t.name for t in model.inputs]
    assert sorted(student.output) == ["scores", "vectors"]
    # The 3-row table is not worth compressing: it stays as it is.
    assert type(student.get_layer("kinds")) is keras.layers.Embedding
    assert isinstance(student.get_layer("words"), CodebookEmbedding)
    for name, weights in weights_by_name(model).items():
        if name == "words":
            continue
        for old, new in zip(weights, student.get_layer(name).get_weights()):
            np.testing.assert_array_equal(old, new)
    outputs = student.predict(two_inputs(), verbose=0)
    assert outputs["vectors"].shape == (16, LENGTH, DIMENSION)


def test_filters():
    model = two_input_model()
    by_regex = keras_dccl.compress_model(
        model, filters=["^kinds$", "words"], verbose=0, num_codebooks=1,
        codebook_size=2, recipe="residual_kmeans",
    )  # fmt: skip
    assert isinstance(by_regex.get_layer("kinds"), CodebookEmbedding)
    by_callable = keras_dccl.compress_model(
        model, filters=lambda layer: layer.name == "words", verbose=0,
        **OPTIONS,
    )  # fmt: skip
    assert type(by_callable.get_layer("kinds")) is keras.layers.Embedding
    with pytest.raises(ValueError, match="No embedding layer .* matches"):
        keras_dccl.compress_model(model, filters="nothing", verbose=0)
    with pytest.raises(ValueError, match="must be a built Keras model"):
        keras_dccl.compress_model("model")


@tensorflow_only
def test_keras_hub_bert_backbone():
    keras_hub = pytest.importorskip("keras_hub")
    keras.utils.set_random_seed(2)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCABULARY,
        num_layers=1,
        num_heads=2,
        hidden_dim=DIMENSION * 2,
        intermediate_dim=32,
        max_sequence_length=LENGTH,
    )
    student = keras_dccl.compress_model(backbone, verbose=0, **OPTIONS)
    assert [t.name for t in student.inputs] == [
        t.name for t in backbone.inputs
    ]
    assert sorted(student.output) == ["pooled_output", "sequence_output"]
    assert isinstance(student.get_layer("token_embedding"), CodebookEmbedding)
    assert type(student.get_layer("segment_embedding")) is (
        keras.layers.Embedding
    )
    for layer in backbone.layers:
        if layer.name != "token_embedding":
            for old, new in zip(
                layer.get_weights(), student.get_layer(layer.name).get_weights()
            ):
                np.testing.assert_array_equal(old, new)
    # With the token table replaced by its own reconstruction, the copy
    # runs the same graph as the original.
    table = decoded_table(student.get_layer("token_embedding"))
    backbone.token_embedding.embeddings.assign(table)
    inputs = {
        "token_ids": np.arange(2 * LENGTH).reshape(2, LENGTH) % VOCABULARY,
        "padding_mask": np.ones((2, LENGTH), "int32"),
        "segment_ids": np.zeros((2, LENGTH), "int32"),
    }
    expected = backbone.predict(inputs, verbose=0)
    got = student.predict(inputs, verbose=0)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-5)


@pytest.mark.parametrize("learn_codes", [False, True])
def test_reverse_matches_numpy(learn_codes):
    layer = CodebookEmbedding(
        50, DIMENSION, num_codebooks=3, learn_codes=learn_codes, seed=3
    )
    layer.build()
    hidden = np.random.default_rng(0).standard_normal((4, 5, DIMENSION))
    logits = keras.ops.convert_to_numpy(layer(hidden, reverse=True))
    expected = hidden @ decoded_table(layer).T
    assert logits.shape == (4, 5, 50)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


def test_tied_masked_lm_trains_and_round_trips(tmp_path):
    keras.utils.set_random_seed(4)
    token_ids = keras.Input((LENGTH,), dtype="int32", name="token_ids")
    embedding = CodebookEmbedding(VOCABULARY, DIMENSION, num_codebooks=4)
    hidden = keras.layers.Dense(DIMENSION, activation="tanh")(
        embedding(token_ids)
    )
    logits = embedding(hidden, reverse=True)
    model = keras.Model(token_ids, logits)
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    ids = np.random.default_rng(0).integers(0, VOCABULARY, (8, LENGTH))
    before = embedding.compute_codebooks()
    history = model.fit(ids, ids, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(before, embedding.compute_codebooks())
    path = tmp_path / "tied.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(ids, verbose=0), model.predict(ids, verbose=0),
        atol=1e-6,
    )  # fmt: skip


def teacher_and_student():
    teacher = two_input_model()
    words = teacher.get_layer("words")
    table = np.random.default_rng(5).standard_normal(words.embeddings.shape)
    words.embeddings.assign(table)
    # Few codes, from k-means alone: far from the teacher, room to learn.
    student = keras_dccl.compress_model(
        teacher, num_codebooks=2, codebook_size=16, recipe="residual_kmeans",
        verbose=0,
    )  # fmt: skip
    return teacher, student


def distance(student, teacher, inputs):
    got = student.predict(inputs, verbose=0)["vectors"]
    return float(np.mean((got - teacher.predict(inputs, verbose=0)["vectors"])
                         ** 2))  # fmt: skip


@pytest.mark.parametrize("start", ["compressed", "codebooks_reset"])
def test_distill_lowers_distance_to_teacher(start):
    teacher, student = teacher_and_student()
    codebooks = student.get_layer("words").decoder.codebooks
    if start == "codebooks_reset":
        # The codes kept, the codebooks lost: they have to be learned back.
        codebooks.assign(0.01 * np.ones(codebooks.shape))
    inputs = two_inputs(rows=256)
    before = distance(student, teacher, inputs)
    history = keras_dccl.distill(
        student,
        teacher,
        inputs,
        output="vectors",
        optimizer=keras.optimizers.Adam(1e-2),
        epochs=5,
        batch_size=32,
        verbose=0,
    )
    assert len(history["loss"]) == len(history["val_loss"]) <= 5
    # From compress's codebooks (nearly least-squares already for these
    # codes), a small gain; from reset codebooks, most of the way back.
    # (jax and torch reach 0.52 where TensorFlow reaches 0.48: Adam's sparse
    # updates of gathered rows differ.)
    factor = 0.97 if start == "compressed" else 0.6
    assert distance(student, teacher, inputs) < factor * before
    assert history["best_val_loss"] == min(history["val_loss"])
    assert history["best_val_loss"] < history["start_val_loss"]


def test_distill_keeps_the_start_when_no_epoch_beats_it():
    teacher, student = teacher_and_student()
    inputs = two_inputs(rows=128)
    start = [w.copy() for w in student.get_weights()]
    before = distance(student, teacher, inputs)
    # A step far too large: every epoch ends worse than the start.
    history = keras_dccl.distill(
        student,
        teacher,
        inputs,
        output="vectors",
        optimizer=keras.optimizers.SGD(1e3),
        epochs=3,
        patience=1,
        verbose=0,
    )
    assert min(history["val_loss"]) > history["start_val_loss"]
    assert history["best_epoch"] == -1 and history["stopped_early"]
    assert history["best_val_loss"] == history["start_val_loss"]
    for value, original in zip(student.get_weights(), start):
        np.testing.assert_array_equal(value, original)
    assert distance(student, teacher, inputs) == before


class Interrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt in the middle of the given epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch
        self.current = None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == 2:
            raise KeyboardInterrupt


def test_distill_resumes_exactly(tmp_path):
    inputs = two_inputs(rows=160)
    options = dict(
        output="vectors",
        optimizer_factory=lambda: keras.optimizers.Adam(1e-2),
        epochs=3,
        batch_size=16,
        patience=5,
        verbose=0,
    )

    def run(checkpoint_dir, callbacks=None):
        teacher, student = teacher_and_student()
        factory = options["optimizer_factory"]
        keyword = {k: v for k, v in options.items() if k != "optimizer_factory"}
        history = keras_dccl.distill(
            student, teacher, inputs, optimizer=factory(),
            checkpoint_dir=checkpoint_dir, callbacks=callbacks, **keyword,
        )  # fmt: skip
        return student, history

    straight, straight_history = run(None)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "job", callbacks=[Interrupt(epoch=1)])
    resumed, resumed_history = run(tmp_path / "job")
    for old, new in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(old, new, rtol=1e-6, atol=1e-7)
    assert resumed_history["loss"] == pytest.approx(straight_history["loss"])
    # A checkpoint of another job is refused.
    teacher, student = teacher_and_student()
    with pytest.raises(ValueError, match="another distillation"):
        keras_dccl.distill(
            student, teacher, inputs, output="vectors", epochs=2,
            checkpoint_dir=tmp_path / "job", verbose=0,
        )  # fmt: skip


def test_distill_bad_arguments():
    teacher, student = teacher_and_student()
    inputs = two_inputs(rows=20)
    cases = [
        (dict(output="missing"), "`output` must name one of"),
        (dict(validation_split=0.0), "`validation_split` must be in"),
        (dict(sample_weight="nothing"), "`sample_weight` names no input"),
        (dict(epochs=0), "epochs"),
    ]
    for arguments, message in cases:
        with pytest.raises(ValueError, match=message):
            keras_dccl.distill(student, teacher, inputs, verbose=0,
                               **{"output": "vectors", **arguments})
    with pytest.raises(ValueError, match="rows for 20 inputs"):
        keras_dccl.distill(
            student, {"vectors": np.zeros((3, LENGTH, DIMENSION))}, inputs,
            output="vectors", verbose=0,
        )  # fmt: skip


def run_signature(path, inputs):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(str(path)).get_signature_runner()
    rows = [
        runner(**{name: value[i : i + 1] for name, value in inputs.items()})
        for i in range(len(next(iter(inputs.values()))))
    ]
    return {
        name: np.concatenate([row[name] for row in rows]) for name in rows[0]
    }


@tensorflow_only
@pytest.mark.parametrize("quantize", ["none", "int8", "dynamic_int8"])
def test_multi_input_export_matches_keras(tmp_path, quantize):
    _, student = teacher_and_student()
    path = export_litert(
        student, tmp_path / "two.tflite", quantize=quantize,
        sequence_length=LENGTH, batch_size=1,
    )  # fmt: skip
    inputs = two_inputs(rows=8)
    got = run_signature(path, inputs)
    expected = student.predict(inputs, verbose=0)
    assert sorted(got) == ["scores", "vectors"]
    difference = np.abs(got["vectors"] - expected["vectors"]).max()
    if quantize == "none":
        assert difference <= 1e-5
    else:
        # Rounding each codebook to int8 moves an entry by at most scale / 2;
        # the other table is float in "int8" (and int8 in "dynamic_int8").
        layer = student.get_layer("words")
        _, scales = quantize_codebooks(layer.compute_codebooks())
        bound = scales.sum() / 2 + 1e-5
        if quantize == "dynamic_int8":
            kinds = student.get_layer("kinds").get_weights()[0]
            bound += np.abs(kinds).max() / 127
        assert 0 < difference <= bound


@tensorflow_only
def test_convert_script_bert_student(tmp_path, capsys):
    """tflite/convert.py on a compressed KerasHub backbone (three inputs)."""
    keras_hub = pytest.importorskip("keras_hub")
    import importlib.util
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location(
        "convert", os.path.join(root, "tflite", "convert.py")
    )
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    keras.utils.set_random_seed(6)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCABULARY, num_layers=1, num_heads=2,
        hidden_dim=16, intermediate_dim=32, max_sequence_length=LENGTH,
    )  # fmt: skip
    student = keras_dccl.compress_model(backbone, verbose=0, **OPTIONS)
    student.save(tmp_path / "bert.keras")
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "inputs.npz",
        token_ids=rng.integers(0, VOCABULARY, (6, LENGTH)),
        padding_mask=np.ones((6, LENGTH), "int32"),
        segment_ids=np.zeros((6, LENGTH), "int32"),
    )
    common = [str(tmp_path / "bert.keras"), "--sequence-length", str(LENGTH),
              "--batch-size", "1"]  # fmt: skip
    status = convert.main(
        common + ["-o", str(tmp_path / "bert.tflite"), "--quantize", "none",
                  "--representative", str(tmp_path / "inputs.npz")]
    )  # fmt: skip
    output = capsys.readouterr().out
    assert status == 0, output
    assert output.count(": ok") == 2  # pooled_output and sequence_output
    status = convert.main(common + ["-o", str(tmp_path / "no.tflite")])
    assert status == 2
    error = capsys.readouterr().err
    assert "pass --representative INPUTS.npz" in error
    assert not (tmp_path / "no.tflite").exists()


def test_exact_rows_look_up_their_vectors(tmp_path):
    layer = CodebookEmbedding(50, DIMENSION, num_codebooks=3, exact_rows=4)
    layer.build()
    decoded = decoded_table(layer)
    ids = np.array([7, 3, 40])
    vectors = np.random.default_rng(1).standard_normal((3, DIMENSION))
    layer.set_exact_rows(ids, vectors)
    table = keras.ops.convert_to_numpy(layer(np.arange(50)))
    np.testing.assert_allclose(table[ids], vectors, atol=1e-5)
    others = np.setdiff1d(np.arange(50), ids)
    np.testing.assert_allclose(table[others], decoded[others], atol=1e-6)
    hidden = np.random.default_rng(2).standard_normal((2, DIMENSION))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(hidden, reverse=True)),
        hidden @ table.T, rtol=1e-5, atol=1e-5,
    )  # fmt: skip
    model = keras.Sequential([keras.Input((2,), dtype="int32"), layer])
    model.save(tmp_path / "exact.keras")
    loaded = keras.saving.load_model(tmp_path / "exact.keras")
    pairs = np.array([[7, 1], [40, 3]])
    np.testing.assert_allclose(
        loaded.predict(pairs, verbose=0), model.predict(pairs, verbose=0)
    )
    for ids, vectors in [
        (np.arange(5), np.zeros((5, DIMENSION))),  # more than exact_rows
        (np.array([1, 1]), np.zeros((2, DIMENSION))),  # repeated
        (np.array([50]), np.zeros((1, DIMENSION))),  # out of range
        (np.array([1]), np.zeros((1, 3))),  # wrong width
    ]:
        with pytest.raises(ValueError, match="`ids` must be at most"):
            layer.set_exact_rows(ids, vectors)



def test_int4_exact_rows_round_within_half_a_step():
    layer = CodebookEmbedding(
        50, DIMENSION, num_codebooks=3, exact_rows=4, exact_rows_dtype="int4"
    )
    layer.build()
    decoded = decoded_table(layer)
    ids = np.array([7, 3, 40])
    # Rows of very different sizes: each gets a scale of its own.
    vectors = np.random.default_rng(1).standard_normal((3, DIMENSION))
    vectors *= np.array([[1.0], [0.1], [0.01]])
    layer.set_exact_rows(ids, vectors)
    values, index, scales = layer.int4_exact_rows()
    assert values.dtype == "int8" and np.abs(values).max() <= 7
    assert index.shape == (5,) and scales.shape == (256,)
    residuals = vectors - decoded[ids]
    peaks = np.abs(residuals).max(axis=1) / 7
    row_scales = scales[index[:3]]
    # The next level up from each row's peak over 7: no value is clipped.
    assert np.all(row_scales >= peaks * (1 - 1e-6))
    assert np.all(row_scales < peaks * 2 ** (1 / 32) * (1 + 1e-6))
    table = keras.ops.convert_to_numpy(layer(np.arange(50)))
    np.testing.assert_allclose(
        table[ids], decoded[ids] + values[:3] * row_scales[:, None], atol=1e-6
    )
    error = np.abs(table[ids] - vectors)
    assert np.all(error <= row_scales[:, None] / 2 + 1e-6)
    others = np.setdiff1d(np.arange(50), ids)
    np.testing.assert_allclose(table[others], decoded[others], atol=1e-6)
    with pytest.raises(ValueError, match="exact_rows_dtype"):
        CodebookEmbedding(50, DIMENSION, exact_rows=4, exact_rows_dtype="int2")


def test_int4_exact_rows_train_straight_through():
    layer = CodebookEmbedding(
        50, DIMENSION, num_codebooks=3, exact_rows=4, exact_rows_dtype="int4"
    )
    model = keras.Sequential([keras.Input((2,), dtype="int32"), layer])
    layer.set_exact_rows(np.array([1, 2]), np.ones((2, DIMENSION)))
    before = keras.ops.convert_to_numpy(layer.residuals)
    model.compile(keras.optimizers.SGD(0.5), "mse")
    model.fit(
        np.array([[1, 2]]), np.zeros((1, 2, DIMENSION)), epochs=1, verbose=0
    )
    after = keras.ops.convert_to_numpy(layer.residuals)
    # The rounding passes the gradient on: the rows of ids 1 and 2 move.
    assert np.all(np.abs(after[:2] - before[:2]).max(axis=1) > 1e-3)
    np.testing.assert_array_equal(after[2:], before[2:])

@tensorflow_only
def test_compress_model_exact_rows_of_largest_weight(tmp_path):
    model = sequential_model()
    weights = np.ones(VOCABULARY)
    weights[[5, 17, 90]] = [50.0, 40.0, 30.0]
    student = keras_dccl.compress_model(
        model, weights=weights, exact_rows=3, verbose=0, **OPTIONS
    )
    layer = student.get_layer("words")
    table = model.get_layer("words").get_weights()[0]
    looked_up = keras.ops.convert_to_numpy(layer(np.arange(VOCABULARY)))
    np.testing.assert_allclose(looked_up[[5, 17, 90]], table[[5, 17, 90]],
                               atol=1e-6)  # fmt: skip
    assert np.abs(looked_up - table).max() > 1e-3  # the others are codes
    with pytest.raises(ValueError, match="pass `weights`"):
        keras_dccl.compress_model(model, exact_rows=3, verbose=0, **OPTIONS)
    # Exported: float32 within 1e-5; int8 within the rounding bounds.
    ids = np.array([[5, 17, 90, 1, 2, 3]], dtype="int32")
    head = keras.Model(student.inputs, layer(student.inputs[0]))
    expected = head.predict(ids, verbose=0)
    for quantize in ("none", "int8"):
        path = export_litert(
            head, tmp_path / f"{quantize}.tflite", quantize=quantize,
            sequence_length=LENGTH, batch_size=1,
        )  # fmt: skip
        got = run_signature(path, {"ids": ids})
        difference = np.abs(next(iter(got.values())) - expected).max()
        if quantize == "none":
            assert difference <= 1e-5
        else:
            _, scales = quantize_codebooks(layer.compute_codebooks())
            residuals = keras.ops.convert_to_numpy(layer._residual_rows())
            bound = (scales.sum() + np.abs(residuals).max() / 127) / 2
            assert 0 < difference <= bound + 1e-5


@tensorflow_only
def test_keras_file_loads_after_import_keras_dccl(tmp_path):
    """`import keras; import keras_dccl` is enough to load a saved model."""
    import subprocess
    import sys

    model = keras.Sequential([keras.Input((2,), dtype="int32"),
                              CodebookEmbedding(20, 4, num_codebooks=2)])
    model.save(tmp_path / "m.keras")
    code = (
        "import keras\nimport keras_dccl\n"
        f"model = keras.saving.load_model({str(tmp_path / 'm.keras')!r})\n"
        "print(type(model.layers[0]).__name__)\n"
    )
    root = __file__.rsplit("/tests/", 1)[0]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        env={**__import__("os").environ, "PYTHONPATH": root}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-1500:]
    assert result.stdout.strip() == "CodebookEmbedding"


def export_many_exact_rows(tmp_path, exact_rows_dtype):
    """A 3,000-word student with 1,200 exact rows, exported with dynamic
    range: the student, its file's outputs and Keras's on the same ids."""
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [keras.Input((LENGTH,), dtype="int32"),
         keras.layers.Embedding(3000, DIMENSION)]
    )  # fmt: skip
    weights = np.random.default_rng(0).random(3000)
    student = keras_dccl.compress_model(
        model, weights=weights, exact_rows=1200,
        exact_rows_dtype=exact_rows_dtype, verbose=0, **OPTIONS,
    )  # fmt: skip
    ids = np.argsort(-weights)[: 4 * LENGTH].reshape(4, LENGTH)
    ids[:, -1] = np.argsort(weights)[:4]  # and words without a row
    path = export_litert(
        student, tmp_path / "d.tflite", quantize="dynamic_int8",
        sequence_length=LENGTH, batch_size=1,
    )  # fmt: skip
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(str(path)).get_signature_runner()
    (name,) = runner.get_input_details()
    got = next(iter(run_signature(path, {name: ids.astype("int32")}).values()))
    return student, path, got, student.predict(ids, verbose=0)


@tensorflow_only
def test_many_exact_rows_export_with_dynamic_range(tmp_path):
    # Over 1,024 values per table, so TFLite's dynamic-range quantization
    # would requantize any float table of the lookup: the error stays
    # within the int8 bounds.
    student, _, got, expected = export_many_exact_rows(tmp_path, "int8")
    layer = student.layers[0]
    difference = np.abs(got - expected).max()
    _, scales = quantize_codebooks(layer.compute_codebooks())
    residuals = keras.ops.convert_to_numpy(layer._residual_rows())
    assert difference <= (scales.sum() + np.abs(residuals).max() / 127) / 2


@tensorflow_only
def test_int4_exact_rows_export_as_the_layer_rounds_them(tmp_path):
    student, path, got, expected = export_many_exact_rows(tmp_path, "int4")
    layer = student.layers[0]
    assert layer.exact_rows_dtype == "int4"
    # The layer rounds its rows to int4 already: what is left is the int8
    # rounding of the codebooks.
    _, scales = quantize_codebooks(layer.compute_codebooks())
    assert np.abs(got - expected).max() <= scales.sum() / 2 + 1e-5
    from keras_dccl.export import TFLiteFile

    breakdown = TFLiteFile(path).size_breakdown()
    # The packed codes, the int16 row index, the packed rows (1,201 x D / 2)
    # and their scale index.
    assert breakdown["codes"] == (
        3000 * ((layer.num_codebooks + 1) // 2) + 3000 * 2
        + 1201 * DIMENSION // 2 + 1201
    )  # fmt: skip



def test_distill_switches_dropout_off_and_back():
    teacher, _ = teacher_and_student()
    ids = keras.Input((LENGTH,), dtype="int32", name="token_ids")
    kinds = keras.Input((LENGTH,), dtype="int32", name="kind_ids")
    dropout = keras.layers.Dropout(0.5)
    vectors = dropout(teacher({"token_ids": ids, "kind_ids": kinds})["vectors"])
    student = keras.Model({"token_ids": ids, "kind_ids": kinds}, vectors)
    seen = []
    probe = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append(dropout.rate)
    )
    inputs = two_inputs(rows=40)
    targets = teacher.predict(inputs, verbose=0)["vectors"]
    for switch, expected in ((False, 0.0), (True, 0.5)):
        keras_dccl.distill(student, targets, inputs, epochs=1, verbose=0,
                           callbacks=[probe], dropout=switch)  # fmt: skip
        assert seen[-1] == expected
        assert dropout.rate == 0.5


def test_freeze_codes_replaces_the_training_layers_of_nested_models():
    from keras_dccl.utils.model_layers import model_layers

    training = CodebookEmbedding(
        50, DIMENSION, num_codebooks=3, learn_codes=True, seed=1, name="learn"
    )
    fixed = CodebookEmbedding(50, DIMENSION, num_codebooks=3, name="fixed")
    inner_ids = keras.Input((LENGTH,), dtype="int32")
    inner = keras.Model(inner_ids, training(inner_ids), name="inner")
    ids = keras.Input((LENGTH,), dtype="int32")
    vectors = keras.layers.Add(name="add")([inner(ids), fixed(ids)])
    model = keras.Model(ids, keras.layers.Dense(2, name="dense")(vectors))
    data = np.random.default_rng(0).integers(0, 50, size=(6, LENGTH))
    # The walk: graph layers (nested models flattened), then sub-layers too.
    graph = model_layers(model, sublayers=False)
    assert [layer.name for layer in graph][-3:] == ["fixed", "add", "dense"]
    assert training in graph and training.encoder not in graph
    assert training.encoder in model_layers(model)

    frozen_model = keras_dccl.models.freeze_codes(model)

    assert training.learn_codes and model.get_layer("inner") is inner
    np.testing.assert_allclose(
        frozen_model.predict(data, verbose=0),
        model.predict(data, verbose=0),
        atol=1e-6,
    )
    new = {layer.name: layer for layer in model_layers(frozen_model, False)}
    assert not new["learn"].learn_codes and new["learn"] is not training
    # A frozen layer is copied like any other, with its weights.
    assert new["fixed"] is not fixed and not new["fixed"].learn_codes
    np.testing.assert_array_equal(new["fixed"].codes, fixed.codes)


def test_freeze_codes_bad_arguments():
    unbuilt = keras.Sequential(
        [CodebookEmbedding(50, DIMENSION, num_codebooks=3, learn_codes=True)]
    )
    for argument, message in (
        (keras.layers.Dense(2), "Received: layer_or_model=Dense"),
        (unbuilt, "needs a built model"),
    ):
        with pytest.raises(ValueError, match=message):
            keras_dccl.models.freeze_codes(argument)
