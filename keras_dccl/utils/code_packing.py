"""Packing of discrete codes into bytes.

Each word of a compressed embedding has `num_codebooks` integer codes in
`[0, codebook_size)`. They are stored in bytes along the last axis:

- `codebook_size <= 16`: two 4-bit codes per byte. Code `2j` goes into the
  low nibble of byte `j`, code `2j + 1` into its high nibble. An odd number
  of codes is padded with a zero nibble.
- `16 < codebook_size <= 256`: one byte per code.

Larger codebooks do not fit in a byte and are rejected. The functions work
on arrays of any leading shape, so that the same layout serves the artifact
on disk and the exported TFLite model.
"""

import numpy as np

from keras_dccl.utils.argument_checks import check_integer

MAX_CODEBOOK_SIZE = 256
NIBBLE_CODEBOOK_SIZE = 16


def _check_packable(codebook_size):
    check_integer("codebook_size", codebook_size)
    if codebook_size > MAX_CODEBOOK_SIZE:
        raise ValueError(
            f"`codebook_size` must be at most {MAX_CODEBOOK_SIZE} for codes "
            f"to fit in one byte. Received: codebook_size={codebook_size}"
        )


def bits_per_code(codebook_size):
    """Returns the number of bits one code in `[0, codebook_size)` carries.

    This is `ceil(log2(codebook_size))`, and at least 1. It is the
    information content of a code, not its storage size: see `packed_width`.
    """
    check_integer("codebook_size", codebook_size)
    return max(1, (int(codebook_size) - 1).bit_length())


def packed_width(num_codebooks, codebook_size):
    """Returns the number of bytes that `num_codebooks` packed codes take.

    This is the size of the last axis of `pack_codes(...)`:
    `ceil(num_codebooks / 2)` when `codebook_size <= 16`, else
    `num_codebooks`.
    """
    check_integer("num_codebooks", num_codebooks)
    _check_packable(codebook_size)
    if codebook_size <= NIBBLE_CODEBOOK_SIZE:
        return (int(num_codebooks) + 1) // 2
    return int(num_codebooks)


def pack_codes(codes, codebook_size):
    """Packs integer codes into a uint8 array along the last axis.

    Args:
        codes: Integer array of shape `(..., num_codebooks)` with values in
            `[0, codebook_size)`.
        codebook_size: Integer, at most 256. The number of possible codes.

    Returns:
        A uint8 array of shape `(..., packed_width(num_codebooks,
        codebook_size))`: two codes per byte when `codebook_size <= 16`
        (low nibble first), else the codes themselves as uint8.
    """
    _check_packable(codebook_size)
    codes = np.asarray(codes)
    if not np.issubdtype(codes.dtype, np.integer) or codes.ndim < 1:
        raise ValueError(
            "`codes` must be an integer array with at least one axis. "
            f"Received: codes with dtype={codes.dtype}, shape={codes.shape}"
        )
    if codes.size and (codes.min() < 0 or codes.max() >= codebook_size):
        raise ValueError(
            f"`codes` must be in [0, codebook_size={codebook_size}). "
            f"Received: codes in [{codes.min()}, {codes.max()}]"
        )
    codes = codes.astype(np.uint8)
    if codebook_size > NIBBLE_CODEBOOK_SIZE:
        return codes
    if codes.shape[-1] % 2:
        padding = np.zeros(codes.shape[:-1] + (1,), dtype=np.uint8)
        codes = np.concatenate([codes, padding], axis=-1)
    return codes[..., 0::2] | (codes[..., 1::2] << 4)


def unpack_codes(packed, num_codebooks, codebook_size):
    """Inverts `pack_codes`.

    Args:
        packed: uint8 array of shape
            `(..., packed_width(num_codebooks, codebook_size))`.
        num_codebooks: Integer. The number of codes per row before packing.
        codebook_size: Integer, at most 256. The number of possible codes.

    Returns:
        A uint8 array of shape `(..., num_codebooks)`.
    """
    width = packed_width(num_codebooks, codebook_size)
    packed = np.asarray(packed)
    if packed.dtype != np.uint8 or packed.ndim < 1 or packed.shape[-1] != width:
        raise ValueError(
            f"`packed` must be a uint8 array with last axis {width} for "
            f"num_codebooks={num_codebooks}, codebook_size={codebook_size}. "
            f"Received: packed with dtype={packed.dtype}, shape={packed.shape}"
        )
    if codebook_size > NIBBLE_CODEBOOK_SIZE:
        return packed
    nibbles = np.stack([packed & 0x0F, packed >> 4], axis=-1)
    nibbles = nibbles.reshape(packed.shape[:-1] + (2 * width,))
    return nibbles[..., :num_codebooks]
