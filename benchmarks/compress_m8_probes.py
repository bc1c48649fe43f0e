"""Where the default recipe stops at GloVe M=8: two probes past its end.

    python benchmarks/compress_m8_probes.py [--rounds 15]

The default recipe ends at a mean distance of 2.644 on the top 50,000 GloVe
words at M=8, K=16; the target (0.97 times faiss LSQ++ at 50 iterations,
2.660) needs 2.580. This script asks which half of the alternation could
still give that much, starting from the recipe's own result (one thread):

- the codebooks: least squares weighted by 1 / distance (iteratively
  reweighted least squares), which minimises the sum of distances, the
  benchmark's metric, rather than the sum of squares, alternating with the
  recipe's perturbed local search (`rounds` rounds);
- the codes: every row re-encoded with the final codebooks by beam search
  (beam 16, 64 and 256, each over 3 random codebook orders, then 2 ICM
  sweeps), keeping a row's new codes only where they reconstruct it better.

Writes benchmarks/results/tuning/compress_m8_probes.json and .md.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark_utils import machine_info  # noqa: E402
from benchmark_utils import now  # noqa: E402
from benchmark_utils import write_results  # noqa: E402

RESULTS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "results", "tuning"
)
NUM_WORDS = 50000
# faiss LSQ++ at 50 iterations, the best faiss method at M=8
# (benchmarks/results/compress_glove_faiss.md).
FAISS_BEST = 2.6598
BEAMS = (16, 64, 256)
ORDERS = 3


def distances(vectors, codes, codebooks):
    from keras_dccl.compression.local_search import squared_errors

    return np.sqrt(squared_errors(vectors, codes, codebooks))


def reweighted(vectors, codes, codebooks, rounds, rng):
    """IRLS codebooks alternating with the recipe's local search."""
    from keras_dccl.compression import local_search

    steps = []
    start = time.process_time()
    for _ in range(rounds):
        weights = 1.0 / np.maximum(distances(vectors, codes, codebooks), 1e-3)
        local_search.least_squares_codebooks(
            vectors, codes, codebooks, weights=weights
        )
        local_search.search_codes(
            vectors, codes, codebooks, rng, perturbations=1, rounds=2
        )
        steps.append(float(distances(vectors, codes, codebooks).mean()))
    return {"distances": steps, "cpu_seconds": time.process_time() - start}


def re_encoded(vectors, codes, codebooks, beam_size, rng):
    """Each row's best of its codes and beam-searched ones."""
    from keras_dccl.compression.beam_search import beam_encode
    from keras_dccl.compression.local_search import icm

    start = time.process_time()
    best = distances(vectors, codes, codebooks)
    before = best.copy()
    for _ in range(ORDERS):
        order = rng.permutation(len(codebooks))
        candidate = np.empty_like(codes)
        candidate[:, order] = beam_encode(vectors, codebooks[order], beam_size)
        icm(vectors, candidate, codebooks, 2, rng)
        best = np.minimum(best, distances(vectors, candidate, codebooks))
    return {
        "beam_size": beam_size,
        "distance": float(best.mean()),
        "rows_improved": float(np.mean(best < before - 1e-6)),
        "cpu_seconds": time.process_time() - start,
    }


def render_markdown(results):
    base = results["default"]
    lines = [
        "# GloVe M=8: probes past the default recipe",
        "",
        f"Written by `python benchmarks/compress_m8_probes.py` "
        f"({results['date']}). Top {NUM_WORDS:,} GloVe 6B 50d words, M=8, "
        "K=16, one thread, mean distance over all rows. The target needs "
        f"{results['target']:.3f}.",
        "",
        "| method | mean distance | vs default | CPU s |",
        "|---|---:|---:|---:|",
        f"| default recipe | {base['distance']:.4f} | 1.0000 | "
        f"{base['cpu_seconds']:.1f} |",
    ]
    irls = results["reweighted"]
    lines.append(
        f"| + {len(irls['distances'])} rounds of 1 / distance weighted least "
        f"squares and local search | {irls['distances'][-1]:.4f} | "
        f"{irls['distances'][-1] / base['distance']:.4f} | "
        f"+{irls['cpu_seconds']:.1f} |"
    )
    for row in results["re_encoded"]:
        lines.append(
            f"| + beam {row['beam_size']} re-encoding, {ORDERS} orders "
            f"({row['rows_improved']:.1%} of rows improved) | "
            f"{row['distance']:.4f} | {row['distance'] / base['distance']:.4f}"
            f" | +{row['cpu_seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    arguments = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from keras_dccl.compression import compress
    from keras_dccl.readers import load_glove_package

    threadpool_limits(1)
    _, vectors = load_glove_package(NUM_WORDS)
    vectors = np.asarray(vectors, np.float32)
    start = time.process_time()
    table = compress(vectors, num_codebooks=8, codebook_size=16, seed=0)
    seconds = time.process_time() - start
    codes = np.array(table.codes)
    codebooks = np.array(table.codebooks, np.float32)
    results = {
        "date": now(),
        "machine": machine_info(),
        "target": 0.97 * FAISS_BEST,
        "default": {
            "distance": float(distances(vectors, codes, codebooks).mean()),
            "cpu_seconds": seconds,
        },
        "re_encoded": [
            re_encoded(vectors, codes, codebooks, beam, rng)
            for beam, rng in zip(BEAMS, np.random.default_rng(0).spawn(3))
        ],
    }
    results["reweighted"] = reweighted(
        vectors, codes, codebooks, arguments.rounds, np.random.default_rng(1)
    )
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, "compress_m8_probes.json")
    write_results(path, results, render_markdown)
    print(render_markdown(results))


if __name__ == "__main__":
    main()
