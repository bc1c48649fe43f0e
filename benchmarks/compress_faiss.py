"""keras-dccl's default recipe against faiss's additive quantizers.

Shared by `compress_glove.py --versus-faiss` and `compress_minilm.py`: on one
table, for each number of codebooks M (K=16 throughout, so 4 bits a code and
equal bits for every method), it runs `keras_dccl.compress` with the default
recipe and then faiss-cpu's `ResidualQuantizer` (beam 1, 8, 32) and
`LocalSearchQuantizer` (LSQ++: the default 25 training iterations and a
longer 50), one after the other in the same process, all on one thread.
Every method trains on all rows and is scored on all rows from its codes:
the mean Euclidean distance and the mean squared error. Each row records CPU
seconds (`time.process_time`, which counts every thread of the process) and
wall seconds, the load average, and its ratios to keras-dccl's row of the
same setting.

The JSON is rewritten (atomically, with its Markdown twin) after every
method; a run started again skips the rows it already holds, so an
interrupted run resumes where it stopped (`--rerun` to measure rows again).
"""

import argparse
import os
import subprocess
import sys
import time

# One thread for everything, set before NumPy and faiss load their pools.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark_utils import machine_info  # noqa: E402
from benchmark_utils import now  # noqa: E402
from benchmark_utils import write_results  # noqa: E402

CODEBOOK_SIZE = 16
SCHEMA_VERSION = 1
OURS = "keras_dccl"
# Method name -> (label, description), in the order of the table.
METHODS = {
    OURS: (
        'keras-dccl `compress(..., recipe="default")`',
        "The package's default recipe, NumPy only.",
    ),
    "faiss_rq_beam1": (
        "faiss RQ, beam 1",
        "faiss.ResidualQuantizer, max_beam_size=1 (training and encoding), "
        "faiss defaults otherwise.",
    ),
    "faiss_rq_beam8": (
        "faiss RQ, beam 8",
        "faiss.ResidualQuantizer, max_beam_size=8.",
    ),
    "faiss_rq_beam32": (
        "faiss RQ, beam 32",
        "faiss.ResidualQuantizer, max_beam_size=32.",
    ),
    "faiss_lsq": (
        "faiss LSQ++, default (25 iterations)",
        "faiss.LocalSearchQuantizer with its defaults.",
    ),
    "faiss_lsq_long": (
        "faiss LSQ++, 50 iterations",
        "faiss.LocalSearchQuantizer, train_iters=50 (twice the default).",
    ),
}


def parse_args(argv, name, default_settings, default_output):
    parser = argparse.ArgumentParser(
        prog=name,
        description=__doc__.split("\n\n")[0],
        epilog="methods: " + ", ".join(METHODS),
    )
    parser.add_argument(
        "--settings",
        default=",".join(map(str, default_settings)),
        help="comma-separated numbers of codebooks M (default: "
        f"{','.join(map(str, default_settings))}).",
    )
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="comma-separated methods to run, in this order within each "
        "setting (default: all, keras-dccl first).",
    )
    parser.add_argument(
        "--rerun",
        default="",
        help="comma-separated methods to measure again although the JSON "
        "holds them ('all' for every one).",
    )
    parser.add_argument(
        "--output",
        default=default_output,
        help=f"the JSON results (default: {os.path.relpath(default_output)}"
        "); the Markdown table goes beside it.",
    )
    parser.add_argument("--seed", type=int, default=0, help="default: 0.")
    args = parser.parse_args(argv)
    try:
        args.settings = [int(value) for value in args.settings.split(",")]
    except ValueError:
        parser.error(f"--settings must be integers, got {args.settings!r}")
    args.methods = [value for value in args.methods.split(",") if value]
    args.rerun = [value for value in args.rerun.split(",") if value]
    if "all" in args.rerun:
        args.rerun = list(METHODS)
    unknown = [m for m in args.methods + args.rerun if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}")
    return args


