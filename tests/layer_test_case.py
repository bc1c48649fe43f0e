"""Shared test base: the standard checks that every keras-dccl layer passes."""

import os
import shutil
import tempfile
import unittest

import keras
import numpy as np

from keras_dccl.utils.model_layers import model_layers


class LayerTestCase(unittest.TestCase):
    """`unittest.TestCase` with `run_layer_test()` and NumPy assertions."""

    def setUp(self):
        keras.utils.set_random_seed(1337)

    def get_temp_dir(self):
        temp_dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, temp_dir)
        return temp_dir

    def assertAllClose(self, actual, expected, atol=1e-6, rtol=1e-6):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(actual),
            keras.ops.convert_to_numpy(expected),
            atol=atol,
            rtol=rtol,
        )

    def run_layer_test(
        self,
        layer_class,
        init_kwargs,
        input_data,
        expected_output_shape,
        supports_masking=False,
        expected_num_trainable_weights=None,
        expected_num_non_trainable_weights=None,
        expected_num_seed_generators=None,
        expected_num_losses=None,
    ):
        """Runs every standard check on `layer_class(**init_kwargs)`.

        Args:
            layer_class: The layer class under test.
            init_kwargs: Dict of constructor arguments.
            input_data: NumPy array fed to the layer.
            expected_output_shape: Output shape for `input_data`.
            supports_masking: Whether the layer should compute a mask, which
                is then expected to be `input_data != 0`.
            expected_num_trainable_weights,
            expected_num_non_trainable_weights,
            expected_num_seed_generators (its own and its sub-layers'),
            expected_num_losses (after one call in training mode):
                Optional counts, checked once the layer is built, as
                Keras's own `run_layer_test` does.
        """
        self.check_build_and_call(
            layer_class, init_kwargs, input_data, expected_output_shape
        )
        self.check_counts(
            layer_class(**init_kwargs),
            input_data,
            trainable_weights=expected_num_trainable_weights,
            non_trainable_weights=expected_num_non_trainable_weights,
            seed_generators=expected_num_seed_generators,
            losses=expected_num_losses,
        )
        self.check_fit_one_step(layer_class, init_kwargs, input_data)
        self.check_config_round_trip(layer_class, init_kwargs)
        self.check_save_and_load(layer_class, init_kwargs, input_data)
        self.check_mixed_precision(layer_class, init_kwargs, input_data)
        self.check_masking(
            layer_class, init_kwargs, input_data, supports_masking
        )

    def check_build_and_call(
        self, layer_class, init_kwargs, input_data, expected_output_shape
    ):
        layer = layer_class(**init_kwargs)
        outputs = layer(input_data)
        self.assertTrue(layer.built)
        self.assertEqual(tuple(outputs.shape), tuple(expected_output_shape))
        self.assertEqual(
            keras.backend.standardize_dtype(outputs.dtype), "float32"
        )
        symbolic_inputs = keras.Input(
            shape=input_data.shape[1:], dtype=str(input_data.dtype)
        )
        self.assertEqual(
            tuple(layer(symbolic_inputs).shape),
            (None, *expected_output_shape[1:]),
        )

    def check_counts(self, layer, input_data, **expected):
        """Counts of `layer`'s parts after one call; `None`: not checked."""
        layer(input_data, training=True)
        counts = {
            "trainable_weights": len(layer.trainable_weights),
            "non_trainable_weights": len(layer.non_trainable_weights),
            "seed_generators": len(seed_generators(layer)),
            "losses": len(layer.losses),
        }
        for name, number in expected.items():
            if number is not None:
                self.assertEqual(counts[name], number, f"number of {name}")

    def check_fit_one_step(self, layer_class, init_kwargs, input_data):
        layer = layer_class(**init_kwargs)
        model = self._make_model(layer, input_data)
        model.add(keras.layers.Dense(1))
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        self.assertNotEqual(layer.trainable_weights, [])
        before = [
            keras.ops.convert_to_numpy(w) for w in layer.trainable_weights
        ]
        targets = np.ones((len(input_data), *model.output_shape[1:]), "float32")
        history = model.fit(
            input_data, targets, batch_size=len(input_data), verbose=0
        )
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        for weight, value in zip(layer.trainable_weights, before):
            self.assertFalse(
                np.allclose(keras.ops.convert_to_numpy(weight), value),
                f"Weight {weight.path} did not change in one training step.",
            )

    def check_config_round_trip(self, layer_class, init_kwargs):
        layer = layer_class(**init_kwargs)
        config = layer.get_config()
        for name, value in init_kwargs.items():
            self.assertIn(name, config)
        self.assertEqual(layer_class.from_config(config).get_config(), config)
        # Registered: deserializes without `custom_objects`.
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(layer)
        )
        self.assertIs(type(restored), layer_class)
        self.assertEqual(restored.get_config(), config)

    def check_save_and_load(self, layer_class, init_kwargs, input_data):
        model = self._make_model(layer_class(**init_kwargs), input_data)
        outputs = model(input_data, training=False)
        path = os.path.join(self.get_temp_dir(), "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIs(type(loaded.layers[0]), layer_class)
        self.assertAllClose(loaded(input_data, training=False), outputs)

    def check_mixed_precision(self, layer_class, init_kwargs, input_data):
        keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            global_policy_layer = layer_class(**init_kwargs)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        explicit_policy_layer = layer_class(
            **init_kwargs, dtype="mixed_float16"
        )
        for layer in (global_policy_layer, explicit_policy_layer):
            outputs = layer(input_data)
            self.assertEqual(
                keras.backend.standardize_dtype(outputs.dtype), "float16"
            )
            for weight in layer.weights:
                if keras.backend.is_float_dtype(weight.dtype):
                    self.assertEqual(weight.dtype, "float32", weight.path)

    def check_masking(
        self, layer_class, init_kwargs, input_data, supports_masking
    ):
        layer = layer_class(**init_kwargs)
        self.assertEqual(layer.supports_masking, supports_masking)
        if supports_masking:
            mask = layer.compute_mask(input_data)
            self.assertAllClose(mask, input_data != 0)

    def _make_model(self, layer, input_data):
        model = keras.Sequential()
        model.add(
            keras.Input(shape=input_data.shape[1:], dtype=str(input_data.dtype))
        )
        model.add(layer)
        return model


def seed_generators(layer):
    """The seed generators of `layer` and its sub-layers, once each.

    As Keras's own test utilities count them (through `_seed_generators`, a
    Keras internal: there is no public way), over the package's layer walk.
    """
    found = {}
    for sublayer in [layer, *model_layers(layer)]:
        for generator in sublayer._seed_generators:
            found[id(generator)] = generator
    return list(found.values())
