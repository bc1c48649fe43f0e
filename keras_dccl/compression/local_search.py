"""Alternating optimisation of additive codes: least squares and local search.

Given codes, each codebook in turn gets its exact least-squares solution with
the others fixed (block coordinate descent on the reconstruction error). Given
codebooks, codes improve by iterated conditional modes (ICM): each code in turn
takes the value that best explains the word's residual. Plain ICM gets stuck in
poor local minima, so each search step first perturbs a few random codes of
every word, runs ICM from there, and keeps the result for the words it
improved (the stochastic local search of LSQ++, Martinez et al., ECCV 2018).
"""

import numpy as np

from keras_dccl.compression.residual_kmeans import cluster_means
from keras_dccl.utils.reconstruct import reconstruct


def squared_errors(vectors, codes, codebooks, chunk_size=16384):
    """Per-row squared reconstruction error, float64 (N,), row-chunked."""
    errors = np.empty(len(vectors), np.float64)
    for start in range(0, len(vectors), chunk_size):
        stop = start + chunk_size
        residual = vectors[start:stop] - reconstruct(
            codes[start:stop], codebooks
        )
        errors[start:stop] = np.einsum("nd,nd->n", residual, residual)
    return errors


def update_codebooks(vectors, codes, codebooks, passes=2, weights=None):
    """Block-coordinate least squares over the codebooks (in place).

    With `weights` (one non-negative number per row), the weighted least
    squares: each row's squared error counts `weights[row]` times.
    """
    residual = reconstruct(codes, codebooks)
    np.subtract(vectors, residual, out=residual)
    for _ in range(passes):
        for m in range(codebooks.shape[0]):
            residual += codebooks[m][codes[:, m]]
            codebooks[m] = cluster_means(
                residual, codes[:, m], codebooks[m], weights
            )
            residual -= codebooks[m][codes[:, m]]
    return codebooks


def icm(vectors, codes, codebooks, sweeps, rng):
    """Iterated conditional modes on a block of rows (codes updated in place).

    Returns:
        The rows' squared errors after the last sweep, float64 (N,).
    """
    residual = vectors - reconstruct(codes, codebooks)
    norms = np.einsum("mkd,mkd->mk", codebooks, codebooks)
    for _ in range(sweeps):
        for m in rng.permutation(codebooks.shape[0]):
            residual += codebooks[m][codes[:, m]]
            scores = residual @ codebooks[m].T
            scores *= -2.0
            scores += norms[m]
            codes[:, m] = scores.argmin(axis=1)
            residual -= codebooks[m][codes[:, m]]
    return np.einsum("nd,nd->n", residual, residual).astype(np.float64)


def search_codes(
    vectors,
    codes,
    codebooks,
    rng,
    perturbations,
    sweeps=3,
    chunk_size=16384,
):
    """One step of perturbed local search over the codes (in place).

    For every row: a copy of its codes has `perturbations` random positions
    set to random values, then `sweeps` ICM sweeps; the copy replaces the
    codes where it reconstructs better. One plain ICM sweep follows.
    Rows are processed in chunks, so memory stays bounded for any table.
    """
    num_codebooks = codebooks.shape[0]
    codebook_size = codebooks.shape[1]
    for start in range(0, len(vectors), chunk_size):
        block = vectors[start : start + chunk_size]
        current = codes[start : start + chunk_size]
        errors = squared_errors(block, current, codebooks)
        if perturbations > 0:
            candidate = current.copy()
            rows = np.arange(len(block))[:, None]
            positions = rng.integers(
                0, num_codebooks, (len(block), perturbations)
            )
            candidate[rows, positions] = rng.integers(
                0, codebook_size, (len(block), perturbations)
            )
            candidate_errors = icm(block, candidate, codebooks, sweeps, rng)
            better = candidate_errors < errors
            current[better] = candidate[better]
        icm(block, current, codebooks, 1, rng)
    return codes


def least_squares_codebooks(
    vectors, codes, codebooks, weights=None, chunk_size=16384
):
    """All codebooks at once by (weighted) least squares, in place.

    Solves min_C sum_i w_i ||x_i - sum_m C[m, codes[i, m]]||^2 through its
    normal equations, accumulated over row chunks (so `vectors` may be a
    memory map of any size): the Gram matrix of the one-hot code matrix,
    (M*K, M*K), from co-occurrence counts of each pair of codebooks, and its
    product with the vectors, (M*K, D). The system is singular (a constant
    can move between codebooks), so the least-norm solution is taken.
    Codebook vectors that no row uses keep their values.
    """
    num_codebooks, size, dim = codebooks.shape
    width = num_codebooks * size
    gram = np.zeros((num_codebooks, size, num_codebooks, size), np.float64)
    moments = np.zeros((width, dim), np.float64)
    offsets = np.arange(num_codebooks) * size
    for start in range(0, len(vectors), chunk_size):
        block = np.asarray(vectors[start : start + chunk_size], np.float32)
        block_codes = codes[start : start + len(block)].astype(np.int64)
        block_weights = None
        if weights is not None:
            block_weights = weights[start : start + len(block)]
        for i in range(num_codebooks):
            for j in range(i, num_codebooks):
                pairs = block_codes[:, i] * size + block_codes[:, j]
                counts = np.bincount(
                    pairs, weights=block_weights, minlength=size * size
                ).reshape(size, size)
                gram[i, :, j] += counts
                if j != i:
                    gram[j, :, i] += counts.T
        one_hot = np.zeros((len(block), width), np.float32)
        one_hot[np.arange(len(block))[:, None], block_codes + offsets] = (
            1.0 if block_weights is None else block_weights[:, None]
        )
        moments += one_hot.T @ block
    gram = gram.reshape(width, width)
    used = np.diag(gram) > 0
    solution = np.linalg.lstsq(
        gram[np.ix_(used, used)], moments[used], rcond=None
    )[0]
    flat = codebooks.reshape(width, dim)
    flat[used] = solution
    return codebooks
