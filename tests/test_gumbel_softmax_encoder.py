import numpy as np
import pytest
import tensorflow as tf
from keras import ops
from layer_test_case import LayerTestCase

from keras_dccl.layers.gumbel_softmax_encoder import GumbelSoftmaxEncoder

NUM_CODEBOOKS = 3
CODEBOOK_SIZE = 4
INPUT_DIM = 6
INIT_KWARGS = {
    "num_codebooks": NUM_CODEBOOKS,
    "codebook_size": CODEBOOK_SIZE,
    "seed": 1,
}


def random_vectors(batch_size=4):
    rng = np.random.default_rng(0)
    return rng.normal(size=(batch_size, INPUT_DIM)).astype("float32")


def encoder_with_known_logits(probabilities, **kwargs):
    """An encoder whose logits are `log(probabilities)` for every input.

    The kernels are zero and `softplus(bias) = probabilities`, so the logits
    `log(softplus(bias) + epsilon)` do not depend on the input.
    """
    num_codebooks, codebook_size = probabilities.shape
    encoder = GumbelSoftmaxEncoder(num_codebooks, codebook_size, **kwargs)
    encoder.build((None, INPUT_DIM))
    kernel, _ = encoder.logits_dense.weights
    kernel.assign(np.zeros(kernel.shape, "float32"))
    bias = np.log(np.expm1(probabilities.reshape(-1)))
    encoder.logits_dense.bias.assign(bias.astype("float32"))
    return encoder


def graph_op_types(function, input_dim=INPUT_DIM):
    spec = tf.TensorSpec((None, input_dim), "float32")
    graph = tf.function(function).get_concrete_function(spec).graph
    return {op.type for op in graph.get_operations()}


