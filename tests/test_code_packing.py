import numpy as np
import pytest

from keras_dccl.utils.code_packing import bits_per_code
from keras_dccl.utils.code_packing import pack_codes
from keras_dccl.utils.code_packing import packed_width
from keras_dccl.utils.code_packing import unpack_codes


@pytest.mark.parametrize(
    "codebook_size, bits",
    [(1, 1), (2, 1), (3, 2), (4, 2), (16, 4), (17, 5), (256, 8), (257, 9)],
)
def test_bits_per_code(codebook_size, bits):
    assert bits_per_code(codebook_size) == bits


@pytest.mark.parametrize("codebook_size", [2, 4, 16, 17, 256])
@pytest.mark.parametrize("num_codebooks", [1, 2, 7, 8])
@pytest.mark.parametrize("leading_shape", [(), (5,), (3, 4)])
def test_round_trip(codebook_size, num_codebooks, leading_shape):
    rng = np.random.default_rng(0)
    shape = leading_shape + (num_codebooks,)
    codes = rng.integers(0, codebook_size, size=shape)
    codes.flat[0] = codebook_size - 1

    packed = pack_codes(codes, codebook_size)
    expected_width = (
        (num_codebooks + 1) // 2 if codebook_size <= 16 else num_codebooks
    )
    assert packed.dtype == np.uint8
    assert packed.shape == leading_shape + (expected_width,)
    assert packed_width(num_codebooks, codebook_size) == expected_width

    unpacked = unpack_codes(packed, num_codebooks, codebook_size)
    assert unpacked.dtype == np.uint8
    np.testing.assert_array_equal(unpacked, codes)


def test_nibble_layout():
    codes = np.array([[1, 2, 3], [15, 0, 7]])
    packed = pack_codes(codes, 16)
    # Code 2j in the low nibble, 2j + 1 in the high nibble, zero padding.
    np.testing.assert_array_equal(packed, [[0x21, 0x03], [0x0F, 0x07]])


def test_byte_layout_above_16():
    codes = np.array([[0, 16, 255]])
    np.testing.assert_array_equal(pack_codes(codes, 256), [[0, 16, 255]])
    np.testing.assert_array_equal(pack_codes(codes, 256).dtype, np.uint8)


@pytest.mark.parametrize(
    "function, kwargs, message",
    [
        (bits_per_code, {"codebook_size": 0}, "codebook_size"),
        (bits_per_code, {"codebook_size": True}, "codebook_size"),
        (bits_per_code, {"codebook_size": 2.0}, "codebook_size"),
        (pack_codes, {"codes": [[0]], "codebook_size": 257}, "at most 256"),
        (pack_codes, {"codes": [[16]], "codebook_size": 16}, "codes"),
        (pack_codes, {"codes": [[-1]], "codebook_size": 16}, "codes"),
        (pack_codes, {"codes": [[0.0]], "codebook_size": 16}, "integer"),
        (pack_codes, {"codes": 3, "codebook_size": 16}, "axis"),
        (
            unpack_codes,
            {
                "packed": np.zeros((2, 1), np.uint8),
                "num_codebooks": 4,
                "codebook_size": 16,
            },
            "last axis 2",
        ),
        (
            unpack_codes,
            {
                "packed": np.zeros((2, 2), np.int64),
                "num_codebooks": 4,
                "codebook_size": 16,
            },
            "uint8",
        ),
        (
            unpack_codes,
            {
                "packed": np.zeros((2, 2), np.uint8),
                "num_codebooks": 2,
                "codebook_size": 257,
            },
            "at most 256",
        ),
        (
            unpack_codes,
            {
                "packed": np.zeros((2, 2), np.uint8),
                "num_codebooks": 0,
                "codebook_size": 16,
            },
            "num_codebooks",
        ),
    ],
)
def test_invalid_arguments(function, kwargs, message):
    with pytest.raises(ValueError, match=message):
        function(**kwargs)
