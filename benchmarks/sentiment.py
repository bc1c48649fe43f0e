"""Sentiment benchmark: `examples/sentiment.py`'s comparison over 3 seeds.

Rotten Tomatoes critic snippets (fixed 80/10/10 split), a convolutional
classifier on GloVe-6B-50d, four embedding layers: the fine-tuned float
`keras.layers.Embedding` baseline, codes from `compress` (reconstruction
only), task-driven codes and adaptive code lengths. Each seed changes the
initialization, the Gumbel noise and the batch order, not the split.

For each variant it reports the test accuracy (mean and standard deviation
over the seeds), the bytes of the embedding in the exported `.tflite` file
(codes + codebooks + scales, measured in the file), the compression against
float32 and the code bits per word, and checks the two targets set for the
task-driven codes:

- task-driven or adaptive codes reach the baseline's accuracy (mean no more
  than 0.5 points below the baseline's mean) with an embedding at least 50x
  smaller than float32;
- the adaptive layer, at the same accuracy as fixed-length task-driven codes
  (mean no more than 0.5 points below), uses fewer bits per word. Besides
  the example's M=4 codes, the benchmark trains task-driven codes with M=6
  (`task_driven_m6`, 24 bits per word, the most that stays 50x smaller) and
  M=8 (`task_driven_m8`, 32 bits per word).

Usage:

    python benchmarks/sentiment.py [--seeds 0 1 2] [--folds 0] [--resume]
        [--holdout test|dev] [--variants NAME ...] [--option KEY=VALUE ...]
        [--sentences N] [--output PATH] [--list-splits]

Writes benchmarks/results/sentiment.json and .md (atomically) after every
seed; `--resume` keeps the seeds already in the JSON file (when they are
all there, it only makes the summary and the tables again).

`--holdout dev` is for choosing how to train: the test sentences are left
out, accuracy is measured on a development split taken from the training
sentences, and the results go to results/tuning/sentiment_dev*.json unless
`--output` says otherwise. `--option` sets one of the recipe's alternatives
(a JSON value; see `train_tuned`) for every variant, for example `--option
monitor=val_loss`. `--sentences N` and `--option epochs=E` make a quick run
on the first N shuffled sentences; `--list-splits` prints the sentence
indices of every split of every fold, as JSON, and trains nothing.

`--folds 0 1 ... 9` is a 10-fold cross-validation of the same recipe: fold
F holds out the F-th tenth of the shuffled sentences as its test split (and
the next tenth for validation), so every sentence is tested once. Fold 0 is
the example's split. Each variant's difference from the baseline is also
given paired, run by run (same seed and fold), with its standard error.
"""

import argparse
import functools
import importlib.util
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark_utils import machine_info  # noqa: E402
from benchmark_utils import now  # noqa: E402
from benchmark_utils import write_results  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
# Runs on the development split, which chose the recipe.
TUNING = os.path.join(RESULTS, "tuning")
ACCURACY_MARGIN = 0.005
COMPRESSION_TARGET = 50.0
FIELDS = (
    "test_accuracy",
    "validation_accuracy",
    "embedding_bytes",
    "compression",
    "bits_per_word",
    "seconds",
)


