"""The contract both code embeddings keep, one test class run over each.

`CodebookEmbedding` and `AdaptiveCodebookEmbedding` share a base class and
two forms: the frozen form (uint8 codes, trainable codebooks) and the
training form (a float table and a Gumbel-softmax encoder). Each subclass
below names a layer, small constructor arguments and the counts of its
parts; what is particular to one layer stays in its own test file.
"""

import os

import keras
import numpy as np
from layer_test_case import LayerTestCase

from keras_dccl.layers.adaptive_codebook_embedding import (
    AdaptiveCodebookEmbedding,
)
from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.models import freeze_codes
from keras_dccl.models import warm_start

OUTPUT_DIM = 6
# Every id below 12, the smaller of the two layers' vocabularies; zeros for
# masking. Enough words that every adaptive length occurs on any backend.
IDS = np.array(
    [[3, 1, 0, 0], [2, 0, 5, 7], [4, 6, 8, 0], [9, 10, 11, 0]], "int32"
)
TARGETS = np.array([[1.0], [-1.0], [0.5], [2.0]], "float32")


def classifier(embedding_layer):
    return keras.Sequential(
        [
            keras.Input(IDS.shape[1:], dtype="int32"),
            embedding_layer,
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )


def values(variables):
    return [keras.ops.convert_to_numpy(variable) for variable in variables]


class CodeEmbeddingContract:
    """Mixed into a `LayerTestCase` whose class attributes say:

    - `layer_class` and `init_kwargs` (frozen form, without `learn_codes`);
    - `training_kwargs`: extra arguments of the training form, each of which
      adds to what the layer trains (so that one fit step changes it all);
    - `frozen_counts` and `training_counts`: `(trainable weights,
      non-trainable weights, seed generators, losses)` of each form;
    - `default_learn_codes`: the form the layer takes by default;
    - `bad_arguments`: `(name, value)` pairs of its own arguments that the
      constructor must refuse, besides the shared ones.
    """

    # Refused by both layers, in either form.
    shared_bad_arguments = [
        *[("codebook_size", value) for value in (1, 257, True)],
        *[("input_dim", value) for value in (0, -1, False)],
        *[("output_dim", value) for value in (0, 3.5)],
        *[("temperature", value) for value in (0, -0.5)],
        *[("hidden_units", value) for value in (0, True)],
    ]
    bad_arguments = []

    layer_class = None
    init_kwargs = {}
    training_kwargs = {}
    frozen_counts = ()
    training_counts = ()
    default_learn_codes = None

    def kwargs(self, learn_codes, **extra):
        training = self.training_kwargs if learn_codes else {}
        return {
            **self.init_kwargs,
            **training,
            "learn_codes": learn_codes,
            **extra,
        }

    def run_contract(self, learn_codes, counts, **extra):
        trainable, non_trainable, seed_generators, losses = counts
        self.run_layer_test(
            self.layer_class,
            self.kwargs(learn_codes, **extra),
            input_data=IDS,
            expected_output_shape=(*IDS.shape, OUTPUT_DIM),
            supports_masking=extra.get("mask_zero", False),
            expected_num_trainable_weights=trainable,
            expected_num_non_trainable_weights=non_trainable,
            expected_num_seed_generators=seed_generators,
            expected_num_losses=losses,
        )

    def test_frozen_form(self):
        self.run_contract(False, self.frozen_counts)

    def test_training_form(self):
        self.run_contract(True, self.training_counts)

    def test_masking(self):
        for learn_codes, counts in (
            (False, self.frozen_counts),
            (True, self.training_counts),
        ):
            with self.subTest(learn_codes=learn_codes):
                self.run_contract(learn_codes, counts, mask_zero=True)
        layer = self.layer_class(**self.kwargs(False))
        self.assertIsNone(layer.compute_mask(np.array([2, 1, 0])))

    def test_freeze_codes_errors(self):
        frozen = self.layer_class(**self.kwargs(False))
        frozen.build()
        with self.assertRaisesRegex(ValueError, "already frozen"):
            freeze_codes(frozen)
        with self.assertRaisesRegex(ValueError, "no CodebookEmbedding"):
            freeze_codes(classifier(frozen))
        training = self.layer_class(**self.kwargs(True))
        with self.assertRaisesRegex(ValueError, "needs a built layer"):
            freeze_codes(training)
        training.build()
        with self.assertRaisesRegex(ValueError, "Received: batch_size=0"):
            freeze_codes(training, batch_size=0)

    def test_freeze_codes_makes_a_new_layer_and_model(self):
        layer = self.layer_class(**self.kwargs(True))
        model = classifier(layer)
        model.compile(keras.optimizers.Adam(0.1), "mse")
        model.fit(IDS, TARGETS, epochs=3, verbose=0)
        layer_outputs = layer(IDS)
        outputs = model.predict(IDS, verbose=0)
        weights = values(model.weights)

        frozen_layer = freeze_codes(layer, batch_size=5)
        frozen_model = freeze_codes(model, batch_size=5)

        # The originals are as they were.
        self.assertTrue(layer.learn_codes)
        self.assertIs(model.layers[0], layer)
        for before, after in zip(weights, values(model.weights)):
            np.testing.assert_array_equal(before, after)
        # The copies give the same inference outputs, from the frozen form.
        frozen_in_model = frozen_model.layers[0]
        num_weights = sum(self.frozen_counts[:2])
        for frozen in (frozen_layer, frozen_in_model):
            self.assertIs(type(frozen), self.layer_class)
            self.assertFalse(frozen.learn_codes)
            self.assertFalse(hasattr(frozen, "embeddings"))
            self.assertEqual(len(frozen.weights), num_weights)
        self.assertAllClose(frozen_layer(IDS), layer_outputs, atol=1e-6)
        self.assertAllClose(frozen_model.predict(IDS, verbose=0), outputs)
        # A fresh compile fits the new model; the old one keeps its own.
        frozen_model.compile(keras.optimizers.Adam(0.01), "mse")
        frozen_model.fit(IDS, TARGETS, verbose=0)
        model.fit(IDS, TARGETS, verbose=0)
        path = os.path.join(self.get_temp_dir(), "frozen.keras")
        frozen_model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIs(type(loaded.layers[0]), self.layer_class)
        self.assertFalse(loaded.layers[0].learn_codes)
        self.assertAllClose(
            loaded.predict(IDS, verbose=0),
            frozen_model.predict(IDS, verbose=0),
        )

    def test_warm_start_errors(self):
        frozen = self.layer_class(**self.kwargs(False))
        frozen.build()
        with self.assertRaisesRegex(ValueError, "training form"):
            warm_start(frozen)
        training = self.layer_class(**self.kwargs(True))
        training.build()
        with self.assertRaisesRegex(ValueError, "Received: epochs=0"):
            warm_start(training, epochs=0)
        with self.assertRaisesRegex(ValueError, "Received: layer=Dense"):
            warm_start(keras.layers.Dense(2))

    def test_deprecated_methods_warn_and_still_work(self):
        layer = self.layer_class(**self.kwargs(True))
        layer.build()
        with self.assertWarnsRegex(
            DeprecationWarning, "keras_dccl.models.warm_start"
        ):
            history = layer.warm_start(epochs=2, batch_size=4)
        self.assertEqual(len(history.history["loss"]), 2)
        expected = layer(IDS)
        with self.assertWarnsRegex(
            DeprecationWarning, "keras_dccl.models.freeze_codes"
        ):
            layer.freeze_codes(batch_size=5)
        self.assertFalse(layer.learn_codes)
        self.assertFalse(hasattr(layer, "embeddings"))
        self.assertAllClose(layer(IDS), expected)

    def test_default_form(self):
        # Each layer's usual form: the compressed embedding for
        # CodebookEmbedding, the one that learns lengths for the adaptive
        # one. The config holds the form, whatever the default.
        layer = self.layer_class(**self.init_kwargs)
        self.assertEqual(layer.learn_codes, self.default_learn_codes)
        self.assertEqual(
            layer.get_config()["learn_codes"], self.default_learn_codes
        )
        self.assertIn(
            f"Defaults to `{self.default_learn_codes}`",
            self.layer_class.__doc__,
        )

    def test_temperature_variables(self):
        frozen = self.layer_class(**self.kwargs(False))
        training = self.layer_class(**self.kwargs(True))
        self.assertEqual(training.temperature_variables(), [])
        frozen.build()
        training.build()
        self.assertEqual(frozen.temperature_variables(), [])
        variables = training.temperature_variables()
        self.assertIn(training.encoder.temperature, variables)
        for variable in variables:
            self.assertIn(variable, training.non_trainable_weights)

    def test_bad_arguments(self):
        for learn_codes in (False, True):
            for name, value in self.shared_bad_arguments + self.bad_arguments:
                with self.subTest(
                    name=name, value=value, learn_codes=learn_codes
                ):
                    with self.assertRaisesRegex(
                        ValueError, f"`{name}` must be .* Received: {name}="
                    ):
                        self.layer_class(
                            **{**self.kwargs(learn_codes), name: value}
                        )


class CodebookEmbeddingContractTest(CodeEmbeddingContract, LayerTestCase):
    layer_class = CodebookEmbedding
    init_kwargs = {
        "input_dim": 12,
        "output_dim": OUTPUT_DIM,
        "num_codebooks": 3,
        "codebook_size": 4,
        "seed": 1,
    }
    training_kwargs = {
        "hidden_units": 5,
        "temperature": 0.5,
        "straight_through": True,
        "reconstruction_weight": 0.5,
    }
    # Frozen: codebooks; codes. Training: embeddings, codebooks, the
    # encoder's two kernels and biases; its temperature; its noise; the
    # reconstruction loss.
    frozen_counts = (1, 1, 0, 0)
    training_counts = (6, 1, 1, 1)
    default_learn_codes = False
    bad_arguments = [
        *[("num_codebooks", value) for value in (0, -1, True, 2.5)],
        ("codebook_size", 16.0),
        *[("reconstruction_weight", value) for value in (-1.0, "1")],
    ]


class AdaptiveCodebookEmbeddingContractTest(
    CodeEmbeddingContract, LayerTestCase
):
    layer_class = AdaptiveCodebookEmbedding
    init_kwargs = {
        "input_dim": 12,
        "output_dim": OUTPUT_DIM,
        "code_lengths": (0, 1, 3),
        "codebook_size": 4,
        "seed": 1,
    }
    training_kwargs = {
        "target_bits_per_word": 3.0,
        "size_penalty": 0.5,
        "hidden_units": 5,
        "temperature": 0.5,
    }
    # Frozen: fallback, codebooks; lengths, codes. Training: embeddings,
    # length logits, fallback, codebooks, the encoder's four; the two
    # temperatures; the length noise and the encoder's; the size penalty.
    frozen_counts = (2, 2, 0, 0)
    training_counts = (8, 2, 2, 1)
    default_learn_codes = True
    bad_arguments = [
        *[
            ("code_lengths", value)
            for value in ([], (4, 2), (-1, 2), (2, 2, 4), (True, 2), (0,), 3)
        ],
        *[("target_bits_per_word", value) for value in (0, -1.0, True)],
        *[("size_penalty", value) for value in (-0.1, True)],
    ]
