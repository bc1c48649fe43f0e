"""Alternating optimisation of additive codes: least squares and local search.

Given codes, all codebooks get their exact least-squares solution at once
(`least_squares_codebooks`, over row chunks, so the table may be a memory
map). Given codebooks, codes improve by iterated conditional modes (ICM): each
code in turn takes the value that best explains the word's residual. Plain ICM
gets stuck in poor local minima, so each search step first perturbs a few
random codes of every word, runs ICM from there, and keeps the result for the
words it improved (the stochastic local search of LSQ++, Martinez et al.,
ECCV 2018). On wide tables ICM reads inner-product tables rather than
residuals (`_CodeTables`).
"""

import numpy as np

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


class _CodeTables:
    """ICM over a block of rows through inner-product tables.

    With the codebooks flattened to C (M*K, D), a row's squared error is
    ||x||^2 - 2 sum_m u[m, c_m] + sum_m s[m, c_m], where u = x C^T (the
    row's products with every codebook vector) and s = r C^T (its current
    reconstruction's). Choosing code m then costs K table reads instead of a
    K x D product, and a changed code updates s by one row of C C^T: on wide
    tables (D = 384) a sweep is about twice as cheap as through the
    residual (the tables of LSQ++'s ICM, Martinez et al., ECCV 2018); on
    narrow ones (D = 50, M*K = 512) the residual is cheaper (`icm`).
    """

    def __init__(self, codebooks):
        self.num_codebooks, self.size, dim = codebooks.shape
        self.flat = codebooks.reshape(-1, dim)
        self.cross = self.flat @ self.flat.T
        self.offsets = np.arange(self.num_codebooks) * self.size

    def products(self, block, codes):
        """Tables u and s of a block of rows with the given codes."""
        return block @ self.flat.T, self.state(codes)

    def state(self, codes):
        """Table s: the reconstructions' products with every vector."""
        state = self.cross[self.offsets[0] + codes[:, 0]]
        for m in range(1, self.num_codebooks):
            state += self.cross[self.offsets[m] + codes[:, m]]
        return state

    def errors(self, block, codes, products, state):
        flat_codes = codes + self.offsets
        rows = np.arange(len(block))[:, None]
        return (
            np.einsum("nd,nd->n", block, block).astype(np.float64)
            - 2.0 * products[rows, flat_codes].sum(axis=1, dtype=np.float64)
            + state[rows, flat_codes].sum(axis=1, dtype=np.float64)
        )

    def change(self, codes, state, m, new_codes):
        """Sets codes[:, m] to `new_codes`, keeping `state` in step."""
        changed = np.flatnonzero(new_codes != codes[:, m])
        if len(changed):
            state[changed] += (
                self.cross[self.offsets[m] + new_codes[changed]]
                - self.cross[self.offsets[m] + codes[changed, m]]
            )
            codes[changed, m] = new_codes[changed]

    def sweep(self, codes, products, state, rng):
        """One ICM sweep over the codebooks in a random order."""
        size = self.size
        for m in rng.permutation(self.num_codebooks):
            columns = slice(self.offsets[m], self.offsets[m] + size)
            own = self.cross[self.offsets[m] + codes[:, m], columns]
            scores = state[:, columns] - own
            scores -= products[:, columns]
            scores *= 2.0
            scores += np.diag(self.cross)[columns]
            self.change(codes, state, m, scores.argmin(axis=1))


def search_codes(
    vectors,
    codes,
    codebooks,
    rng,
    perturbations,
    sweeps=3,
    chunk_size=16384,
    rounds=1,
):
    """Steps of perturbed local search over the codes (in place).

    For every row, `rounds` times: a copy of its codes has `perturbations`
    random positions set to random values, then `sweeps` ICM sweeps; the
    copy replaces the codes where it reconstructs better; one plain ICM
    sweep follows. Rows are processed in chunks, so memory stays bounded for
    any table. ICM goes through inner-product tables when the vectors are
    wider than half of M*K, else through the residual: the same codes, at
    the lower cost.
    """
    num_codebooks, codebook_size, dim = codebooks.shape
    tables = _CodeTables(codebooks)
    for start in range(0, len(vectors), chunk_size):
        block = np.asarray(vectors[start : start + chunk_size], np.float32)
        current = codes[start : start + len(block)]
        if 2 * dim <= num_codebooks * codebook_size:
            for _ in range(rounds):
                _residual_step(
                    block, current, codebooks, rng, perturbations, sweeps
                )
            continue
        products, state = tables.products(block, current)
        for _ in range(rounds):
            _perturbed_step(
                tables, block, current, products, state, rng, perturbations,
                sweeps,
            )  # fmt: skip
    return codes


def _perturb(codes, rng, perturbations, codebook_size):
    """A copy of `codes` with `perturbations` random codes of each row reset."""
    candidate = codes.copy()
    shape = (len(codes), perturbations)
    positions = rng.integers(0, codes.shape[1], shape)
    values = rng.integers(0, codebook_size, shape)
    candidate[np.arange(len(codes))[:, None], positions] = values
    return candidate


def _residual_step(block, current, codebooks, rng, perturbations, sweeps):
    if perturbations > 0:
        errors = squared_errors(block, current, codebooks)
        candidate = _perturb(current, rng, perturbations, codebooks.shape[1])
        better = icm(block, candidate, codebooks, sweeps, rng) < errors
        current[better] = candidate[better]
    icm(block, current, codebooks, 1, rng)


def _perturbed_step(
    tables, block, current, products, state, rng, perturbations, sweeps
):
    if perturbations > 0:
        candidate = _perturb(current, rng, perturbations, tables.size)
        candidate_state = tables.state(candidate)
        for _ in range(sweeps):
            tables.sweep(candidate, products, candidate_state, rng)
        better = tables.errors(
            block, candidate, products, candidate_state
        ) < tables.errors(block, current, products, state)
        current[better] = candidate[better]
        state[better] = candidate_state[better]
    tables.sweep(current, products, state, rng)


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
