"""Sentiment benchmark, distilled: codes learned through the float model.

The recipe of `examples/sentiment.py` trains the float GloVe `Embedding`
classifier (the baseline). Here that trained model is the teacher:
`keras_dccl.compress_model` replaces its embedding by M codes per word
(codes weighted by word frequency in the training sentences), and
`keras_dccl.distill` trains the compressed classifier to reproduce the
teacher's predicted probabilities (binary cross-entropy on soft targets) on
the training sentences, labels unused, early stopping on the last 10% of
them. Each fold reports the test accuracy of the teacher and of the
student, and their paired difference; the summary gives the mean
difference and its standard error over the folds, as
`benchmarks/sentiment.py --folds` does for the other recipes.

Usage:

    python benchmarks/sentiment_distill.py [--folds 0 1 ... 9]
        [--holdout test|dev] [--num-codebooks 6] [--learning-rate 1e-3]
        [--epochs 20] [--resume] [--output PATH]

Writes benchmarks/results/sentiment_distill.json and .md (atomically)
after every fold (`--holdout dev`: tuning/sentiment_distill_dev.json, the
test sentences left out altogether, for choosing the recipe).
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark_utils import machine_info  # noqa: E402
from benchmark_utils import now  # noqa: E402
from benchmark_utils import write_results  # noqa: E402
from sentiment import load_data  # noqa: E402
from sentiment import load_example  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def run_fold(example, fold, arguments, directory):
    import keras

    import keras_dccl

    tokenizer, table, splits = load_data(example, arguments.holdout, fold)
    start = time.time()
    teacher, _ = example.train_variant("glove_embedding", table, splits, 0)
    teacher_seconds = time.time() - start
    train_ids = splits["train"][0]
    counts = np.bincount(train_ids.ravel(), minlength=len(table))
    keras.utils.set_random_seed(0)
    start = time.time()
    student = keras_dccl.compress_model(
        teacher,
        num_codebooks=arguments.num_codebooks,
        codebook_size=16,
        weights=1.0 + counts,
        verbose=0,
    )
    history = keras_dccl.distill(
        student,
        teacher,
        train_ids,
        loss="binary_crossentropy",
        optimizer=keras.optimizers.Adam(arguments.learning_rate),
        epochs=arguments.epochs,
        batch_size=64,
        patience=arguments.patience,
        verbose=0,
    )
    student_seconds = time.time() - start
    path = os.path.join(directory, f"distilled-fold{fold}.tflite")
    size = example.embedding_bytes(student, path, tokenizer.vocabulary)
    return {
        "fold": fold,
        "teacher_test_accuracy": example.accuracy(teacher, splits["test"]),
        "test_accuracy": example.accuracy(student, splits["test"]),
        "validation_accuracy": example.accuracy(
            student, splits["validation"]
        ),
        "embedding_bytes": size,
        "compression": table.size * 4 / size,
        "distill_epochs": len(history["loss"]),
        "teacher_seconds": round(teacher_seconds, 1),
        "student_seconds": round(student_seconds, 1),
    }


def summary(runs):
    differences = np.array(
        [run["test_accuracy"] - run["teacher_test_accuracy"] for run in runs]
    )
    error = (
        float(differences.std(ddof=1) / np.sqrt(len(runs)))
        if len(runs) > 1
        else None
    )
    return {
        "folds": len(runs),
        "teacher_mean": float(
            np.mean([run["teacher_test_accuracy"] for run in runs])
        ),
        "student_mean": float(np.mean([run["test_accuracy"] for run in runs])),
        "difference_mean": float(differences.mean()),
        "difference_standard_error": error,
        "compression_mean": float(np.mean([r["compression"] for r in runs])),
    }


def render_markdown(results):
    split = "test" if results["holdout"] == "test" else "development"
    lines = [
        "# Sentiment, distilled codes",
        "",
        f"`python benchmarks/sentiment_distill.py {results['command']}` "
        f"({results['started']}, {results['machine']['nproc']} cores). "
        f"M={results['num_codebooks']} codes of K=16 per word; accuracy "
        f"on the {split} split of each fold.",
        "",
        "| fold | float teacher | distilled | difference | embedding bytes "
        "| vs float32 | distill epochs |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        lines.append(
            f"| {run['fold']} | {run['teacher_test_accuracy']:.4f} | "
            f"{run['test_accuracy']:.4f} | "
            f"{run['test_accuracy'] - run['teacher_test_accuracy']:+.4f} | "
            f"{run['embedding_bytes']:,} | {run['compression']:.1f}x | "
            f"{run['distill_epochs']} |"
        )
    total = results["summary"]
    error = total["difference_standard_error"]
    lines += [
        "",
        f"Over {total['folds']} folds: teacher {total['teacher_mean']:.4f}, "
        f"distilled {total['student_mean']:.4f}, paired difference "
        f"{100 * total['difference_mean']:+.2f} points"
        + (f" ± {100 * error:.2f} (standard error)" if error else "")
        + f", at {total['compression_mean']:.1f}x smaller than float32.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="sentiment_distill.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--folds", type=int, nargs="+", default=list(range(10)),
        choices=range(10), help="which folds (default all ten).",
    )  # fmt: skip
    parser.add_argument("--holdout", choices=("test", "dev"), default="test")
    parser.add_argument("--num-codebooks", type=int, default=6)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--output")
    parser.add_argument(
        "--resume", action="store_true",
        help="keep the folds already in --output.",
    )  # fmt: skip
    arguments = parser.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if arguments.output is None:
        name = "sentiment_distill.json"
        if arguments.holdout == "dev":
            name = os.path.join("tuning", "sentiment_distill_dev.json")
        arguments.output = os.path.join(RESULTS, name)
    runs = []
    if arguments.resume and os.path.exists(arguments.output):
        with open(arguments.output, encoding="utf-8") as file:
            runs = json.load(file)["runs"]
    example = load_example()
    results = {
        "started": now(),
        "machine": machine_info(),
        "command": " ".join(sys.argv[1:] if argv is None else argv),
        "holdout": arguments.holdout,
        "num_codebooks": arguments.num_codebooks,
        "learning_rate": arguments.learning_rate,
        "runs": runs,
    }
    done = {run["fold"] for run in runs}
    with tempfile.TemporaryDirectory() as directory:
        for fold in arguments.folds:
            if fold in done:
                continue
            run = run_fold(example, fold, arguments, directory)
            print(json.dumps(run), flush=True)
            runs.append(run)
            results["summary"] = summary(runs)
            write_results(arguments.output, results, render_markdown)
    print(render_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
