import json
import os
import types

import keras
import numpy as np
from layer_test_case import LayerTestCase

from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.models import freeze_codes
from keras_dccl.models import warm_start

INPUT_DIM = 10
OUTPUT_DIM = 6
NUM_CODEBOOKS = 3
CODEBOOK_SIZE = 4
INIT_KWARGS = {
    "input_dim": INPUT_DIM,
    "output_dim": OUTPUT_DIM,
    "num_codebooks": NUM_CODEBOOKS,
    "codebook_size": CODEBOOK_SIZE,
    "seed": 1,
}


def random_ids(*shape):
    rng = np.random.default_rng(0)
    return rng.integers(0, INPUT_DIM, size=shape).astype("int32")


def random_compressed():
    """A duck-typed compressed embedding with known codes and codebooks."""
    rng = np.random.default_rng(3)
    codes = rng.integers(0, CODEBOOK_SIZE, size=(INPUT_DIM, NUM_CODEBOOKS))
    codebooks = rng.normal(size=(NUM_CODEBOOKS, CODEBOOK_SIZE, OUTPUT_DIM))
    return types.SimpleNamespace(
        codes=codes.astype("uint8"), codebooks=codebooks.astype("float32")
    )


def reference_embeddings(codes, codebooks, ids):
    """Independent NumPy reference: sum of codebooks[m, codes[id, m]]."""
    word_codes = codes[ids].astype("int64")
    return sum(
        codebooks[m][word_codes[..., m]] for m in range(codebooks.shape[0])
    )


def pretrained(vectors, train_embeddings, **options):
    """A training-form layer of the test's shape from `vectors`."""
    return CodebookEmbedding.from_pretrained(
        vectors,
        num_codebooks=NUM_CODEBOOKS,
        codebook_size=CODEBOOK_SIZE,
        train_embeddings=train_embeddings,
        **options,
    )


def squared_error(outputs, vectors):
    return np.mean(np.square(keras.ops.convert_to_numpy(outputs) - vectors))


def classifier(embedding_layer):
    model = keras.Sequential()
    model.add(embedding_layer)
    model.add(keras.layers.GlobalAveragePooling1D())
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


