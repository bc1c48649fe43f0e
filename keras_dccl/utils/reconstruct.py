import numpy as np


def reconstruct(codes, codebooks, out=None):
    """Sums the chosen codebook rows: `codebooks[m, codes[:, m]]` over m.

    Args:
        codes: Integer array (N, M).
        codebooks: Float array (M, K, D).
        out: Optional float32 array (N, D) to write into.

    Returns:
        Float32 array (N, D).
    """
    if out is None:
        out = np.zeros((codes.shape[0], codebooks.shape[2]), np.float32)
    else:
        out[...] = 0.0
    for m in range(codes.shape[1]):
        out += codebooks[m][codes[:, m]]
    return out