def run_method(method, vectors, num_codebooks, seed):
    """Trains, encodes and decodes all rows; returns reconstruction, details."""
    if method == OURS:
        from keras_dccl.compression.compress import compress

        compressed = compress(
            vectors,
            num_codebooks=num_codebooks,
            codebook_size=CODEBOOK_SIZE,
            seed=seed,
            verbose=0,
        )
        details = {
            key: compressed.metadata[key]
            for key in ("recipe", "seed", "seconds", "validation_split")
        }
        return compressed.reconstruct(), details
    import faiss

    faiss.omp_set_num_threads(1)
    dim = vectors.shape[1]
    if method.startswith("faiss_rq_beam"):
        quantizer = faiss.ResidualQuantizer(dim, num_codebooks, 4)
        quantizer.max_beam_size = int(method[len("faiss_rq_beam") :])
        details = {"max_beam_size": quantizer.max_beam_size}
    else:
        quantizer = faiss.LocalSearchQuantizer(dim, num_codebooks, 4)
        if method == "faiss_lsq_long":
            quantizer.train_iters = 50
        details = {"train_iters": quantizer.train_iters}
    details["faiss"] = faiss.__version__
    quantizer.train(vectors)
    codes = quantizer.compute_codes(vectors)
    return quantizer.decode(codes), details


def metrics(vectors, reconstruction):
    squared = np.square(vectors.astype(np.float64) - reconstruction)
    return {
        "mean_distance": float(np.sqrt(squared.sum(axis=1)).mean()),
        "mean_squared_error": float(squared.mean()),
    }