def load_example():
    spec = importlib.util.spec_from_file_location(
        "sentiment_example", os.path.join(ROOT, "examples", "sentiment.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def split_for(holdout="test", fold=0, num_sentences=None):
    """The `split` of `example.load_data` for a holdout and a fold.

    Fold F rotates the example's shuffled sentences by F tenths, so that
    fold 0 is the example's own split. With `holdout="dev"`, the test
    sentences are left out altogether and the split named "test" is a
    development split of the same size taken from the training sentences.
    """
    if holdout not in ("test", "dev"):
        raise ValueError(f"`holdout` must be 'test' or 'dev': {holdout!r}")

    def split(count):
        order = np.random.default_rng(0).permutation(count)[:num_sentences]
        tenth = len(order) // 10
        order = np.roll(order, -fold * tenth)
        if holdout == "dev":
            order = order[tenth:]
        return {
            "test": order[:tenth],
            "validation": order[tenth : 2 * tenth],
            "train": order[2 * tenth :],
        }

    return split


def load_data(example, holdout="test", fold=0, num_sentences=None):
    """`example.load_data` on the benchmark's split."""
    return example.load_data(split_for(holdout, fold, num_sentences))


def train_tuned(
    example,
    kind,
    table,
    splits,
    seed,
    num_codebooks=None,
    codebook_size=None,
    target_bits_per_word=None,
    epochs=None,
    monitor="val_accuracy",
    straight_through=False,
    warm_start_epochs=None,
    train_embeddings=True,
    start_temperature=1.0,
    from_baseline=False,
):
    """The example's `train_variant` with the alternatives tried on the
    development split (`docs/sentiment_protocol.md`); `None`: the example's.

    `monitor` is the quantity early stopping watches on the validation
    split; `straight_through` makes the task-driven layer use straight-through
    one-hot codes in training (the adaptive layer always does);
    `warm_start_epochs` (0: none), `train_embeddings` and
    `start_temperature` apply to the task-driven and adaptive layers.
    `from_baseline` starts them from a trained baseline instead of GloVe: its
    fine-tuned vectors become the layer's embeddings, and its classifier
    weights the new classifier's.
    """
    import keras

    import keras_dccl

    num_codebooks = num_codebooks or example.NUM_CODEBOOKS
    codebook_size = codebook_size or example.CODEBOOK_SIZE
    target_bits_per_word = target_bits_per_word or example.TARGET_BITS_PER_WORD
    epochs = epochs or example.EPOCHS
    if warm_start_epochs is None:
        warm_start_epochs = example.WARM_START_EPOCHS
    keras.utils.set_random_seed(seed)
    vocabulary_size, dim = table.shape
    if kind == "glove_embedding":
        layer = keras.layers.Embedding(
            vocabulary_size,
            dim,
            embeddings_initializer=keras.initializers.Constant(table),
        )
        model = example.build_classifier(layer)
        example.train(model, splits, epochs, monitor=monitor)
        return model, layer
    if kind == "compress":
        compressed = keras_dccl.compress(
            table,
            num_codebooks=num_codebooks,
            codebook_size=codebook_size,
            seed=seed,
            verbose=0,
        )
        layer = keras_dccl.CodebookEmbedding.from_compressed(compressed)
        model = example.build_classifier(layer)
        example.train(model, splits, epochs, monitor=monitor)
        return model, layer
    if kind == "task_driven":
        layer = keras_dccl.CodebookEmbedding.from_pretrained(
            table,
            train_embeddings=train_embeddings,
            num_codebooks=num_codebooks,
            codebook_size=codebook_size,
            straight_through=straight_through,
            seed=seed,
        )
    elif kind == "adaptive":
        layer = keras_dccl.AdaptiveCodebookEmbedding.from_pretrained(
            table,
            train_embeddings=train_embeddings,
            code_lengths=example.CODE_LENGTHS,
            codebook_size=codebook_size,
            target_bits_per_word=target_bits_per_word,
            seed=seed,
        )
    else:
        raise ValueError(f"Unknown kind of embedding: {kind!r}")
    baseline = None
    if from_baseline:
        baseline, baseline_layer = train_tuned(
            example,
            "glove_embedding",
            table,
            splits,
            seed,
            epochs=epochs,
            monitor=monitor,
        )
        layer.embeddings.assign(baseline_layer.embeddings)
        keras.utils.set_random_seed(seed)
    if warm_start_epochs:
        keras_dccl.models.warm_start(layer, epochs=warm_start_epochs)
    model = example.build_classifier(layer)
    schedule = keras_dccl.callbacks.TemperatureSchedule(
        start_temperature, 0.1, epochs=12
    )
    if baseline is not None:
        for target, source in zip(model.layers, baseline.layers):
            if target is not layer:
                target.set_weights(source.get_weights())
    example.train(model, splits, epochs, callbacks=[schedule], monitor=monitor)
    model = keras_dccl.models.freeze_codes(model)
    example.train(model, splits, max(1, epochs // 2), monitor=monitor)
    return model, model.get_layer(layer.name)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="sentiment.py",
        description="examples/sentiment.py's comparison over several seeds.",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--folds", type=int, nargs="+", default=[0], choices=range(10)
    )
    parser.add_argument("--output")
    parser.add_argument("--holdout", choices=("test", "dev"), default="test")
    parser.add_argument("--variants", nargs="+", metavar="NAME")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        type=parse_option,
        metavar="KEY=VALUE",
        help="A train_variant argument for every variant; VALUE is JSON.",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="Keep the runs already in --output and run only the others.",
    )
    parser.add_argument(
        "--sentences",
        type=int,
        metavar="N",
        help="Only the first N shuffled sentences (a quick run).",
    )
    parser.add_argument(
        "--list-splits",
        action="store_true",
        help="Print the sentence indices of each split of each fold as "
        "JSON and stop.",
    )
    args = parser.parse_args(argv)
    if args.list_splits:
        import keras_dccl

        count = len(keras_dccl.readers.load_rotten_tomatoes()[0])
        splits = {
            fold: {
                name: indices.tolist()
                for name, indices in split_for(
                    args.holdout, fold, args.sentences
                )(count).items()
            }
            for fold in args.folds
        }
        print(json.dumps(splits))
        return
    if args.output is None:
        name = "sentiment" if args.holdout == "test" else "sentiment_dev"
        name += "_folds" if args.folds != [0] else ""
        folder = RESULTS if args.holdout == "test" else TUNING
        args.output = os.path.join(folder, name + ".json")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    previous = {}
    if args.resume and os.path.exists(args.output):
        with open(args.output, encoding="utf-8") as file:
            previous = json.load(file)
    runs = previous.get("runs", [])
    done = {(run["seed"], run.get("fold", 0)) for run in runs}
    if previous and all(
        (seed, fold) in done for seed in args.seeds for fold in args.folds
    ):
        # Nothing left to run: the summary and tables are made again from
        # the runs (after a change to this script), nothing is trained.
        previous.update(
            json_name=os.path.basename(args.output), summary=summarize(runs)
        )
        write_results(args.output, previous, render_markdown)
        print(render_markdown(previous))
        return
    example = load_example()
    variants = dict(
        example.VARIANTS,
        task_driven_m6={"kind": "task_driven", "num_codebooks": 6},
        task_driven_m8={"kind": "task_driven", "num_codebooks": 8},
    )
    unknown = sorted(set(args.variants or ()) - set(variants))
    if unknown:
        parser.error(f"unknown --variants {unknown}; known: {list(variants)}")
    options = dict(args.option)
    variants = {
        name: row | options
        for name, row in variants.items()
        if name in (args.variants or variants)
    }
    # The example's own recipe, unless an alternative is asked for.
    train = (
        functools.partial(train_tuned, example)
        if options
        else example.train_variant
    )
    results = {
        "benchmark": "sentiment",
        "json_name": os.path.basename(args.output),
        "started": now(),
        "machine": machine_info(),
        "setup": {
            "sequence_length": example.SEQUENCE_LENGTH,
            "num_codebooks": example.NUM_CODEBOOKS,
            "codebook_size": example.CODEBOOK_SIZE,
            "code_lengths": list(example.CODE_LENGTHS),
            "target_bits_per_word": example.TARGET_BITS_PER_WORD,
            "epochs": options.get("epochs", example.EPOCHS),
            "num_sentences": args.sentences,
            "holdout": args.holdout,
            "folds": args.folds,
            "options": options,
        },
    }
    with tempfile.TemporaryDirectory() as directory:
        for fold in args.folds:
            data = load_data(example, args.holdout, fold, args.sentences)
            tokenizer, table, splits = data
            results["setup"].update(
                vocabulary_size=tokenizer.vocabulary_size,
                dimension=table.shape[1],
                sentences={name: len(row[1]) for name, row in splits.items()},
            )
            for seed in args.seeds:
                if (seed, fold) in done:
                    print(f"seed {seed}, fold {fold}: kept from {args.output}")
                    continue
                print(f"seed {seed}, fold {fold}:", flush=True)
                for result in example.run_comparison(
                    data, directory, seed, variants=variants, train=train
                ):
                    runs.append(
                        {
                            "variant": result["variant"],
                            "kind": result["kind"],
                            "seed": seed,
                            "fold": fold,
                        }
                        | {field: result[field] for field in FIELDS}
                    )
                results.update(
                    runs=runs, summary=summarize(runs), finished=now()
                )
                results["machine"]["load_average_end"] = list(os.getloadavg())
                write_results(args.output, results, render_markdown)
    print(render_markdown(results))


def parse_option(text):
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE: {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def summarize(runs):
    summary = {}
    for variant in dict.fromkeys(run["variant"] for run in runs):
        rows = [run for run in runs if run["variant"] == variant]
        summary[variant] = {
            "kind": rows[0]["kind"],
            "seeds": [row["seed"] for row in rows],
        } | {
            field: {
                "mean": float(np.mean([row[field] for row in rows])),
                "std": float(np.std([row[field] for row in rows])),
            }
            for field in FIELDS
        }
        differences = paired_differences(runs, variant)
        if variant != "glove_embedding" and len(differences) > 1:
            summary[variant]["difference_from_baseline"] = {
                "mean": float(np.mean(differences)),
                "standard_error": float(
                    np.std(differences, ddof=1) / np.sqrt(len(differences))
                ),
                "runs": len(differences),
            }
    summary["targets"] = check_targets(summary)
    return summary


def paired_differences(runs, variant):
    """Test accuracy minus the baseline's, for each seed and fold of both."""
    baseline = {
        (run["seed"], run.get("fold", 0)): run["test_accuracy"]
        for run in runs
        if run["variant"] == "glove_embedding"
    }
    return [
        run["test_accuracy"] - baseline[key]
        for run in runs
        if run["variant"] == variant
        and (key := (run["seed"], run.get("fold", 0))) in baseline
    ]


def check_targets(summary):
    mean = {
        name: {field: row[field]["mean"] for field in FIELDS}
        | {"kind": row["kind"]}
        for name, row in summary.items()
        if name != "targets"
    }
    if not {"glove_embedding", "adaptive"} <= set(mean):
        return {}
    baseline = mean["glove_embedding"]["test_accuracy"]
    learned = [
        name
        for name, row in mean.items()
        if row["kind"] in ("task_driven", "adaptive")
    ]
    reaching = [
        name
        for name in learned
        if mean[name]["test_accuracy"] >= baseline - ACCURACY_MARGIN
        and mean[name]["compression"] >= COMPRESSION_TARGET
    ]
    adaptive = mean["adaptive"]
    beaten = [
        name
        for name, row in mean.items()
        if row["kind"] == "task_driven"
        and adaptive["test_accuracy"] >= row["test_accuracy"] - ACCURACY_MARGIN
        and adaptive["bits_per_word"] < row["bits_per_word"]
    ]
    return {
        "baseline_accuracy_at_50x": {"met": bool(reaching), "by": reaching},
        "adaptive_fewer_bits_at_same_accuracy": {
            "met": bool(beaten),
            "than": beaten,
            "adaptive_bits_per_word": adaptive["bits_per_word"],
        },
    }


def render_markdown(results):
    setup = results["setup"]
    holdout = setup.get("holdout", "test")
    lines = [
        "# Sentiment benchmark: Rotten Tomatoes, GloVe-6B-50d",
        "",
        "Written by `python benchmarks/sentiment.py` into "
        f"`{results.get('json_name', 'sentiment.json')}`; do not edit by hand.",
        "",
        f"{setup.get('vocabulary_size', '?')} words; fixed codes "
        f"M={setup['num_codebooks']}, K={setup['codebook_size']}; adaptive "
        f"lengths {setup['code_lengths']}, target "
        f"{setup['target_bits_per_word']} bits per word. Machine: "
        f"{results['machine']['nproc']} cores, load average "
        f"{results['machine']['load_average'][0]:.1f} at the start. "
        f"Accuracy on the {holdout} split"
        + (
            " (development split from the training sentences)"
            if holdout == "dev"
            else ""
        )
        + f"; folds {setup.get('folds', [0])}"
        + f"; options {setup.get('options') or 'none'}.",
        "",
        f"| variant | runs | {holdout} accuracy | embedding bytes "
        "| smaller than float32 | code bits per word | seconds "
        "| paired difference from the baseline |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    summary = results.get("summary", {})
    for name, row in summary.items():
        if name == "targets":
            continue
        lines.append(
            f"| {name} | {len(row['seeds'])} "
            f"| {row['test_accuracy']['mean']:.4f} "
            f"± {row['test_accuracy']['std']:.4f} "
            f"| {row['embedding_bytes']['mean']:,.0f} "
            f"| {row['compression']['mean']:.1f}x "
            f"| {row['bits_per_word']['mean']:.2f} "
            f"| {row['seconds']['mean']:.0f} "
            f"| {_difference(row)} |"
        )
    targets = summary.get("targets", {})
    if targets:
        reach = targets["baseline_accuracy_at_50x"]
        fewer = targets["adaptive_fewer_bits_at_same_accuracy"]
        lines += [
            "",
            "Targets (means over the runs):",
            "",
            "- baseline accuracy (within 0.5 points) at >= 50x: "
            + (
                "met by " + ", ".join(reach["by"])
                if reach["met"]
                else "not met"
            ),
            "- adaptive (at "
            f"{fewer['adaptive_bits_per_word']:.2f} bits per word) at the "
            "accuracy of fixed-length codes with more bits: "
            + (
                "met, against " + ", ".join(fewer["than"])
                if fewer["met"]
                else "not met"
            ),
        ]
    return "\n".join(lines) + "\n"


def _difference(row):
    difference = row.get("difference_from_baseline")
    if not difference:
        return ""
    return (
        f"{100 * difference['mean']:+.2f} "
        f"± {100 * difference['standard_error']:.2f} points"
    )


if __name__ == "__main__":
    main()
