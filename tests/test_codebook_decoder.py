import keras
import numpy as np
from layer_test_case import LayerTestCase

from keras_dccl.layers.codebook_decoder import CodebookDecoder

NUM_CODEBOOKS = 3
CODEBOOK_SIZE = 4
OUTPUT_DIM = 5
INIT_KWARGS = {
    "num_codebooks": NUM_CODEBOOKS,
    "codebook_size": CODEBOOK_SIZE,
    "output_dim": OUTPUT_DIM,
}


def random_codes(*leading_shape):
    rng = np.random.default_rng(0)
    shape = (*leading_shape, NUM_CODEBOOKS)
    return rng.integers(0, CODEBOOK_SIZE, size=shape).astype("int32")


def one_hot(codes):
    return np.eye(CODEBOOK_SIZE, dtype="float32")[codes]


def known_codebooks():
    """Codebooks (M, K, D) whose rows all differ."""
    size = NUM_CODEBOOKS * CODEBOOK_SIZE * OUTPUT_DIM
    values = np.arange(size, dtype="float32") / 7.0
    return values.reshape(NUM_CODEBOOKS, CODEBOOK_SIZE, OUTPUT_DIM)


def reference_decode(codebooks, codes):
    """Independent NumPy reference: sum of codebooks[m, codes[..., m]]."""
    outputs = np.zeros((*codes.shape[:-1], codebooks.shape[-1]), "float32")
    for m in range(codebooks.shape[0]):
        outputs += codebooks[m][codes[..., m]]
    return outputs


def decoder_with_known_codebooks():
    decoder = CodebookDecoder(**INIT_KWARGS)
    decoder.build()
    decoder.codebooks.assign(known_codebooks().reshape(-1, OUTPUT_DIM))
    return decoder


class CodebookDecoderTest(LayerTestCase):
    def test_layer_with_integer_codes(self):
        self.run_layer_test(
            CodebookDecoder,
            INIT_KWARGS,
            input_data=random_codes(2),
            expected_output_shape=(2, OUTPUT_DIM),
        )

    def test_layer_with_one_hot_codes(self):
        self.run_layer_test(
            CodebookDecoder,
            {**INIT_KWARGS, "codebooks_regularizer": "l2"},
            input_data=one_hot(random_codes(2)),
            expected_output_shape=(2, OUTPUT_DIM),
        )

    def test_codebooks_weight(self):
        decoder = CodebookDecoder(**INIT_KWARGS)
        decoder.build()
        self.assertEqual(decoder.weights, [decoder.codebooks])
        self.assertEqual(
            decoder.codebooks.shape,
            (NUM_CODEBOOKS * CODEBOOK_SIZE, OUTPUT_DIM),
        )
        values = decoder.codebooks.numpy()
        self.assertLessEqual(np.abs(values).max(), 0.01)
        # Each layer gets its own default initializer, so its own values.
        other = CodebookDecoder(**INIT_KWARGS)
        other.build()
        self.assertFalse(np.allclose(other.codebooks.numpy(), values))

    def test_integer_codes_match_numpy_reference(self):
        decoder = decoder_with_known_codebooks()
        for codes in (random_codes(6), random_codes(2, 3)):
            self.assertAllClose(
                decoder(codes), reference_decode(known_codebooks(), codes)
            )
        for dtype in ("uint8", "int64"):
            codes = random_codes(6)
            self.assertAllClose(
                decoder(codes.astype(dtype)),
                reference_decode(known_codebooks(), codes),
            )

    def test_codes_of_later_codebooks_read_their_own_rows(self):
        # The same code in every codebook reads row m * K + k, not row k:
        # an implementation without the offsets returns M * row k.
        decoder = decoder_with_known_codebooks()
        flat_codebooks = known_codebooks().reshape(-1, OUTPUT_DIM)
        code = 1
        rows = [m * CODEBOOK_SIZE + code for m in range(NUM_CODEBOOKS)]
        outputs = decoder(np.full((1, NUM_CODEBOOKS), code, "int32"))
        outputs = keras.ops.convert_to_numpy(outputs)
        self.assertAllClose(outputs[0], flat_codebooks[rows].sum(axis=0))
        self.assertFalse(
            np.allclose(outputs[0], NUM_CODEBOOKS * flat_codebooks[code])
        )

    def test_one_hot_codes_match_numpy_reference(self):
        decoder = decoder_with_known_codebooks()
        codes = random_codes(2, 3)
        self.assertAllClose(
            decoder(one_hot(codes)),
            reference_decode(known_codebooks(), codes),
            atol=1e-5,
        )

    def test_relaxed_codes_match_numpy_reference(self):
        decoder = decoder_with_known_codebooks()
        rng = np.random.default_rng(1)
        weights = rng.random((4, NUM_CODEBOOKS, CODEBOOK_SIZE), "float32")
        weights /= weights.sum(axis=-1, keepdims=True)
        expected = np.einsum("bmk,mkd->bd", weights, known_codebooks())
        self.assertAllClose(decoder(weights), expected, atol=1e-5)

    def test_bad_arguments(self):
        bad_arguments = [
            ("num_codebooks", value) for value in (0, -1, True, 2.5, "3")
        ]
        bad_arguments += [("codebook_size", value) for value in (1, True, 2.0)]
        bad_arguments += [("output_dim", value) for value in (0, -2, False)]
        for name, value in bad_arguments:
            with self.subTest(name=name, value=value):
                with self.assertRaisesRegex(
                    ValueError, f"`{name}` must be .* Received: {name}="
                ):
                    CodebookDecoder(**{**INIT_KWARGS, name: value})
