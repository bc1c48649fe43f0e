import keras
import numpy as np
from layer_test_case import LayerTestCase

from keras_dccl.callbacks import TemperatureSchedule
from keras_dccl.layers.adaptive_codebook_embedding import (
    AdaptiveCodebookEmbedding,
)
from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.models import freeze_codes

INPUT_DIM = 10
IDS = np.random.default_rng(0).integers(0, INPUT_DIM, size=(8, 3))
TARGETS = np.ones((8, 1), "float32")


def classifier(*embedding_layers):
    """Sums the outputs of `embedding_layers`, then a small regression."""
    word_ids = keras.Input(shape=(3,), dtype="int32")
    outputs = [layer(word_ids) for layer in embedding_layers]
    if len(outputs) > 1:
        outputs = [keras.layers.Add()(outputs)]
    outputs = keras.layers.GlobalAveragePooling1D()(outputs[0])
    model = keras.Model(word_ids, keras.layers.Dense(1)(outputs))
    model.compile(optimizer="adam", loss="mse")
    return model


class TemperatureRecorder(keras.callbacks.Callback):
    """Reads the given temperature variables at the start of each epoch."""

    def __init__(self, variables):
        super().__init__()
        self.variables = variables
        self.values = []

    def on_epoch_begin(self, epoch, logs=None):
        self.values.append([float(v.numpy()) for v in self.variables])


