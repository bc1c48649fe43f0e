"""Development sweep: how many frequent tokens to keep exact, int8 or int4.

On all-MiniLM-L6-v2 (see benchmarks/transformer_embeddings.py), post-hoc
codes (`compress_model`, residual k-means, weighted by token counts) with
the N most frequent tokens kept exact, for several M and N. Every reading
is on development sentences only: token counts from distillation
sentences 2,000-7,399 and cosines on sentences 7,400-7,999 (distill's
validation slice in the benchmark); the 2,000 held-out sentences are not
read. For each setting: the share of development tokens that are exact,
and the mean and 5th-percentile cosine to the float model with the rows
exact in float32 and rounded to int4 (`exact_rows_dtype="int4"`).

Usage:

    python benchmarks/transformer_exact_rows.py [--codebooks 16 32]
        [--rows 5000 8000 11000 15000]

Writes benchmarks/results/tuning/transformer_exact_rows.json and .md after
every setting; `--resume` keeps the settings already there.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transformer_embeddings as bench  # noqa: E402
from benchmark_utils import machine_info  # noqa: E402
from benchmark_utils import now  # noqa: E402
from benchmark_utils import write_results  # noqa: E402


def render_markdown(results):
    lines = [
        "# Exact rows on all-MiniLM-L6-v2: development sweep",
        "",
        "Written by `python benchmarks/transformer_exact_rows.py` "
        f"({results['date']}). Post-hoc codes (K=16) with the N most "
        "frequent tokens exact; counts from distillation sentences "
        "2,000-7,399, cosines on sentences 7,400-7,999 (no held-out "
        "sentence is read).",
        "",
        "| M | N exact | tokens exact | cosine float32 rows | p5 "
        "| cosine int4 rows | p5 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["settings"].values():
        lines.append(
            f"| {row['num_codebooks']} | {row['exact_rows']:,} "
            f"| {row['coverage']:.3f} | {row['float_mean']:.4f} "
            f"| {row['float_p5']:.4f} | {row['int4_mean']:.4f} "
            f"| {row['int4_p5']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codebooks", type=int, nargs="+", default=[16, 32])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[5000, 8000, 11000, 15000]
    )
    parser.add_argument(
        "--output",
        default=os.path.join(
            bench.RESULTS, "tuning", "transformer_exact_rows.json"
        ),
    )
    parser.add_argument("--resume", action="store_true")
    arguments = parser.parse_args(argv)
    split = bench.DevelopmentSplit()
    import keras_dccl

    order = np.argsort(-split.counts, kind="stable")

    results = {"date": now(), "machine": machine_info(), "settings": {}}
    if arguments.resume and os.path.exists(arguments.output):
        with open(arguments.output, encoding="utf-8") as file:
            results["settings"] = json.load(file)["settings"]
    for num_codebooks in arguments.codebooks:
        for exact_rows in arguments.rows:
            key = f"m{num_codebooks}_exact{exact_rows}"
            if key in results["settings"]:
                continue
            start = time.time()
            row = {"num_codebooks": num_codebooks, "exact_rows": exact_rows}
            row["coverage"] = float(
                np.isin(split.tokens, order[:exact_rows]).mean()
            )
            for dtype, label in (("int8", "float"), ("int4", "int4")):
                # An "int8" layer adds its rows in float32 (they are int8
                # only in the file): the exact-row ceiling.
                student = keras_dccl.compress_model(
                    split.backbone,
                    num_codebooks=num_codebooks,
                    codebook_size=16,
                    filters="token_embedding",
                    recipe="residual_kmeans",
                    weights=1.0 + split.counts,
                    exact_rows=exact_rows,
                    exact_rows_dtype=dtype,
                    verbose=0,
                )
                mean, p5 = split.cosine(student)
                row[f"{label}_mean"], row[f"{label}_p5"] = mean, p5
            row["seconds"] = round(time.time() - start, 1)
            results["settings"][key] = row
            print(key, row, flush=True)
            write_results(arguments.output, results, render_markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
