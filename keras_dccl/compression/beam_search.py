"""Beam search over additive codes, and the residual start it trains.

Given M codebooks, a row's codes are chosen codebook by codebook; instead of
keeping only the best partial sum (greedy residual encoding), beam search
keeps the `beam_size` best partial sums of the row and extends each by every
vector of the next codebook. The same search trains the start: codebook m is
the k-means of what the best partial sums of stages 0..m-1 leave, as
faiss's `ResidualQuantizer` does (Babenko & Lempitsky, "Additive
Quantization", CVPR 2014; Martinez et al., "LSQ++", ECCV 2018).

Rows are processed in chunks: memory is bounded for any table, and `vectors`
may be a memory map.
"""

import numpy as np

from keras_dccl.compression.residual_kmeans import progressive_kmeans


def _chunk_rows(dim, beam_size, codebook_size):
    # About 64 MB of float32 working arrays (residuals and scores) a chunk.
    per_row = beam_size * (dim + codebook_size) * 4
    return int(max(64, (64 << 20) // per_row))


class _Beam:
    """The `beam_size` best partial sums of each row of a block."""

    def __init__(self, block):
        self.residuals = block[:, None, :].astype(np.float32)
        self.errors = np.einsum("nd,nd->n", block, block)[:, None]
        self.codes = np.zeros((len(block), 1, 0), np.uint8)

    def extend(self, codebook, beam_size):
        """Adds one codebook: keeps the `beam_size` best (sorted) sums."""
        rows, width, dim = self.residuals.shape
        size = len(codebook)
        scores = self.residuals.reshape(rows * width, dim) @ codebook.T
        scores *= -2.0
        scores += np.einsum("kd,kd->k", codebook, codebook)
        scores = scores.reshape(rows, width, size)
        scores += self.errors[:, :, None]
        scores = scores.reshape(rows, width * size)
        keep = min(beam_size, width * size)
        if keep < width * size:
            chosen = np.argpartition(scores, keep - 1, axis=1)[:, :keep]
        else:
            chosen = np.broadcast_to(np.arange(width * size), scores.shape)
        errors = np.take_along_axis(scores, chosen, axis=1)
        order = np.argsort(errors, axis=1)
        chosen = np.take_along_axis(chosen, order, axis=1)
        self.errors = np.take_along_axis(errors, order, axis=1)
        parent, code = np.divmod(chosen, size)
        index = np.arange(rows)[:, None]
        self.residuals = self.residuals[index, parent] - codebook[code]
        self.codes = np.concatenate(
            [self.codes[index, parent], code[:, :, None].astype(np.uint8)],
            axis=2,
        )

    def best(self):
        """Codes (N, m) and residuals (N, D) of each row's best sum."""
        return self.codes[:, 0], self.residuals[:, 0]


def beam_encode(vectors, codebooks, beam_size):
    """Codes of every row by beam search over `codebooks` in order.

    Args:
        vectors: Float array (N, D), for example a memory map.
        codebooks: Float32 array (M, K, D).
        beam_size: Integer, partial sums kept per row (1: greedy residual
            encoding).

    Returns:
        Codes, uint8 (N, M).
    """
    num_codebooks, codebook_size, dim = codebooks.shape
    codes = np.zeros((len(vectors), num_codebooks), np.uint8)
    step = _chunk_rows(dim, beam_size, codebook_size)
    for start in range(0, len(vectors), step):
        block = np.asarray(vectors[start : start + step], dtype=np.float32)
        beam = _Beam(block)
        for codebook in codebooks:
            beam.extend(codebook, beam_size)
        codes[start : start + step] = beam.best()[0]
    return codes


def residual_beam_start(
    vectors,
    num_codebooks,
    codebook_size,
    beam_size,
    iterations,
    rng,
    weights=None,
    kmeans_rows=None,
):
    """Codebooks trained stage by stage under beam search, and the codes.

    Stage m runs progressive-dim k-means (`iterations` Lloyd iterations per
    width) on the residuals of each row's best partial sum (of a random
    sample of `kmeans_rows` rows, if given, drawn anew each stage), then
    every row's beam is extended by the new codebook. All rows are held in
    memory with their beams: give a sample of a large table (see
    `compress`).

    Returns:
        `(codes, codebooks)`: uint8 (N, M) and float32 (M, K, D).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    codebooks = np.zeros(
        (num_codebooks, codebook_size, vectors.shape[1]), np.float32
    )
    beam = _Beam(vectors)
    for m in range(num_codebooks):
        _, residuals = beam.best()
        sample_weights = weights
        if kmeans_rows and kmeans_rows < len(vectors):
            sample = np.sort(rng.choice(len(vectors), kmeans_rows, False))
            residuals = residuals[sample]
            sample_weights = None if weights is None else weights[sample]
        codebooks[m] = progressive_kmeans(
            residuals, codebook_size, iterations, rng, sample_weights
        )
        beam.extend(codebooks[m], beam_size)
    return beam.best()[0], codebooks
