import keras
import numpy as np
from layer_test_case import LayerTestCase

from keras_dccl.layers.adaptive_codebook_embedding import (
    AdaptiveCodebookEmbedding,
)
from keras_dccl.models import freeze_codes
from keras_dccl.models import warm_start

INPUT_DIM = 12
OUTPUT_DIM = 6
CODE_LENGTHS = (0, 1, 3)
CODEBOOK_SIZE = 4
INIT_KWARGS = {
    "input_dim": INPUT_DIM,
    "output_dim": OUTPUT_DIM,
    "code_lengths": CODE_LENGTHS,
    "codebook_size": CODEBOOK_SIZE,
    "seed": 1,
}


def random_ids(*shape):
    rng = np.random.default_rng(0)
    return rng.integers(0, INPUT_DIM, size=shape).astype("int32")


def reference_embeddings(lengths, codes, codebooks, fallback, ids):
    """Independent NumPy reference of the frozen lookup."""
    outputs = np.zeros((*ids.shape, OUTPUT_DIM), "float32")
    for position, word in np.ndenumerate(ids):
        length = CODE_LENGTHS[lengths[word]]
        if length == 0:
            outputs[position] = fallback
        for m in range(length):
            outputs[position] += codebooks[m, codes[word, m]]
    return outputs


def squared_error(outputs, vectors):
    return np.mean(np.square(keras.ops.convert_to_numpy(outputs) - vectors))


def classifier(embedding_layer, learning_rate=0.01):
    model = keras.Sequential()
    model.add(embedding_layer)
    model.add(keras.layers.GlobalAveragePooling1D())
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model


