"""`compress`: learn codes and codebooks for an existing embedding table."""

import dataclasses
import hashlib
import os
import time

import numpy as np
import threadpoolctl

from keras_dccl.compressed_table import CompressedTable
from keras_dccl.compression import local_search
from keras_dccl.compression.beam_search import beam_encode
from keras_dccl.compression.beam_search import residual_beam_start
from keras_dccl.compression.gumbel_settings import GumbelSettings
from keras_dccl.compression.progress_bar import ProgressBar
from keras_dccl.compression.residual_kmeans import residual_encode
from keras_dccl.compression.residual_kmeans import residual_kmeans
from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.checkpoint import load_checkpoint
from keras_dccl.utils.checkpoint import save_checkpoint


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named way of learning the codes.

    Attributes:
        description: One line for `--help` and reports.
        kmeans_iterations: Lloyd iterations per residual k-means stage, or 0
            to start from the encoder's random initialisation instead.
        start_beam: 0 for classic residual k-means; else the beam width of
            a residual start trained under beam search, each stage's
            codebook by progressive-dim k-means (`kmeans_iterations` per
            width), as faiss's `ResidualQuantizer`.
        gumbel: Settings of the Gumbel-softmax encoder stage, or None.
        search_iterations: Alternations of least-squares codebooks (all at
            once) and perturbed local search over the codes (0: none).
        scale_search: Scale `search_iterations` by sqrt(32 / M) (at least
            1): with fewer codebooks an iteration costs less and more of
            them pay off.
        search_rounds: Perturbed local search steps per iteration.
        search_perturbations: Codes of a word set at random before each
            local search step (None: M // 8, at least 1).
        search_patience: Stop the search after this many iterations without
            a better validation distance (not while `search_noise` is on).
        search_noise: Stochastic relaxation of the codebooks (LSQ++'s SR-D,
            Martinez et al., ECCV 2018): after each codebook update, Gaussian
            noise of standard deviation `search_noise * T * std / M` is
            added, `std` the rows' per-dimension standard deviation and
            `T = (1 - (step + 1) / iterations) ** 0.5` falling to 0; lets
            the search leave the basin of its start. 0: none.
        max_training_rows: Learn the codebooks on a random sample of at most
            this many rows (None: all); the other rows get their codes by
            beam search at the end. Bounds the memory of huge tables.
        refit: Least-squares codebooks on all rows at the end.
    """

    description: str
    kmeans_iterations: int = 0
    start_beam: int = 0
    gumbel: GumbelSettings | None = None
    search_iterations: int = 0
    scale_search: bool = False
    search_rounds: int = 1
    search_perturbations: int | None = None
    search_patience: int = 5
    search_noise: float = 0.0
    max_training_rows: int | None = None
    refit: bool = True

    def __post_init__(self):
        if not self.kmeans_iterations and self.gumbel is None:
            raise ValueError(
                "A `Recipe` needs a start: `kmeans_iterations` > 0 or "
                "`gumbel` settings. Received: kmeans_iterations=0, gumbel=None"
            )


PAPER_GUMBEL = GumbelSettings(
    epochs=200,
    batch_size=64,
    learning_rate=1e-4,
    global_clipnorm=1e-3,
    start_temperature=1.0,
    end_temperature=1.0,
    straight_through=False,
    patience=None,
)
IMPROVED_GUMBEL = GumbelSettings(
    epochs=30,
    batch_size=256,
    learning_rate=1e-3,
    global_clipnorm=None,
    start_temperature=1.0,
    end_temperature=0.1,
    straight_through=True,
    patience=5,
)

BEAM = Recipe(
    "Residual codebooks trained under beam search (8 partial sums per "
    "word, progressive-dim k-means), then least-squares codebooks "
    "alternating with perturbed local search over the codes.",
    kmeans_iterations=10,
    start_beam=8,
    search_iterations=40,
    scale_search=True,
    search_rounds=2,
    search_perturbations=4,
)
RECIPES = {
    "beam": BEAM,
    "anneal": dataclasses.replace(
        BEAM,
        description="The `beam` start, then a twice longer search whose "
        "codebooks get annealed noise (LSQ++'s stochastic relaxation): "
        "better where the plain search levels off, with at most one code bit "
        "a dimension.",
        search_iterations=80,
        search_rounds=1,
        search_noise=1.0,
    ),
    "paper": Recipe(
        "Shu & Nakayama's recipe and the authors' code: Gumbel-softmax "
        "encoder, tau=1, Adam 1e-4, clip 0.001, batch 64, 200 epochs.",
        gumbel=PAPER_GUMBEL,
        refit=False,
    ),
    "residual_kmeans": Recipe(
        "Residual k-means alone (the classic baseline and initialisation).",
        kmeans_iterations=15,
        refit=False,
    ),
    "gumbel": Recipe(
        "Gumbel-softmax encoder from residual k-means codebooks: "
        "straight-through, annealed temperature, Adam 1e-3; LS refit.",
        kmeans_iterations=15,
        gumbel=IMPROVED_GUMBEL,
    ),
    "gumbel_search": Recipe(
        "The `gumbel` recipe, then least squares + perturbed local search.",
        kmeans_iterations=15,
        gumbel=IMPROVED_GUMBEL,
        search_iterations=40,
    ),
    "search": Recipe(
        "Residual k-means, then least-squares codebooks alternating with "
        "perturbed local search over the codes (LSQ++-style).",
        kmeans_iterations=15,
        search_iterations=40,
    ),
}


def default_recipe(num_codebooks, codebook_size, dim):
    """The recipe that `recipe="default"` runs for a table and code size.

    `anneal` when the codes of a row hold at most one bit per dimension
    (M * log2(K) <= D), else `beam`. Measured (benchmarks/compress_glove.py
    --versus-faiss, compress_minilm.py, compress_glove.py): with so few bits
    the plain search levels off within its budget and the annealed one ends
    1.1% (GloVe 50-d, M=8) and 0.9% (MiniLM 384-d, M=32) lower; with more
    (GloVe M=32) it has not levelled off, and the noise costs more than it
    finds.

    Returns:
        A key of `RECIPES`.
    """
    few_bits = _code_bits(num_codebooks, codebook_size) <= dim
    return "anneal" if few_bits else "beam"


def _code_bits(num_codebooks, codebook_size):
    """Bits of codes per row: M * log2(K)."""
    return num_codebooks * (int(codebook_size).bit_length() - 1)


def compress(
    vectors,
    num_codebooks=32,
    codebook_size=16,
    recipe="default",
    vocabulary=None,
    validation_split=0.05,
    seed=0,
    checkpoint_path=None,
    verbose=1,
    weights=None,
):
    """Learns discrete codes and codebooks for an embedding table.

    Each row of `vectors` becomes `num_codebooks` (M) integer codes in
    `[0, codebook_size)` (K); the row's reconstruction is the sum of the
    chosen rows of M codebooks of K vectors. A random `validation_split` of
    the rows is held out of the codebook fit to drive early stopping; at the
    end every row, held-out ones included, gets its codes.

    Recipes (see `RECIPES`): "default" ("anneal" with at most one code bit
    per dimension, else "beam": `default_recipe`), "beam", "anneal", "search",
    "gumbel_search", "gumbel", "residual_kmeans" and "paper" (the recipe of
    Shu & Nakayama, ICLR 2018, and the authors' code, to reproduce it).

    Args:
        vectors: Float array (V, D), the table to compress.
        num_codebooks: Integer, M, the number of codes per word.
        codebook_size: Integer, K, a power of two from 2 to 256.
        recipe: String, a name in `RECIPES` or "default"; or a `Recipe`.
        vocabulary: Optional list of V words stored with the codes.
        validation_split: Float in [0, 0.5), share of rows held out.
        seed: Integer. The same seed gives the same codes on CPU (BLAS runs
            on one thread, so the result does not depend on the core count).
        checkpoint_path: Optional path of a `.npz` checkpoint. Progress is
            saved there as the job goes; a job started again with the same
            path and arguments resumes where it stopped. Removed on success.
        verbose: 0 silent, 1 progress bars.
        weights: Optional non-negative float array (V,), how much each row
            counts, for example its word's frequency in a corpus. The codes
            and codebooks then minimise the weighted squared error (the
            codebook updates and the early stopping are weighted; each row's
            codes are still its own best choice). None: every row counts
            the same.

    Returns:
        A `CompressedTable`, its metadata holding the recipe, the seed,
        the metrics over all rows (with weights, also
        `"weighted_mean_distance"` and `"weighted_mean_squared_error"`) and
        the wall time.
    """
    vectors = _check_vectors(vectors)
    weights = _check_weights(weights, len(vectors))
    check_integer("num_codebooks", num_codebooks, 1, 1 << 16)
    check_integer("codebook_size", codebook_size, 2, 256)
    if codebook_size & (codebook_size - 1):
        raise ValueError(
            "`codebook_size` must be a power of two: codes are stored in "
            f"log2(K) bits. Received: codebook_size={codebook_size}"
        )
    recipe_name, recipe = _check_recipe(
        recipe, default_recipe(num_codebooks, codebook_size, vectors.shape[1])
    )
    check_integer("seed", seed, 0, 2**32 - 1)
    if not 0.0 <= validation_split < 0.5:
        raise ValueError(
            "`validation_split` must be in [0, 0.5). "
            f"Received: validation_split={validation_split}"
        )
    held_out = int(round(validation_split * len(vectors)))
    if len(vectors) - held_out < codebook_size:
        raise ValueError(
            f"`vectors` needs at least codebook_size={codebook_size} rows "
            f"besides the {held_out} held out by validation_split="
            f"{validation_split}. Received: {len(vectors)} rows"
        )
    code_bits = _code_bits(num_codebooks, codebook_size)
    if code_bits >= 32 * vectors.shape[1]:
        raise ValueError(
            f"`num_codebooks` x log2(codebook_size) = {code_bits} bits of "
            f"codes per word is no smaller than the {vectors.shape[1]} "
            "float32 values they replace: nothing would be saved. "
            f"Received: num_codebooks={num_codebooks}"
        )
    job = _Job(
        vectors,
        num_codebooks,
        codebook_size,
        recipe,
        validation_split,
        seed,
        checkpoint_path,
        verbose,
        weights,
    )
    # The kernels are many small matrix products: BLAS threads only add
    # hand-off cost (6x slower on a busy 2-core machine) and make the
    # summation order, hence the codes, depend on the core count.
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        codes, codebooks = job.run()
        metrics = CompressedTable(codes, codebooks).evaluate(vectors)
        if weights is not None:
            metrics.update(
                _weighted_metrics(vectors, codes, codebooks, weights)
            )
    return CompressedTable(
        codes,
        codebooks,
        vocabulary=vocabulary,
        metadata={
            "recipe": recipe_name,
            "seed": seed,
            "validation_split": validation_split,
            "seconds": round(job.seconds, 2),
            **metrics,
        },
    )


class _Job:
    """One compression run: its stages, state and checkpoints."""

    def __init__(
        self,
        vectors,
        num_codebooks,
        codebook_size,
        recipe,
        validation_split,
        seed,
        checkpoint_path,
        verbose,
        weights=None,
    ):
        self.vectors = vectors
        self.weights = weights
        self.num_codebooks = num_codebooks
        self.codebook_size = codebook_size
        self.recipe = recipe
        self.seed = seed
        self.checkpoint_path = checkpoint_path
        self.verbose = verbose
        self.fingerprint = _fingerprint(
            vectors,
            num_codebooks,
            codebook_size,
            recipe,
            validation_split,
            seed,
            None if weights is None else weights.tobytes(),
        )
        split_rng = np.random.default_rng([seed, 0])
        order = split_rng.permutation(len(vectors))
        # Rows beyond `max_training_rows` only get codes at the end.
        used = order[: recipe.max_training_rows]
        self.rest_rows = np.sort(order[len(used) :])
        held_out = int(round(validation_split * len(used)))
        self.validation_rows = np.sort(used[:held_out])
        self.training_rows = np.sort(used[held_out:])
        self.training = vectors[self.training_rows]
        self.validation = vectors[self.validation_rows]
        self.training_weights = self.validation_weights = None
        if weights is not None:
            self.training_weights = weights[self.training_rows]
            self.validation_weights = weights[self.validation_rows]
        self.seconds = 0.0

    def run(self):
        state, arrays = self._restore()
        self._clock = time.monotonic() - state.get("seconds", 0.0)
        if state["stage"] == "init":
            self._initialise(state, arrays)
        if state["stage"] == "gumbel":
            self._train_encoder(state, arrays)
        if state["stage"] == "search":
            self._search(state, arrays)
        codes, codebooks = arrays["codes"], arrays["codebooks"]
        self._encode_rest(codes, codebooks)
        if self.recipe.refit:
            # Exact least squares over row chunks, then one ICM sweep: each
            # step can only lower the error, and memory stays bounded.
            local_search.least_squares_codebooks(
                self.vectors, codes, codebooks, weights=self.weights
            )
            local_search.search_codes(
                self.vectors, codes, codebooks, self._rng(state), 0
            )
        self.seconds = time.monotonic() - self._clock
        if self.checkpoint_path and os.path.exists(self.checkpoint_path):
            os.remove(self.checkpoint_path)
        return codes, codebooks

    def _restore(self):
        fresh = {"stage": "init", "fingerprint": self.fingerprint}
        if not self.checkpoint_path:
            return fresh, {}
        loaded = load_checkpoint(self.checkpoint_path)
        if loaded is None:
            return fresh, {}
        state, arrays = loaded
        if state.get("fingerprint") != self.fingerprint:
            raise ValueError(
                f"{self.checkpoint_path}: this checkpoint belongs to another "
                "job (different data, recipe, sizes or seed). Delete it or "
                "give another checkpoint path."
            )
        self._say(f"Resuming from {self.checkpoint_path} ({state['stage']}).")
        return state, arrays

    def _save(self, state, arrays):
        if self.checkpoint_path:
            state["seconds"] = time.monotonic() - self._clock
            save_checkpoint(self.checkpoint_path, state, arrays)

    def _rng(self, state):
        rng = np.random.default_rng(self.seed)
        if "rng" in state:
            rng.bit_generator.state = state["rng"]
        return rng

    def _next_stage(self, state, arrays, rng):
        stages = ["init", "gumbel", "search", "done"]
        stage = stages[stages.index(state["stage"]) + 1]
        if stage == "gumbel" and self.recipe.gumbel is None:
            stage = "search"
        if stage == "search" and not self.recipe.search_iterations:
            stage = "done"
        state.update(stage=stage, rng=rng.bit_generator.state, step=0)
        self._save(state, arrays)

    def _encode_rest(self, codes, codebooks, chunk_size=65536):
        """Codes of the rows left out of training, by beam search."""
        beam_size = max(1, self.recipe.start_beam)
        for start in range(0, len(self.rest_rows), chunk_size):
            rows = self.rest_rows[start : start + chunk_size]
            codes[rows] = beam_encode(self.vectors[rows], codebooks, beam_size)

    def _initialise(self, state, arrays):
        rng = self._rng(state)
        if self.recipe.start_beam:
            self._say(
                f"Residual start under beam search ({self.recipe.start_beam} "
                "partial sums per row)."
            )
            training_codes, codebooks = residual_beam_start(
                self.training,
                self.num_codebooks,
                self.codebook_size,
                self.recipe.start_beam,
                self.recipe.kmeans_iterations,
                rng,
                self.training_weights,
            )
            codes = np.zeros((len(self.vectors), self.num_codebooks), np.uint8)
            codes[self.training_rows] = training_codes
            codes[self.validation_rows] = beam_encode(
                self.validation, codebooks, self.recipe.start_beam
            )
            arrays.update(codes=codes, codebooks=codebooks)
        elif self.recipe.kmeans_iterations:
            self._say("Residual k-means initialisation.")
            _, codebooks = residual_kmeans(
                self.training,
                self.num_codebooks,
                self.codebook_size,
                self.recipe.kmeans_iterations,
                rng,
                self.training_weights,
            )
            arrays["codebooks"] = codebooks
            arrays["codes"] = residual_encode(self.vectors, codebooks)
        self._next_stage(state, arrays, rng)

    def _train_encoder(self, state, arrays):
        from keras_dccl.compression.gumbel_training import GumbelCodeLearner

        settings = self.recipe.gumbel
        rng = self._rng(state)
        learner = GumbelCodeLearner(
            self.vectors.shape[1],
            self.num_codebooks,
            self.codebook_size,
            settings,
            self.seed,
        )
        if "codebooks" in arrays:
            learner.set_codebooks(arrays["codebooks"])
        weights = _array_list(arrays, "weights")
        if weights:
            learner.set_state(weights)
        best_weights = _array_list(arrays, "best") or learner.get_state()
        validation = self._validation_vectors()
        progress = self._progress(settings.epochs, "epochs")
        for epoch in range(state["step"], settings.epochs):
            loss = learner.train_epoch(
                self.training, epoch, rng, self.training_weights
            )
            distance = learner.mean_distance(*validation)
            if distance < state.get("best", np.inf) * (1 - 1e-4):
                state.update(best=distance, wait=0)
                best_weights = learner.get_state()
            else:
                state["wait"] = state.get("wait", 0) + 1
            state.update(step=epoch + 1, rng=rng.bit_generator.state)
            _put_array_list(arrays, "weights", learner.get_state())
            _put_array_list(arrays, "best", best_weights)
            self._save(state, arrays)
            if progress:
                progress.update(
                    epoch + 1, [("loss", loss), ("val_distance", distance)]
                )
            if settings.patience and state["wait"] >= settings.patience:
                break
        learner.set_state(best_weights)
        arrays["codes"] = learner.codes(self.vectors).astype(np.uint8)
        arrays["codebooks"] = learner.codebooks
        for prefix in ("weights", "best"):
            _put_array_list(arrays, prefix, [])
        state.pop("best", None)
        state.pop("wait", None)
        self._next_stage(state, arrays, rng)

    def _search(self, state, arrays):
        recipe = self.recipe
        rng = self._rng(state)
        codes, codebooks = arrays["codes"], arrays["codebooks"]
        best = {
            "codes": arrays.get("best_codes", codes.copy()),
            "codebooks": arrays.get("best_codebooks", codebooks.copy()),
        }
        training, validation = self.training, self.validation
        training_weights = self.training_weights
        perturbations = recipe.search_perturbations or max(
            1, self.num_codebooks // 8
        )
        perturbations = min(perturbations, self.num_codebooks)
        iterations = recipe.search_iterations
        if recipe.scale_search:
            scale = (32 / self.num_codebooks) ** 0.5
            iterations = max(1, int(round(iterations * scale)))
        progress = self._progress(iterations, "iterations")
        noise = 0.0
        if recipe.search_noise:
            noise = recipe.search_noise * training.std(0) / self.num_codebooks
        for step in range(state["step"], iterations):
            training_codes = codes[self.training_rows]
            local_search.least_squares_codebooks(
                training, training_codes, codebooks, training_weights
            )
            temperature = (1.0 - (step + 1) / iterations) ** 0.5
            if recipe.search_noise and temperature > 0:
                shake = rng.standard_normal(codebooks.shape, np.float32)
                codebooks += temperature * noise * shake
            local_search.search_codes(
                training,
                training_codes,
                codebooks,
                rng,
                perturbations,
                rounds=recipe.search_rounds,
            )
            codes[self.training_rows] = training_codes
            monitored, monitored_codes = training, training_codes
            monitored_weights = training_weights
            if len(validation):
                monitored_codes = codes[self.validation_rows]
                local_search.search_codes(
                    validation,
                    monitored_codes,
                    codebooks,
                    rng,
                    perturbations,
                    rounds=recipe.search_rounds,
                )
                codes[self.validation_rows] = monitored_codes
                monitored = validation
                monitored_weights = self.validation_weights
            distance = _mean_distance(
                monitored, monitored_codes, codebooks, monitored_weights
            )
            if distance < state.get("best", np.inf) * (1 - 1e-4):
                state.update(best=distance, wait=0)
                best = {"codes": codes.copy(), "codebooks": codebooks.copy()}
            else:
                state["wait"] = state.get("wait", 0) + 1
            state.update(step=step + 1, rng=rng.bit_generator.state)
            arrays.update(best_codes=best["codes"])
            arrays.update(best_codebooks=best["codebooks"])
            self._save(state, arrays)
            if progress:
                progress.update(step + 1, [("val_distance", distance)])
            # An annealed search runs its schedule to the end.
            stalled = state["wait"] >= recipe.search_patience
            if stalled and not recipe.search_noise:
                break
        arrays["codes"] = best["codes"]
        arrays["codebooks"] = best["codebooks"]
        arrays.pop("best_codes", None)
        arrays.pop("best_codebooks", None)
        state.pop("best", None)
        state.pop("wait", None)
        self._next_stage(state, arrays, rng)

    def _validation_vectors(self):
        """The rows that drive early stopping, and their weights."""
        if len(self.validation):
            return self.validation, self.validation_weights
        return self.training, self.training_weights

    def _progress(self, target, unit):
        if not self.verbose:
            return None
        rows = f"{len(self.validation)} held-out rows"
        if not len(self.validation):
            rows = "training rows (none held out)"
        self._say(
            f"{target} {unit} at most; val_distance: mean distance over the "
            f"{rows}:"
        )
        return ProgressBar(target, unit_name=unit.rstrip("s"))

    def _say(self, message):
        if self.verbose:
            print(message, flush=True)


def _mean_distance(vectors, codes, codebooks, weights=None):
    distances = np.sqrt(local_search.squared_errors(vectors, codes, codebooks))
    return float(np.average(distances, weights=_usable(weights)))


def _usable(weights):
    # np.average refuses weights that sum to zero (no weighted row held out).
    return None if weights is None or not weights.sum() > 0 else weights


def _weighted_metrics(vectors, codes, codebooks, weights):
    squared = local_search.squared_errors(vectors, codes, codebooks)
    return {
        "weighted_mean_distance": float(
            np.average(np.sqrt(squared), weights=weights)
        ),
        "weighted_mean_squared_error": float(
            np.average(squared, weights=weights) / vectors.shape[1]
        ),
    }


def _array_list(arrays, prefix):
    count = int(arrays.get(f"{prefix}_count", 0))
    return [arrays[f"{prefix}_{index}"] for index in range(count)]


def _put_array_list(arrays, prefix, values):
    for key in [key for key in arrays if key.startswith(prefix + "_")]:
        del arrays[key]
    arrays[f"{prefix}_count"] = np.array(len(values))
    for index, value in enumerate(values):
        arrays[f"{prefix}_{index}"] = value


def _fingerprint(vectors, *settings):
    # The whole table (a sample of rows let a changed row through): about
    # a second per GB, without a copy of the contiguous float32 table.
    digest = hashlib.sha256(repr((vectors.shape, settings)).encode())
    digest.update(np.ascontiguousarray(vectors))
    return digest.hexdigest()


def _check_vectors(vectors):
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.number):
        raise ValueError(
            "`vectors` must be a 2-D numeric array (num_words, dim). "
            f"Received: vectors with shape {vectors.shape} and dtype "
            f"{vectors.dtype}"
        )
    if vectors.size == 0:
        raise ValueError(
            f"`vectors` must not be empty. Received: shape {vectors.shape}"
        )
    # A float32 memory map stays one (no copy); the check goes by chunks.
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    for start in range(0, len(vectors), 65536):
        if not np.isfinite(vectors[start : start + 65536]).all():
            raise ValueError("`vectors` holds NaN or Inf values.")
    # Squared distances are summed in float32: their sum must not overflow.
    limit = float(np.sqrt(np.finfo(np.float32).max / vectors.shape[1])) / 4
    largest = max(float(vectors.max()), -float(vectors.min()))
    if largest > limit:
        raise ValueError(
            f"`vectors` holds values up to {largest:.3g} in magnitude; "
            f"beyond {limit:.3g}, squared distances overflow float32. Scale "
            f"the table down. Received: largest magnitude={largest:.3g}"
        )
    return vectors


def _check_weights(weights, num_rows):
    if weights is None:
        return None
    array = np.asarray(weights, dtype=np.float64)
    if array.shape != (num_rows,):
        raise ValueError(
            f"`weights` must hold one number per row, shape ({num_rows},). "
            f"Received: weights with shape {array.shape}"
        )
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(
            "`weights` must be finite and non-negative. "
            f"Received: weights with minimum {array.min()}"
        )
    if not array.sum() > 0:
        raise ValueError(
            "`weights` must not all be zero. Received: weights summing to 0"
        )
    # Scaled to mean 1: the same objective, in a comfortable float32 range.
    return (array * (num_rows / array.sum())).astype(np.float32)


def _check_recipe(recipe, default):
    if isinstance(recipe, Recipe):
        return "custom", recipe
    name = default if recipe == "default" else recipe
    if name not in RECIPES:
        raise ValueError(
            f"`recipe` must be one of {['default', *RECIPES]} or a `Recipe`. "
            f"Received: recipe={recipe!r}"
        )
    return name, RECIPES[name]