# The standard checks of both forms, masking and the errors that both code
# embeddings share: tests/test_code_embedding_contract.py.
class CodebookEmbeddingTest(LayerTestCase):
    def test_training_form_weights(self):
        layer = CodebookEmbedding(**INIT_KWARGS, learn_codes=True)
        layer.build()
        self.assertEqual(
            [weight.path for weight in layer.trainable_weights],
            [
                f"{layer.name}/embeddings",
                f"{layer.name}/decoder/codebooks",
                f"{layer.name}/encoder/hidden_dense/kernel",
                f"{layer.name}/encoder/hidden_dense/bias",
                f"{layer.name}/encoder/logits_dense/kernel",
                f"{layer.name}/encoder/logits_dense/bias",
            ],
        )
        self.assertEqual(
            layer.non_trainable_weights, [layer.encoder.temperature]
        )

    def test_reconstruction_loss(self):
        layer = CodebookEmbedding(
            **INIT_KWARGS, learn_codes=True, reconstruction_weight=2.0
        )
        ids = random_ids(3, 4)
        outputs = keras.ops.convert_to_numpy(layer(ids))
        vectors = keras.ops.convert_to_numpy(layer.embeddings)[ids]
        expected = 2.0 * np.mean(np.sum((outputs - vectors) ** 2, axis=-1))
        (loss,) = layer.losses
        self.assertAllClose(loss, expected, rtol=1e-5)
        self.assertEqual(layer.get_config()["reconstruction_weight"], 2.0)
        # Without the weight, no loss.
        quiet = CodebookEmbedding(**INIT_KWARGS, learn_codes=True)
        quiet(ids)
        self.assertEqual(quiet.losses, [])

    def test_drop_in_replacement_for_embedding(self):
        ids = random_ids(8, 5)
        targets = np.ones((8, 1), "float32")
        models = [
            classifier(keras.layers.Embedding(INPUT_DIM, OUTPUT_DIM)),
            classifier(CodebookEmbedding(INPUT_DIM, OUTPUT_DIM, seed=1)),
        ]
        for model in models:
            history = model.fit(ids, targets, batch_size=8, verbose=0)
            self.assertTrue(np.isfinite(history.history["loss"][0]))
            self.assertEqual(model.predict(ids, verbose=0).shape, (8, 1))
        self.assertEqual(models[0].output_shape, models[1].output_shape)
        path = os.path.join(self.get_temp_dir(), "model.keras")
        models[1].save(path)
        loaded = keras.saving.load_model(path)
        self.assertIs(type(loaded.layers[0]), CodebookEmbedding)
        self.assertAllClose(loaded(ids), models[1](ids))

    def test_codes_weight(self):
        layer = CodebookEmbedding(**INIT_KWARGS)
        layer.build()
        self.assertEqual(layer.codes.dtype, "uint8")
        self.assertEqual(layer.codes.shape, (INPUT_DIM, NUM_CODEBOOKS))
        self.assertFalse(layer.codes.trainable)
        self.assertEqual(layer.trainable_weights, [layer.decoder.codebooks])
        self.assertEqual(layer.non_trainable_weights, [layer.codes])
        codes = layer.codes.numpy()
        self.assertTrue(np.all(codes < CODEBOOK_SIZE))
        self.assertGreater(len(np.unique(codes)), 1)
        # Deterministic given the seed.
        same_seed = CodebookEmbedding(**INIT_KWARGS)
        same_seed.build()
        np.testing.assert_array_equal(same_seed.codes.numpy(), codes)

    def test_output_matches_numpy_reference(self):
        compressed = random_compressed()
        layer = CodebookEmbedding.from_compressed(compressed)
        for ids in (random_ids(7), random_ids(2, 5), random_ids(2, 3, 4)):
            outputs = layer(ids)
            self.assertEqual(outputs.shape, (*ids.shape, OUTPUT_DIM))
            expected = reference_embeddings(
                compressed.codes, compressed.codebooks, ids
            )
            self.assertAllClose(outputs, expected, atol=1e-5)

    def test_from_compressed(self):
        compressed = random_compressed()
        layer = CodebookEmbedding.from_compressed(
            compressed, mask_zero=True, trainable_codebooks=False, name="words"
        )
        self.assertEqual(layer.name, "words")
        self.assertTrue(layer.mask_zero)
        self.assertFalse(layer.learn_codes)
        self.assertEqual(layer.trainable_weights, [])
        np.testing.assert_array_equal(layer.codes.numpy(), compressed.codes)
        np.testing.assert_array_equal(
            layer.decoder.codebooks.numpy(),
            compressed.codebooks.reshape(-1, OUTPUT_DIM),
        )
        restored = CodebookEmbedding.from_config(layer.get_config())
        self.assertFalse(restored.trainable)

    def test_from_compressed_rejects_bad_codes(self):
        compressed = random_compressed()
        compressed.codes[0, 0] = CODEBOOK_SIZE
        with self.assertRaisesRegex(
            ValueError, "Received: codes in \\[0, 4\\]"
        ):
            CodebookEmbedding.from_compressed(compressed)
        compressed = random_compressed()
        compressed.codebooks = compressed.codebooks[:2]
        with self.assertRaisesRegex(
            ValueError, "codebooks.shape=\\(2, 4, 6\\)"
        ):
            CodebookEmbedding.from_compressed(compressed)

    def test_from_pretrained(self):
        vectors = np.random.default_rng(4).normal(size=(INPUT_DIM, OUTPUT_DIM))
        layer = CodebookEmbedding.from_pretrained(
            vectors, num_codebooks=NUM_CODEBOOKS, codebook_size=CODEBOOK_SIZE
        )
        self.assertTrue(layer.learn_codes)
        self.assertAllClose(layer.embeddings, vectors)
        self.assertFalse(layer.embeddings.trainable)
        config = layer.get_config()
        self.assertLess(len(json.dumps(config)), 2000)
        # Inference decodes the hard codes of the embeddings.
        codes = keras.ops.convert_to_numpy(
            layer.encoder.compute_codes(layer.embeddings)
        )
        codebooks = layer.decoder.codebooks.numpy().reshape(
            NUM_CODEBOOKS, CODEBOOK_SIZE, OUTPUT_DIM
        )
        for ids in (random_ids(7), random_ids(2, 5), random_ids(2, 3, 4)):
            outputs = layer(ids)
            self.assertEqual(outputs.shape, (*ids.shape, OUTPUT_DIM))
            expected = reference_embeddings(codes, codebooks, ids)
            self.assertAllClose(outputs, expected, atol=1e-5)
            training_outputs = layer(ids, training=True)
            self.assertEqual(training_outputs.shape, outputs.shape)

    def test_warm_start_fits_the_codes_to_the_embeddings(self):
        # Vectors that M=3, K=4 codes can hold exactly; a warm start gets
        # the codes part of the way there.
        rng = np.random.default_rng(5)
        compressed = random_compressed()
        codes = rng.integers(0, CODEBOOK_SIZE, size=(64, NUM_CODEBOOKS))
        vectors = 0.3 * reference_embeddings(
            codes, compressed.codebooks, np.arange(64)
        )
        ids = np.arange(64, dtype="int32")
        for train_embeddings in (False, True):
            layer = pretrained(vectors, train_embeddings, seed=2)
            before = squared_error(layer(ids), vectors)
            history = warm_start(layer, epochs=40, batch_size=8)
            after = squared_error(layer(ids), vectors)
            self.assertLess(after, 0.7 * before)
            self.assertEqual(len(history.history["loss"]), 40)
            self.assertLess(
                history.history["loss"][-1], history.history["loss"][0]
            )
            # Annealed from 1 to 0.1 over the fit.
            temperatures = history.history["temperature"]
            self.assertAllClose([temperatures[0], temperatures[-1]], [1, 0.1])
            # The embeddings are the target: they neither change nor lose
            # their trainable flag.
            self.assertAllClose(layer.embeddings, vectors)
            self.assertEqual(layer.embeddings.trainable, train_embeddings)

    def test_freeze_codes(self):
        vectors = np.random.default_rng(4).normal(size=(INPUT_DIM, OUTPUT_DIM))
        for options in (
            {},
            {"exact_rows": 3},
            {"exact_rows": 3, "exact_rows_dtype": "int4"},
        ):
            with self.subTest(**options):
                layer = pretrained(vectors, True, seed=1, **options)
                if options:
                    layer.set_exact_rows([0, 4, 7], vectors[[0, 4, 7]])
                classifier(layer).fit(
                    random_ids(8, 5), np.ones((8, 1)), verbose=0
                )
                embeddings = keras.ops.convert_to_numpy(layer.embeddings)
                expected_codes = keras.ops.convert_to_numpy(
                    layer.encoder.compute_codes(embeddings)
                )

                frozen = freeze_codes(layer, batch_size=3)

                self.assertFalse(frozen.get_config()["learn_codes"])
                self.assertFalse(hasattr(frozen, "encoder"))
                config = {**layer.get_config(), "learn_codes": False}
                self.assertEqual(frozen.get_config(), config)
                self.assertEqual(frozen.codes.dtype, "uint8")
                np.testing.assert_array_equal(
                    frozen.codes.numpy(), expected_codes
                )
                words = np.arange(INPUT_DIM)
                self.assertAllClose(frozen(words), layer(words))
                queries = random_compressed().codebooks[0]
                self.assertAllClose(
                    frozen(queries, reverse=True),
                    layer(queries, reverse=True),
                    atol=1e-5,
                )
                # The original keeps its training form.
                self.assertTrue(layer.learn_codes)
                self.assertAllClose(layer.embeddings, embeddings)