def package_revision():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        return subprocess.run(
            ["git", "-C", root, "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def verdict(setting):
    """Our row against the faiss row of least mean distance."""
    rows = setting["rows"]
    faiss_rows = {k: v for k, v in rows.items() if k != OURS}
    if OURS not in rows or not faiss_rows:
        return None
    best = min(faiss_rows, key=lambda k: faiss_rows[k]["mean_distance"])
    ours, theirs = rows[OURS], faiss_rows[best]
    ratio = ours["mean_distance"] / theirs["mean_distance"]
    return {
        "best_faiss_method": best,
        "best_faiss_mean_distance": theirs["mean_distance"],
        "best_faiss_cpu_seconds": theirs["cpu_seconds"],
        "ours_mean_distance": ours["mean_distance"],
        "ours_cpu_seconds": ours["cpu_seconds"],
        "distance_ratio": ratio,
        "met": ratio <= 0.97 and ours["cpu_seconds"] <= theirs["cpu_seconds"],
    }


def load_results(path, setup):
    import json

    if not os.path.exists(path):
        return {
            "schema_version": SCHEMA_VERSION,
            "setup": setup,
            "settings": {},
            "runs": [],
        }
    with open(path, encoding="utf-8") as file:
        results = json.load(file)
    if results.get("setup", {}).get("shape") != setup["shape"]:
        raise SystemExit(
            f"{path}: holds results of another table; use another --output"
        )
    return results


def render_markdown(results):
    setup = results["setup"]
    lines = [
        f"# {setup['title']}",
        "",
        f"Generated by `{setup['script']}` from `{setup['json_name']}`; do "
        "not edit by hand.",
        "",
        f"{setup['description']} Shape {setup['shape'][0]:,} x "
        f"{setup['shape'][1]}, mean vector norm "
        f"{setup['mean_vector_norm']:.4f}. K=16 for every method (4 bits a "
        "code), one thread, all rows for training and scoring. Ratios are "
        "to keras-dccl's row of the same M.",
        "",
        "| M | method | mean distance | MSE | CPU s | wall s | load | "
        "distance / ours | CPU / ours | reference |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    summary = []
    for key, setting in results["settings"].items():
        rows = setting["rows"]
        ours = rows.get(OURS)
        for method in METHODS:
            row = rows.get(method)
            if row is None:
                continue
            ratios = ["", ""]
            if ours:
                ratios = [
                    f"{row['mean_distance'] / ours['mean_distance']:.3f}",
                    f"{row['cpu_seconds'] / ours['cpu_seconds']:.2f}",
                ]
            lines.append(
                f"| {setting['num_codebooks']} | {row['label']} | "
                f"{row['mean_distance']:.4f} | {row['mean_squared_error']:.5f}"
                f" | {row['cpu_seconds']:.1f} | {row['wall_seconds']:.1f} | "
                f"{row['load_average'][0]:.1f} | {ratios[0]} | {ratios[1]} | "
                f"{row.get('reference') or ''} |"
            )
        result = verdict(setting)
        if result:
            summary.append(
                f"| {setting['num_codebooks']} | "
                f"{METHODS[result['best_faiss_method']][0]} | "
                f"{result['best_faiss_mean_distance']:.4f} "
                f"({result['best_faiss_cpu_seconds']:.0f} s) | "
                f"{result['ours_mean_distance']:.4f} "
                f"({result['ours_cpu_seconds']:.0f} s) | "
                f"{result['distance_ratio']:.3f} | "
                f"{'met' if result['met'] else 'not met'} |"
            )
    lines += [
        "",
        "Target: keras-dccl at most 0.97 times the best faiss method's mean "
        "distance, in no more CPU seconds than that method.",
        "",
        "| M | best faiss method | its distance (CPU) | keras-dccl (CPU) | "
        "ratio | target |",
        "|---:|---|---:|---:|---:|---|",
        *summary,
        "",
        "Load: the 1-minute load average as the method started (2 cores; "
        "above 2, other jobs shared the machine, which inflates wall "
        "seconds more than CPU seconds).",
        "",
    ]
    return "\n".join(lines)


def run(argv, name, title, description, load_vectors, references, script):
    """The benchmark's main: `load_vectors()` gives the float32 table."""
    default_output = os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        "results",
        f"{name}.json",
    )
    settings = sorted({m for m, _ in references})
    args = parse_args(argv, script, settings, default_output)
    import threadpoolctl

    threadpoolctl.threadpool_limits(limits=1)
    vectors = load_vectors()
    setup = {
        "title": title,
        "description": description,
        "script": script,
        "json_name": os.path.basename(args.output),
        "shape": list(vectors.shape),
        "mean_vector_norm": float(np.linalg.norm(vectors, axis=1).mean()),
        "codebook_size": CODEBOOK_SIZE,
        "seed": args.seed,
    }
    results = load_results(args.output, setup)
    run_record = {
        "id": f"{now()}-{os.getpid()}",
        "argv": list(argv),
        "machine": machine_info(),
        "package_revision": package_revision(),
    }
    results["runs"].append(run_record)
    for num_codebooks in args.settings:
        key = f"M={num_codebooks}"
        setting = results["settings"].setdefault(
            key, {"num_codebooks": num_codebooks, "rows": {}}
        )
        for method in args.methods:
            if method in setting["rows"] and method not in args.rerun:
                continue
            print(f"{now()} {key} {method} ...", flush=True)
            load = list(os.getloadavg())
            wall, cpu = time.monotonic(), time.process_time()
            reconstruction, details = run_method(
                method, vectors, num_codebooks, args.seed
            )
            cpu = time.process_time() - cpu
            wall = time.monotonic() - wall
            row = {
                "method": method,
                "label": METHODS[method][0],
                "description": METHODS[method][1],
                **metrics(vectors, reconstruction),
                "cpu_seconds": round(cpu, 2),
                "wall_seconds": round(wall, 2),
                "load_average": load,
                "date": now(),
                "run": run_record["id"],
                "details": details,
                "reference": references.get((num_codebooks, method)),
            }
            if method == OURS:
                row["package_revision"] = run_record["package_revision"]
            setting["rows"][method] = row
            setting["verdict"] = verdict(setting)
            write_results(args.output, results, render_markdown)
            print(
                f"{now()} {key} {method}: mean distance "
                f"{row['mean_distance']:.4f}, {cpu:.1f} CPU s, {wall:.1f} s",
                flush=True,
            )
    print(f"Wrote {args.output}", flush=True)
    return 0