class GumbelSoftmaxEncoderTest(LayerTestCase):
    def test_layer(self):
        self.run_layer_test(
            GumbelSoftmaxEncoder,
            INIT_KWARGS,
            input_data=random_vectors(),
            expected_output_shape=(4, NUM_CODEBOOKS, CODEBOOK_SIZE),
        )

    def test_layer_with_straight_through(self):
        self.run_layer_test(
            GumbelSoftmaxEncoder,
            {
                **INIT_KWARGS,
                "hidden_units": 5,
                "temperature": 0.5,
                "straight_through": True,
                "epsilon": 1e-6,
                "kernel_initializer": "he_normal",
            },
            input_data=random_vectors(),
            expected_output_shape=(4, NUM_CODEBOOKS, CODEBOOK_SIZE),
        )

    def test_any_leading_shape(self):
        encoder = GumbelSoftmaxEncoder(**INIT_KWARGS)
        vectors = random_vectors(6).reshape(2, 3, INPUT_DIM)
        expected_shape = (2, 3, NUM_CODEBOOKS, CODEBOOK_SIZE)
        self.assertEqual(encoder(vectors).shape, expected_shape)
        self.assertEqual(encoder(vectors, training=True).shape, expected_shape)
        self.assertEqual(encoder.compute_codes(vectors).shape, (2, 3, 3))
        self.assertEqual(
            encoder.compute_output_shape((None, 3, INPUT_DIM)),
            (None, *expected_shape[1:]),
        )

    def test_weights(self):
        encoder = GumbelSoftmaxEncoder(**INIT_KWARGS)
        encoder.build((None, INPUT_DIM))
        self.assertEqual(
            encoder.hidden_units, NUM_CODEBOOKS * CODEBOOK_SIZE // 2
        )
        self.assertEqual(encoder.hidden_dense.kernel.shape, (INPUT_DIM, 6))
        self.assertEqual(encoder.logits_dense.kernel.shape, (6, 12))
        self.assertEqual(encoder.non_trainable_weights, [encoder.temperature])
        self.assertEqual(encoder.temperature.dtype, "float32")
        self.assertEqual(len(encoder.trainable_weights), 4)

    def test_inference_output_is_one_hot_of_compute_codes(self):
        encoder = GumbelSoftmaxEncoder(**INIT_KWARGS)
        vectors = random_vectors(16)
        outputs = ops.convert_to_numpy(encoder(vectors))
        codes = ops.convert_to_numpy(encoder.compute_codes(vectors))
        self.assertEqual(codes.dtype, np.int32)
        self.assertEqual(codes.shape, (16, NUM_CODEBOOKS))
        self.assertTrue(np.all((codes >= 0) & (codes < CODEBOOK_SIZE)))
        np.testing.assert_array_equal(
            outputs, np.eye(CODEBOOK_SIZE, dtype="float32")[codes]
        )
        # Inference is deterministic: no noise.
        np.testing.assert_array_equal(
            ops.convert_to_numpy(encoder(vectors)), outputs
        )

    def test_codes_match_numpy_reference(self):
        encoder = GumbelSoftmaxEncoder(**INIT_KWARGS)
        vectors = random_vectors(16)
        codes = ops.convert_to_numpy(encoder.compute_codes(vectors))
        hidden_kernel, hidden_bias = encoder.hidden_dense.get_weights()
        logits_kernel, logits_bias = encoder.logits_dense.get_weights()
        hidden = np.tanh(vectors @ hidden_kernel + hidden_bias)
        activations = hidden @ logits_kernel + logits_bias
        logits = np.log(np.logaddexp(0, activations) + 1e-8)
        expected = logits.reshape(16, NUM_CODEBOOKS, CODEBOOK_SIZE).argmax(-1)
        np.testing.assert_array_equal(codes, expected)

    def test_ties_break_to_the_smallest_index(self):
        probabilities = np.array(
            [[0.1, 0.3, 0.3, 0.2], [0.2, 0.2, 0.2, 0.2], [0.05, 0.1, 0.5, 0.5]],
            dtype="float32",
        )
        encoder = encoder_with_known_logits(probabilities)
        vectors = random_vectors()
        expected_codes = np.tile([1, 0, 2], (len(vectors), 1))
        np.testing.assert_array_equal(
            ops.convert_to_numpy(encoder.compute_codes(vectors)),
            expected_codes,
        )
        np.testing.assert_array_equal(
            ops.convert_to_numpy(encoder(vectors)),
            np.eye(CODEBOOK_SIZE, dtype="float32")[expected_codes],
        )

    @pytest.mark.tensorflow_only
    def test_no_argmax_in_the_graphs(self):
        encoder = GumbelSoftmaxEncoder(**INIT_KWARGS, straight_through=True)
        encoder.build((None, INPUT_DIM))
        for function in (
            encoder,
            encoder.compute_codes,
            lambda x: encoder(x, training=True),
        ):
            op_types = graph_op_types(function)
            self.assertNotIn("ArgMax", op_types)
            self.assertNotIn("ArgMin", op_types)

    def test_training_outputs_are_distributions_that_differ(self):
        encoder = GumbelSoftmaxEncoder(**INIT_KWARGS)
        vectors = random_vectors()
        first = ops.convert_to_numpy(encoder(vectors, training=True))
        second = ops.convert_to_numpy(encoder(vectors, training=True))
        for samples in (first, second):
            self.assertTrue(np.all(samples >= 0))
            self.assertAllClose(samples.sum(axis=-1), np.ones((4, 3)))
            # Relaxed, not one-hot.
            self.assertLess(samples.max(), 1.0)
        self.assertFalse(np.allclose(first, second))

    def test_sampled_codes_follow_the_code_probabilities(self):
        # Gumbel-max property: the largest entry of a relaxed sample is
        # distributed as softmax(logits), whatever the temperature.
        probabilities = np.array(
            [[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]], dtype="float32"
        )
        encoder = encoder_with_known_logits(
            probabilities, temperature=0.1, seed=7
        )
        samples = encoder(random_vectors(4000), training=True)
        samples = ops.convert_to_numpy(samples)
        positions = samples.argmax(axis=-1)
        for m in range(len(probabilities)):
            frequencies = np.bincount(positions[:, m], minlength=4) / 4000
            self.assertAllClose(frequencies, probabilities[m], atol=0.03)

    @pytest.mark.tensorflow_only
    def test_straight_through_is_one_hot_with_gradients(self):
        encoder = GumbelSoftmaxEncoder(**INIT_KWARGS, straight_through=True)
        vectors = random_vectors()
        loss_weights = np.random.default_rng(2).normal(
            size=(4, NUM_CODEBOOKS, CODEBOOK_SIZE)
        )
        encoder.build((None, INPUT_DIM))
        with tf.GradientTape() as tape:
            outputs = encoder(vectors, training=True)
            loss = tf.reduce_sum(outputs * loss_weights)
        outputs = outputs.numpy()
        self.assertAllClose(
            outputs, np.eye(CODEBOOK_SIZE)[outputs.argmax(axis=-1)]
        )
        gradients = tape.gradient(loss, encoder.trainable_weights)
        for weight, gradient in zip(encoder.trainable_weights, gradients):
            self.assertIsNotNone(gradient, weight.path)
            self.assertGreater(np.abs(gradient.numpy()).max(), 0, weight.path)

    @pytest.mark.tensorflow_only
    def test_temperature_assign_changes_sharpness_without_retracing(self):
        encoder = GumbelSoftmaxEncoder(**INIT_KWARGS, temperature=5.0)
        vectors = random_vectors(64)
        encoder.build((None, INPUT_DIM))
        sample = tf.function(lambda x: encoder(x, training=True))
        soft_peak = sample(vectors).numpy().max(axis=-1).mean()
        encoder.temperature.assign(0.05)
        sharp_peak = sample(vectors).numpy().max(axis=-1).mean()
        self.assertLess(soft_peak, 0.6)
        self.assertGreater(sharp_peak, 0.95)
        self.assertEqual(sample.experimental_get_tracing_count(), 1)
        self.assertEqual(encoder.get_config()["temperature"], 5.0)

    def test_bad_arguments(self):
        bad_arguments = [
            ("num_codebooks", value) for value in (0, -1, True, 2.5, None)
        ]
        bad_arguments += [("codebook_size", value) for value in (1, True, 2.0)]
        bad_arguments += [("hidden_units", value) for value in (0, -3, 1.5)]
        bad_arguments += [
            ("temperature", value) for value in (0, -1.0, True, "1", np.nan)
        ]
        bad_arguments += [("epsilon", value) for value in (0.0, -1e-8)]
        for name, value in bad_arguments:
            with self.subTest(name=name, value=value):
                with self.assertRaisesRegex(
                    ValueError, f"`{name}` must be .* Received: {name}="
                ):
                    GumbelSoftmaxEncoder(**{**INIT_KWARGS, name: value})
