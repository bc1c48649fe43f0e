"""Development runs of the distillation recipe on all-MiniLM-L6-v2.

Chooses how the exact-rows variants of benchmarks/transformer_embeddings.py
are distilled, on development sentences only: the student learns from
distillation sentences 2,000-7,399 (and the token counts come from them),
and is read on sentences 7,400-7,999 (distill's validation slice: its
loss, and the cosine of their sentence embeddings to the float model's).
The 2,000 held-out sentences are not read.

A recipe is a start (`--start-recipe` of `compress_model`, M, exact rows
in int4), a learning rate, a number of epochs and an optional
augmentation: `--substitute P` adds a copy of every distillation sentence
in which each real token, with probability P, is replaced by a token drawn
uniformly from the tokens without an exact row (the teacher's outputs are
computed on the copies), so that the codes of rare tokens are trained
through the model too.

Usage:

    python benchmarks/transformer_distill_dev.py NAME [--start-recipe beam]
        [--learning-rate 1e-4] [--epochs 3] [--substitute 0.15]

Adds row NAME to benchmarks/results/tuning/transformer_distill_dev.json
(and .md).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transformer_embeddings as bench  # noqa: E402
from benchmark_utils import now  # noqa: E402
from benchmark_utils import write_results  # noqa: E402

FIT_ROWS = bench.DevelopmentSplit.FIT_ROWS
DEV_ROWS = bench.DevelopmentSplit.DEV_ROWS
# BERT's [PAD], [unused*], [UNK], [CLS], [SEP], [MASK]: never substituted in.
FIRST_WORDPIECE = 999


def render_markdown(results):
    lines = [
        "# Distillation recipes on all-MiniLM-L6-v2: development runs",
        "",
        "Written by `python benchmarks/transformer_distill_dev.py`. Student "
        "trained on distillation sentences 2,000-7,399, read on 7,400-7,999 "
        "(no held-out sentence is read). Cosine: sentence embeddings against "
        "the float model's.",
        "",
        "| run | start | M | exact rows | lr | substitute | epochs run "
        "| best val loss | cosine before | cosine after | p5 after "
        "| distill s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in results["runs"].items():
        lines.append(
            f"| {name} | {row['start_recipe']} | {row['num_codebooks']} "
            f"| {row['exact_rows']:,} | {row['learning_rate']:g} "
            f"| {row['substitute']:g} | {len(row['val_loss'])} "
            f"| {row['best_val_loss']:.5f} | {row['cosine_before']:.4f} "
            f"| {row['cosine_after']:.4f} | {row['cosine_p5_after']:.4f} "
            f"| {row['distill_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def substituted(token_ids, padding_mask, candidates, rate, seed):
    """A copy of `token_ids` with real tokens replaced at `rate`."""
    rng = np.random.default_rng(seed)
    ids = token_ids.copy()
    lengths = padding_mask.sum(axis=1)
    positions = np.arange(ids.shape[1])[None, :]
    # Not [CLS] (first) nor [SEP] (last real token).
    inside = (positions > 0) & (positions < lengths[:, None] - 1)
    chosen = inside & (rng.random(ids.shape) < rate)
    ids[chosen] = rng.choice(candidates, size=int(chosen.sum()))
    return ids


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--start-recipe", default="residual_kmeans")
    parser.add_argument("--num-codebooks", type=int, default=32)
    parser.add_argument("--exact-rows", type=int, default=11000)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--substitute", type=float, default=0.0)
    parser.add_argument(
        "--output",
        default=os.path.join(
            bench.RESULTS, "tuning", "transformer_distill_dev.json"
        ),
    )
    arguments = parser.parse_args(argv)
    split = bench.DevelopmentSplit()

    import keras_dccl

    backbone, arrays, counts = split.backbone, split.arrays, split.counts
    student = keras_dccl.compress_model(
        backbone,
        num_codebooks=arguments.num_codebooks,
        codebook_size=16,
        filters="token_embedding",
        recipe=arguments.start_recipe,
        weights=1.0 + counts,
        exact_rows=arguments.exact_rows,
        exact_rows_dtype="int4",
        verbose=1,
    )
    before, _ = split.cosine(student)
    print(f"dev cosine before distillation: {before:.4f}", flush=True)

    rows = np.concatenate([FIT_ROWS, DEV_ROWS])
    inputs = bench.model_inputs(arrays, rows)
    targets = bench.teacher_outputs(
        backbone, arrays, rows, os.path.join(bench.RESULTS, "transformer_work")
    )
    if arguments.substitute:
        order = np.argsort(-counts, kind="stable")
        exact = order[: arguments.exact_rows]
        candidates = np.setdiff1d(
            np.arange(FIRST_WORDPIECE, backbone.vocabulary_size), exact
        )
        fit = bench.model_inputs(arrays, FIT_ROWS)
        copies = dict(fit)
        copies["token_ids"] = substituted(
            fit["token_ids"], fit["padding_mask"], candidates,
            arguments.substitute, seed=1,
        )  # fmt: skip
        print("Teacher outputs on the substituted copies ...", flush=True)
        copy_targets = backbone.predict(copies, batch_size=64, verbose=0)[
            "sequence_output"
        ]
        n = len(FIT_ROWS)
        inputs = {
            key: np.concatenate([inputs[key][:n], copies[key], inputs[key][n:]])
            for key in inputs
        }
        targets = np.concatenate([targets[:n], copy_targets, targets[n:]])
    history = bench.distill_student(
        student,
        targets,
        inputs,
        arguments.learning_rate,
        arguments.epochs,
        validation_split=len(DEV_ROWS) / len(targets),
    )
    after, p5 = split.cosine(student)
    print(f"dev cosine after distillation: {after:.4f}", flush=True)

    results = {"runs": {}}
    if os.path.exists(arguments.output):
        with open(arguments.output, encoding="utf-8") as file:
            results = json.load(file)
    results["runs"][arguments.name] = {
        "date": now(),
        "start_recipe": arguments.start_recipe,
        "num_codebooks": arguments.num_codebooks,
        "exact_rows": arguments.exact_rows,
        "learning_rate": arguments.learning_rate,
        "substitute": arguments.substitute,
        "val_loss": [float(v) for v in history["val_loss"]],
        "best_val_loss": float(history["best_val_loss"]),
        "cosine_before": before,
        "cosine_after": after,
        "cosine_p5_after": p5,
        "distill_seconds": round(history["seconds"], 1),
        "finished": time.strftime("%H:%M:%S"),
    }
    write_results(arguments.output, results, render_markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