# The standard checks of both forms, masking and the errors that both code
# embeddings share: tests/test_code_embedding_contract.py.
class AdaptiveCodebookEmbeddingTest(LayerTestCase):
    def test_training_form_weights(self):
        layer = AdaptiveCodebookEmbedding(**INIT_KWARGS)
        layer.build()
        self.assertEqual(
            [weight.path for weight in layer.trainable_weights],
            [
                f"{layer.name}/embeddings",
                f"{layer.name}/length_logits",
                f"{layer.name}/fallback",
                f"{layer.name}/decoder/codebooks",
                f"{layer.name}/encoder/hidden_dense/kernel",
                f"{layer.name}/encoder/hidden_dense/bias",
                f"{layer.name}/encoder/logits_dense/kernel",
                f"{layer.name}/encoder/logits_dense/bias",
            ],
        )
        self.assertEqual(
            layer.non_trainable_weights,
            [layer.length_temperature, layer.encoder.temperature],
        )
        self.assertEqual(layer.decoder.num_codebooks, max(CODE_LENGTHS))
        self.assertTrue(layer.encoder.straight_through)

    def test_frozen_form_weights(self):
        layer = AdaptiveCodebookEmbedding(**INIT_KWARGS, learn_codes=False)
        layer.build()
        self.assertEqual(
            layer.trainable_weights, [layer.fallback, layer.decoder.codebooks]
        )
        self.assertEqual(
            layer.non_trainable_weights, [layer.lengths, layer.codes]
        )
        self.assertEqual(layer.lengths.dtype, "uint8")
        self.assertEqual(layer.codes.dtype, "uint8")
        self.assertEqual(layer.codes.shape, (INPUT_DIM, max(CODE_LENGTHS)))
        lengths = layer.lengths.numpy()
        self.assertEqual(set(lengths), {0, 1, 2})
        self.assertTrue(np.all(layer.codes.numpy() < CODEBOOK_SIZE))

    def test_frozen_output_matches_numpy_reference(self):
        rng = np.random.default_rng(3)
        lengths = np.arange(INPUT_DIM) % len(CODE_LENGTHS)
        codes = rng.integers(0, CODEBOOK_SIZE, (INPUT_DIM, 3))
        codebooks = rng.normal(size=(3, CODEBOOK_SIZE, OUTPUT_DIM))
        fallback = rng.normal(size=OUTPUT_DIM)
        layer = AdaptiveCodebookEmbedding(**INIT_KWARGS, learn_codes=False)
        layer.build()
        layer.lengths.assign(lengths.astype("uint8"))
        layer.codes.assign(codes.astype("uint8"))
        layer.decoder.codebooks.assign(codebooks.reshape(-1, OUTPUT_DIM))
        layer.fallback.assign(fallback)
        for ids in (random_ids(7), random_ids(2, 5), random_ids(2, 3, 4)):
            expected = reference_embeddings(
                lengths, codes, codebooks, fallback, ids
            )
            self.assertAllClose(layer(ids), expected, atol=1e-5)
        self.assertAllClose(layer(np.array([0, 3])), [fallback, fallback])
        self.assertAlmostEqual(
            layer.bits_per_word(),
            np.mean(np.array(CODE_LENGTHS)[lengths]) * 2,
            places=6,
        )

    def test_freeze_codes(self):
        vectors = np.random.default_rng(4).normal(size=(INPUT_DIM, OUTPUT_DIM))
        layer = AdaptiveCodebookEmbedding.from_pretrained(
            vectors,
            code_lengths=CODE_LENGTHS,
            codebook_size=CODEBOOK_SIZE,
            train_embeddings=True,
            target_bits_per_word=3.0,
            seed=1,
        )
        self.assertAllClose(layer.embeddings, vectors)
        model = classifier(layer, learning_rate=0.1)
        targets = np.random.default_rng(5).normal(size=(8, 1))
        model.fit(random_ids(8, 5), targets, batch_size=8, epochs=5, verbose=0)
        all_words = np.arange(INPUT_DIM)
        expected = layer(all_words)
        lengths = layer.compute_lengths()
        codes = layer.compute_codes()
        fallback = keras.ops.convert_to_numpy(layer.fallback)
        # Training moved the words apart: several lengths, a real test.
        self.assertGreater(len(set(lengths)), 1)

        frozen = freeze_codes(layer, batch_size=5)

        self.assertFalse(frozen.get_config()["learn_codes"])
        for name in (
            "embeddings",
            "length_logits",
            "length_temperature",
            "encoder",
            "seed_generator",
        ):
            self.assertFalse(hasattr(frozen, name), name)
        self.assertEqual(frozen.lengths.dtype, "uint8")
        np.testing.assert_array_equal(frozen.lengths.numpy(), lengths)
        np.testing.assert_array_equal(frozen.codes.numpy(), codes)
        self.assertAllClose(frozen.fallback, fallback)
        used = np.arange(3) < np.array(CODE_LENGTHS)[lengths][:, None]
        self.assertTrue(np.all(codes[~used] == 0))
        # Every word keeps its inference embedding.
        self.assertAllClose(frozen(all_words), expected)
        # The original keeps its training form.
        self.assertTrue(layer.learn_codes)
        self.assertAllClose(layer(all_words), expected)

    def test_warm_start_fits_the_codes_to_the_embeddings(self):
        # Vectors that codes of length 3 hold exactly.
        rng = np.random.default_rng(6)
        codebooks = 0.3 * rng.normal(size=(3, CODEBOOK_SIZE, OUTPUT_DIM))
        codes = rng.integers(0, CODEBOOK_SIZE, size=(48, 3))
        vectors = sum(codebooks[m][codes[:, m]] for m in range(3))
        vectors = vectors.astype("float32")
        layer = AdaptiveCodebookEmbedding.from_pretrained(
            vectors,
            code_lengths=CODE_LENGTHS,
            codebook_size=CODEBOOK_SIZE,
            target_bits_per_word=100.0,
            seed=3,
        )
        ids = np.arange(48, dtype="int32")
        before = squared_error(layer(ids), vectors)
        history = warm_start(layer, epochs=40, batch_size=8)
        after = squared_error(layer(ids), vectors)
        self.assertLess(after, 0.7 * before)
        self.assertLess(history.history["loss"][-1], history.history["loss"][0])
        self.assertAllClose(layer.embeddings, vectors)
        self.assertFalse(layer.embeddings.trainable)

    def test_expected_bits_per_word_needs_the_training_form(self):
        frozen = AdaptiveCodebookEmbedding(**INIT_KWARGS, learn_codes=False)
        frozen.build()
        with self.assertRaisesRegex(ValueError, "training form"):
            frozen.expected_bits_per_word()

    def test_bits_per_word(self):
        layer = AdaptiveCodebookEmbedding(**INIT_KWARGS)
        layer.build()
        # Nearly uniform at first, ties go to the longest code.
        np.testing.assert_array_equal(layer.compute_lengths(), [2] * INPUT_DIM)
        self.assertAlmostEqual(layer.bits_per_word(), 3 * 2, places=6)
        self.assertAlmostEqual(
            layer.expected_bits_per_word(), (0 + 1 + 3) / 3 * 2, places=1
        )
        logits = np.zeros((INPUT_DIM, 3), "float32")
        logits[:6, 0] = 2.0  # Six words of length 0,
        logits[6:9, 1] = 2.0  # three of length 1,
        logits[9:, 2] = 2.0  # three of length 3.
        layer.length_logits.assign(logits)
        np.testing.assert_array_equal(
            layer.compute_lengths(), [0] * 6 + [1] * 3 + [2] * 3
        )
        # log2(K) = 2 bits per code.
        self.assertAlmostEqual(
            layer.bits_per_word(), (3 * 1 + 3 * 3) * 2 / INPUT_DIM, places=6
        )
        probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        expected_bits = np.mean(probabilities @ [0.0, 2.0, 6.0])
        self.assertAlmostEqual(
            layer.expected_bits_per_word(), expected_bits, places=5
        )

    def test_size_penalty_value(self):
        for target, penalty in ((1.0, 2.0), (100.0, 2.0)):
            layer = AdaptiveCodebookEmbedding(
                **INIT_KWARGS, target_bits_per_word=target, size_penalty=penalty
            )
            layer(random_ids(3))
            expected_bits = layer.expected_bits_per_word()
            expected = penalty * max(0.0, expected_bits / target - 1) ** 2
            self.assertEqual(len(layer.losses), 1)
            loss = float(keras.ops.convert_to_numpy(layer.losses[0]))
            self.assertAlmostEqual(loss, expected, places=4)
        layer = AdaptiveCodebookEmbedding(**INIT_KWARGS)
        layer(random_ids(3))
        self.assertEqual(layer.losses, [])

    def test_size_penalty_moves_lengths_to_target(self):
        ids = np.random.default_rng(6).integers(0, 20, size=(32, 4))
        targets = np.random.default_rng(7).normal(size=(32, 1))

        def expected_bits_after_training(target_bits_per_word):
            keras.utils.set_random_seed(1)
            layer = AdaptiveCodebookEmbedding(
                20,
                4,
                code_lengths=(0, 2, 4, 8),
                codebook_size=4,
                target_bits_per_word=target_bits_per_word,
                seed=1,
            )
            model = classifier(layer, learning_rate=0.05)
            # 40 steps on the same batch, in one epoch.
            model.fit(
                np.tile(ids, (40, 1)),
                np.tile(targets, (40, 1)),
                batch_size=32,
                shuffle=False,
                verbose=0,
            )
            return layer.expected_bits_per_word()

        start = (0 + 2 + 4 + 8) / 4 * 2
        free = expected_bits_after_training(None)
        small = expected_bits_after_training(2.0)
        large = expected_bits_after_training(16.0)
        self.assertLess(small, 0.6 * free)
        self.assertLess(small, 1.5 * 2.0)
        # Below the target, the hinge leaves the lengths to the task (up to
        # the optimizer's numerics: the penalty makes the gradient dense).
        self.assertAllClose(large, free, rtol=0.1)
        self.assertGreater(large, 0.8 * start)

    def test_length_samples_follow_the_logits(self):
        layer = AdaptiveCodebookEmbedding(**INIT_KWARGS)
        layer.build()
        probabilities = np.array([0.2, 0.3, 0.5])
        layer.length_logits.assign(
            np.tile(np.log(probabilities), (INPUT_DIM, 1))
        )
        # Codebook m holds unit vector m in every row, the fallback unit
        # vector 5: an output shows the length it was made with.
        codebooks = np.repeat(np.eye(3, OUTPUT_DIM), CODEBOOK_SIZE, axis=0)
        layer.decoder.codebooks.assign(codebooks)
        layer.fallback.assign(np.eye(OUTPUT_DIM)[5])
        outputs = layer(np.zeros(4000, "int32"), training=True)
        outputs = keras.ops.convert_to_numpy(outputs)
        self.assertTrue(np.all(np.isin(outputs, (0.0, 1.0))))
        frequencies = [
            outputs[:, 5].mean(),
            (outputs[:, 0] - outputs[:, 2]).mean(),
            outputs[:, 2].mean(),
        ]
        self.assertAllClose(frequencies, probabilities, atol=0.03)
        # Inference takes the most likely length, 3.
        self.assertAllClose(layer(np.array([0])), [[1, 1, 1, 0, 0, 0]])
