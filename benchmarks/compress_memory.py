"""Peak resident memory of `compress` on a 400,000 x 300 float32 table.

The package's bound: a 480 MB table compresses within 3 GB resident memory, and
memory grows with the table, not with the training length. The table is
synthetic (no 300-d vectors ship in a package here), with GloVe-like scale:
memory does not depend on the values. The job runs the default recipe with a
short search (`--iterations`) twice as long the second time, in fresh
processes, and records each peak resident set size (ru_maxrss).

Usage:
    python benchmarks/compress_memory.py [--words 400000] [--dim 300]
"""

import argparse
import dataclasses
import json
import platform
import resource
import subprocess
import sys
import time


def measure(words, dim, iterations):
    import numpy as np

    from keras_dccl.compression.compress import DEFAULT_RECIPE
    from keras_dccl.compression.compress import RECIPES
    from keras_dccl.compression.compress import compress

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    vectors = np.random.default_rng(0).standard_normal(
        (words, dim), dtype=np.float32
    )
    vectors *= 0.4
    recipe = dataclasses.replace(
        RECIPES[DEFAULT_RECIPE], search_iterations=iterations
    )
    start = time.monotonic()
    compressed = compress(vectors, 32, 16, recipe=recipe, verbose=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "words": words,
        "dim": dim,
        "table_megabytes": vectors.nbytes / 2**20,
        "search_iterations": iterations,
        "seconds": round(time.monotonic() - start, 1),
        "peak_resident_megabytes": round(peak / 1024, 1),
        "resident_before_table_megabytes": round(baseline / 1024, 1),
        "mean_distance": compressed.metadata["mean_distance"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=400000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument(
        "--iterations",
        type=int,
        default=2,
        help="search iterations of the shorter run (the longer runs twice).",
    )
    parser.add_argument(
        "--output", default="benchmarks/results/compress_memory.json"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(
            json.dumps(
                measure(arguments.words, arguments.dim, arguments.iterations)
            )
        )
        return
    runs = []
    for iterations in (arguments.iterations, 2 * arguments.iterations):
        print(f"Running {iterations} search iterations...", flush=True)
        output = subprocess.run(
            [sys.executable, __file__, "--child", "--words",
             str(arguments.words), "--dim", str(arguments.dim),
             "--iterations", str(iterations)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        runs.append(json.loads(output.strip().splitlines()[-1]))
        print(runs[-1], flush=True)
    from keras_dccl.utils.atomic_file import write_text_atomic

    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": platform.processor() or platform.machine(),
        "limit_megabytes": 3 * 1024,
        "runs": runs,
    }
    write_text_atomic(arguments.output, json.dumps(result, indent=2) + "\n")
    table = [
        "| search iterations | peak resident MB | table MB | seconds |",
        "|---|---|---|---|",
    ] + [
        f"| {r['search_iterations']} | {r['peak_resident_megabytes']} | "
        f"{r['table_megabytes']:.0f} | {r['seconds']} |"
        for r in runs
    ]
    write_text_atomic(
        arguments.output.replace(".json", ".md"), "\n".join(table) + "\n"
    )
    print("\n".join(table))


if __name__ == "__main__":
    main()
