"""Peak resident memory of `compress` on a table read memory-mapped from .npy.

The issue's bound: a 2,000,000 x 300 float32 table (2.4 GB, the size of
fastText's crawl vectors) compresses at a peak resident memory of at most
twice the table's bytes. The table is synthetic (no such vectors ship in a
package here), Gaussian with GloVe-like scale: memory does not depend on the
values. It is written once to `--table` chunk by chunk (never whole in
memory) and reused; a fresh child process then opens it with
`np.load(mmap_mode="r")` and runs `compress` with a short recipe (the
default recipe shortened: a greedy residual start, two search iterations,
its codebooks learned on a sample of `--training-rows` rows, every other row
encoded at the end), recording the peak resident set size
(`ru_maxrss`, which counts the pages of the memory map that were read).

Usage:
    python benchmarks/compress_memory.py            # 2,000,000 x 300
    python benchmarks/compress_memory.py --words 200000   # a quick check
"""

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import time

RESULTS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "results", "compress_memory"
)


def write_table(path, words, dim):
    """The synthetic table as .npy, written 100,000 rows at a time."""
    import numpy as np

    if os.path.exists(path):
        table = np.load(path, mmap_mode="r")
        if table.shape == (words, dim) and table.dtype == np.float32:
            return
    rng = np.random.default_rng(0)
    partial = path + ".partial.npy"
    table = np.lib.format.open_memmap(
        partial, mode="w+", dtype=np.float32, shape=(words, dim)
    )
    for start in range(0, words, 100000):
        rows = min(100000, words - start)
        table[start : start + rows] = 0.4 * rng.standard_normal(
            (rows, dim), dtype=np.float32
        )
    table.flush()
    del table
    os.replace(partial, path)


def measure(path, arguments):
    import numpy as np

    from keras_dccl.compression.compress import RECIPES
    from keras_dccl.compression.compress import compress
    from keras_dccl.compression.compress import default_recipe

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    vectors = np.load(path, mmap_mode="r")
    name = default_recipe(arguments.codebooks, 16, vectors.shape[1])
    recipe = dataclasses.replace(
        RECIPES[name],
        max_training_rows=arguments.training_rows,
        search_iterations=arguments.iterations,
        start_beam=arguments.beam,
    )
    wall, cpu = time.monotonic(), time.process_time()
    compressed = compress(
        vectors,
        arguments.codebooks,
        16,
        recipe=recipe,
        validation_split=0.01,
        verbose=0,
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "words": int(vectors.shape[0]),
        "dim": int(vectors.shape[1]),
        "num_codebooks": arguments.codebooks,
        "codebook_size": 16,
        "table_bytes": int(vectors.nbytes),
        "recipe": {
            "name": name,
            "max_training_rows": arguments.training_rows,
            "search_iterations": arguments.iterations,
            "start_beam": arguments.beam,
            "validation_split": 0.01,
        },
        "peak_resident_bytes": int(peak),
        "peak_over_table": round(peak / vectors.nbytes, 3),
        "resident_before_table_bytes": int(before * 1024),
        "wall_seconds": round(time.monotonic() - wall, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "mean_distance": compressed.metadata["mean_distance"],
        "tensorflow_loaded": "tensorflow" in sys.modules,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--words", type=int, default=2000000, help="rows (default 2,000,000)."
    )
    parser.add_argument("--dim", type=int, default=300, help="default 300.")
    parser.add_argument(
        "--codebooks", type=int, default=32, help="M (default 32; K=16)."
    )
    parser.add_argument(
        "--training-rows",
        type=int,
        default=65536,
        help="rows the codebooks are learned on (default 65,536).",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        default=2,
        help="search iterations of the short recipe (default 2).",
    )
    parser.add_argument(
        "--beam",
        type=int,
        default=1,
        help="partial sums per row of the start and of the final encoding "
        "of the other rows (default 1, greedy: the short recipe; the "
        "default recipe uses 8).",
    )
    parser.add_argument(
        "--table",
        default=None,
        help="where the synthetic .npy goes (default: "
        "/tmp/compress_memory_<words>x<dim>.npy); kept for reruns.",
    )
    parser.add_argument("--output", default=RESULTS + ".json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    path = arguments.table or (
        f"/tmp/compress_memory_{arguments.words}x{arguments.dim}.npy"
    )
    if arguments.child:
        print(json.dumps(measure(path, arguments)))
        return 0
    print(f"Writing (or reusing) {path} ...", flush=True)
    write_table(path, arguments.words, arguments.dim)
    print("Compressing in a fresh process ...", flush=True)
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    output = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", *sys.argv[1:]],
        check=True, capture_output=True, text=True, env=environment,
    ).stdout  # fmt: skip
    run = json.loads(output.strip().splitlines()[-1])
    run["peak_within_twice_the_table"] = run["peak_over_table"] <= 2.0
    print(run, flush=True)
    from keras_dccl.utils.atomic_file import write_text_atomic

    results = {"runs": []}
    if os.path.exists(arguments.output):
        with open(arguments.output, encoding="utf-8") as file:
            results = json.load(file)
        if "runs" not in results or results.get("schema_version") != 2:
            results = {"runs": []}
    results.update(
        schema_version=2,
        date=time.strftime("%Y-%m-%d"),
        machine=platform.processor() or platform.machine(),
        bound="peak resident memory at most 2x the table's bytes",
    )
    same = (run["words"], run["dim"])
    results["runs"] = [
        r for r in results["runs"] if (r["words"], r["dim"]) != same
    ] + [run]
    write_text_atomic(arguments.output, json.dumps(results, indent=2) + "\n")
    table = [
        "# Compression memory benchmark",
        "",
        "Generated by `benchmarks/compress_memory.py`; the table is read "
        "memory-mapped from .npy. Bound: peak resident memory at most 2x "
        "the table's bytes.",
        "",
        "| rows x dim | M | training rows | table MB | peak resident MB | "
        "peak / table | CPU s | wall s | mean distance |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ] + [
        f"| {r['words']:,} x {r['dim']} | {r['num_codebooks']} | "
        f"{r['recipe']['max_training_rows']:,} | "
        f"{r['table_bytes'] / 2**20:.0f} | "
        f"{r['peak_resident_bytes'] / 2**20:.0f} | {r['peak_over_table']} | "
        f"{r['cpu_seconds']} | {r['wall_seconds']} | "
        f"{r['mean_distance']:.4f} |"
        for r in results["runs"]
    ]
    write_text_atomic(
        os.path.splitext(arguments.output)[0] + ".md", "\n".join(table) + "\n"
    )
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