class TemperatureScheduleTest(LayerTestCase):
    def fit(self, model, schedule, variables, epochs):
        recorder = TemperatureRecorder(variables)
        history = model.fit(
            IDS,
            TARGETS,
            epochs=epochs,
            callbacks=[schedule, recorder],
            verbose=0,
        )
        return np.array(recorder.values), history.history["temperature"]

    def test_geometric_schedule_on_all_gumbel_parts(self):
        adaptive = AdaptiveCodebookEmbedding(
            INPUT_DIM, 4, code_lengths=(0, 2), codebook_size=4, seed=1
        )
        codebook = CodebookEmbedding(
            INPUT_DIM, 4, num_codebooks=2, codebook_size=4, learn_codes=True
        )
        model = classifier(adaptive, codebook)
        variables = [
            adaptive.length_temperature,
            adaptive.encoder.temperature,
            codebook.encoder.temperature,
        ]
        values, logged = self.fit(
            model, TemperatureSchedule(start=2.0, end=0.25), variables, 4
        )
        expected = [2.0, 1.0, 0.5, 0.25]
        self.assertAllClose(values, np.transpose([expected] * 3))
        self.assertAllClose(logged, expected)

    def test_epochs_argument(self):
        layer = CodebookEmbedding(
            INPUT_DIM, 4, num_codebooks=2, codebook_size=4, learn_codes=True
        )
        values, logged = self.fit(
            classifier(layer),
            TemperatureSchedule(start=1.0, end=0.01, epochs=3),
            [layer.encoder.temperature],
            5,
        )
        expected = [1.0, 0.1, 0.01, 0.01, 0.01]
        self.assertAllClose(values[:, 0], expected, rtol=1e-5)
        self.assertAllClose(logged, expected, rtol=1e-5)

    def test_custom_schedule(self):
        layer = AdaptiveCodebookEmbedding(
            INPUT_DIM, 4, code_lengths=(1, 2), codebook_size=4, seed=1
        )
        values, logged = self.fit(
            classifier(layer),
            TemperatureSchedule(schedule=lambda epoch: 1.0 / (epoch + 1)),
            [layer.length_temperature, layer.encoder.temperature],
            3,
        )
        expected = [1.0, 1 / 2, 1 / 3]
        self.assertAllClose(values, np.transpose([expected] * 2))
        self.assertAllClose(logged, expected)

    def test_model_built_by_its_first_batch(self):
        layer = AdaptiveCodebookEmbedding(
            INPUT_DIM, 4, code_lengths=(1, 2), codebook_size=4, seed=1
        )
        model = keras.Sequential(
            [
                layer,
                keras.layers.GlobalAveragePooling1D(),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer="adam", loss="mse")
        # The first batch builds the layers, with temperature 1.0; the
        # schedule's 0.5 applies from the second batch.
        history = model.fit(
            IDS,
            TARGETS,
            batch_size=4,
            callbacks=[TemperatureSchedule(start=0.5)],
            verbose=0,
        )
        self.assertAllClose(history.history["temperature"], [0.5])
        self.assertAllClose(layer.length_temperature, 0.5)
        self.assertAllClose(layer.encoder.temperature, 0.5)

    def test_layers_return_their_temperature_variables(self):
        adaptive = AdaptiveCodebookEmbedding(
            INPUT_DIM, 4, code_lengths=(0, 2), codebook_size=4, seed=1
        )
        codebook = CodebookEmbedding(
            INPUT_DIM, 4, num_codebooks=2, codebook_size=4, learn_codes=True
        )
        frozen = CodebookEmbedding(INPUT_DIM, 4, num_codebooks=2)
        for layer in (adaptive, codebook, frozen, codebook.encoder):
            self.assertEqual(layer.temperature_variables(), [])
        classifier(adaptive, codebook, frozen)
        self.assertEqual(
            [v.path for v in adaptive.temperature_variables()],
            [
                adaptive.encoder.temperature.path,
                adaptive.length_temperature.path,
            ],
        )
        self.assertEqual(
            [v.path for v in codebook.temperature_variables()],
            [codebook.encoder.temperature.path],
        )
        self.assertEqual(frozen.temperature_variables(), [])
        self.assertEqual(freeze_codes(adaptive).temperature_variables(), [])

    def test_any_layer_with_temperature_variables(self):
        class Tempered(keras.layers.Layer):
            def build(self, input_shape):
                self.tau = self.add_weight(
                    shape=(), initializer="ones", trainable=False
                )

            def call(self, inputs):
                return inputs / self.tau

            def temperature_variables(self):
                return [self.tau] if self.built else []

        layer = Tempered()
        word_ids = keras.Input(shape=(3,), dtype="int32")
        vectors = keras.layers.Embedding(INPUT_DIM, 4)(word_ids)
        outputs = keras.layers.GlobalAveragePooling1D()(layer(vectors))
        model = keras.Model(word_ids, keras.layers.Dense(1)(outputs))
        model.compile(optimizer="adam", loss="mse")
        values, logged = self.fit(
            model, TemperatureSchedule(start=2.0, end=0.5), [layer.tau], 3
        )
        self.assertAllClose(values[:, 0], [2.0, 1.0, 0.5])
        self.assertAllClose(logged, [2.0, 1.0, 0.5])

    def test_model_without_gumbel_part(self):
        frozen = AdaptiveCodebookEmbedding(
            INPUT_DIM, 4, code_lengths=(1, 2), learn_codes=False
        )
        for layer in (
            keras.layers.Embedding(INPUT_DIM, 4),
            CodebookEmbedding(INPUT_DIM, 4, num_codebooks=2),
            frozen,
        ):
            with self.subTest(layer=layer.name):
                with self.assertRaisesRegex(
                    ValueError, "needs a model with a Gumbel-softmax part"
                ):
                    classifier(layer).fit(
                        IDS,
                        TARGETS,
                        callbacks=[TemperatureSchedule()],
                        verbose=0,
                    )

    def test_bad_arguments(self):
        bad_arguments = [
            ("start", 0),
            ("start", -1.0),
            ("end", 0.0),
            ("end", True),
            ("epochs", 0),
            ("epochs", 2.5),
            ("schedule", 0.5),
        ]
        for name, value in bad_arguments:
            with self.subTest(name=name, value=value):
                with self.assertRaisesRegex(
                    ValueError, f"`{name}` must be .* Received: {name}="
                ):
                    TemperatureSchedule(**{name: value})
        layer = AdaptiveCodebookEmbedding(INPUT_DIM, 4, code_lengths=(1, 2))
        with self.assertRaisesRegex(ValueError, "Received: temperature=0"):
            classifier(layer).fit(
                IDS,
                TARGETS,
                callbacks=[TemperatureSchedule(schedule=lambda epoch: 0)],
                verbose=0,
            )
