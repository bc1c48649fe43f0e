"""Converts a Keras model or a keras-dccl artifact to `.tflite`, then checks it.

A `.keras` model that holds `CodebookEmbedding` layers is exported with
`keras_dccl.export.export_litert.export_litert`; a `.npz` artifact becomes
the stand-alone lookup model (word ids -> vectors) of `export_lookup`. The
script then runs the same word ids through Keras (or the artifact's
`reconstruct`) and through `ai_edge_litert`, prints the maximum absolute
difference and the size breakdown of the file, and exits with status 1 when
the difference is beyond the tolerance of the quantize mode. Bad input
exits with status 2 and a one-line reason.

Usage:

    python tflite/convert.py model.keras -o model.tflite
    python tflite/convert.py model.keras -o model.tflite \
        --quantize full-int8 --representative ids.npy
    python tflite/convert.py words.dccl.npz -o lookup.tflite \
        --sequence-length 64 --batch-size 1
    python tflite/convert.py model.keras -o text_model.tflite \
        --text-input vocabulary.txt
    python tflite/convert.py bert.keras -o bert.tflite --sequence-length 64 \
        --batch-size 1 --quantize dynamic-int8 --representative inputs.npz

A model with several inputs (a KerasHub backbone's `token_ids`,
`padding_mask` and `segment_ids`) is checked on real inputs only: pass
`--representative INPUTS.npz`, one integer array per input name.
"""

import argparse
import os
import sys

import numpy as np

PROG = "convert.py"
QUANTIZE_MODES = ("int8", "dynamic-int8", "float16", "none", "full-int8")
TARGETS = ("cpu", "edgetpu")
# Largest allowed max |LiteRT - reference|, as a share of max |reference|.
TOLERANCES = {
    "none": 1e-5,
    "float16": 1e-2,
    "int8": 5e-2,
    "dynamic-int8": 0.1,
    "full-int8": 0.1,
}
MIN_ARGMAX_AGREEMENT = 0.98
NUM_RANDOM_SAMPLES = 64
MAX_VALIDATION_SAMPLES = 256
RANDOM_LENGTH = 16
SEED = 0

DESCRIPTION = f"""\
Convert a Keras model holding CodebookEmbedding layers (.keras) to a .tflite
file, or a keras-dccl artifact (.npz) to a stand-alone lookup model that maps
int32 word ids (batch, length) to float32 vectors (batch, length, dim). Then
validate it: the same word ids go through Keras (or the artifact's
reconstruct) and through the ai_edge_litert interpreter, and the script
prints the maximum absolute difference and the size breakdown (codes,
codebooks, scales, the tokenizer of a --text-input model, rest, total, and
the ratio to a float32 table of the same vocabulary x dimension).

Validation ids: the --representative ids when given (at most the first
{MAX_VALIDATION_SAMPLES} rows), else {NUM_RANDOM_SAMPLES} rows of random valid \
ids (seed {SEED}) of the model's
input shape (a dynamic length becomes --sequence-length, or {RANDOM_LENGTH}).

Tolerances, on max |LiteRT - reference| as a share of max |reference|:
none {TOLERANCES["none"]:g}, float16 {TOLERANCES["float16"]:g}, \
int8 {TOLERANCES["int8"]:g}, full-int8 {TOLERANCES["full-int8"]:g}; for
full-int8 (and edgetpu) the argmax over the last axis must also agree on at
least {MIN_ARGMAX_AGREEMENT:.0%} of the rows. The reference is the float32 \
Keras model, so the
difference includes the quantization error.

Exit status: 0 converted and validated; 1 converted, but the validation
failed (the file is kept, to inspect); 2 bad input (one-line reason).
"""


class InputError(Exception):
    """Bad input: reported as one line, exit status 2."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "input",
        help="a .keras model holding at least one CodebookEmbedding, or a "
        ".npz artifact written by CompressedEmbedding.save (gives the "
        "stand-alone lookup model).",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="the .tflite file to write (atomically); with --target edgetpu, "
        "the directory to write host_lookup.tflite and accelerator.tflite "
        "into.",
    )
    parser.add_argument(
        "--quantize",
        choices=QUANTIZE_MODES,
        default=None,
        help="int8 (default for cpu): int8 codebooks with one scale per "
        "codebook, the rest float32. dynamic-int8: int8 codebooks and the "
        "rest of the weights int8 by TFLite's dynamic-range quantization "
        "(transformers). float16: every float weight stored as "
        "float16. none: float32. full-int8 (default and only choice for "
        "edgetpu): every op int8, calibrated on --representative, which it "
        "requires; the int32 id input stays int32 and the output is int8 "
        "(dequantized here for the check). Not for artifacts: a lookup "
        "model has no float op to quantize.",
    )
    parser.add_argument(
        "--target",
        choices=TARGETS,
        default="cpu",
        help="cpu (default): one .tflite for the LiteRT CPU runtimes "
        "(Android, Python, LiteRT.js). edgetpu: calls "
        "keras_dccl.export.edgetpu.export_edgetpu, which splits the model "
        "into a host lookup and a full-int8 accelerator graph and checks "
        "the latter statically against the Edge TPU op list (no compiler or "
        "device here). Needs a Keras model, a fixed length and "
        "--representative.",
    )
    parser.add_argument(
        "--sequence-length",
        type=int,
        default=None,
        metavar="L",
        help="fix the length axis of the input to L (needed for static "
        "shapes: LiteRT.js, edgetpu). Default: the model's own (dynamic for "
        "an artifact).",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="B",
        help="fix the batch axis to B. Default: dynamic.",
    )
    parser.add_argument(
        "--representative",
        default=None,
        metavar="IDS.npy",
        help="an integer .npy array of real model inputs, shape (N, length) "
        "(the model's input shape with N rows), ids in [0, vocabulary). "
        "Calibrates full-int8 (required there: random ids would calibrate "
        "the int8 ranges for inputs the model never sees) and replaces the "
        "random validation ids. For full-int8 the check then runs on the "
        "calibration rows themselves.",
    )
    parser.add_argument(
        "--text-input",
        default=None,
        metavar="VOCABULARY.txt",
        help="write a raw-text model: the file takes a string tensor (batch,) "
        "named 'text' and splits it into word ids inside the graph, with "
        'tensorflow-text\'s custom ops (pip install "keras-dccl[text]"), '
        "as a WordTokenizer over this vocabulary file does (the model's own: "
        "one token a line, [PAD] and [UNK] first). Runs in Python with "
        "keras_dccl.export.text_to_ids.text_interpreter; LiteRT.js cannot "
        "take strings. The check feeds sentences made of the validation ids' "
        "words. Needs a Keras model, --target cpu, a fixed length (the "
        "model's or --sequence-length), and not full-int8.",
    )
    parser.add_argument(
        "--vocabulary",
        default=None,
        metavar="VOCABULARY.txt",
        help="the model's vocabulary file (one token a line, id = line - 1); "
        "written beside the output as OUTPUT.vocabulary.txt in the id order "
        "of the file. Required for a model with an "
        "AdaptiveCodebookEmbedding, whose export renumbers the ids by code "
        "length.",
    )
    parser.add_argument(
        "--codebook-pairs",
        action="store_true",
        help="store the sums of each two codebooks (K <= 16): a faster "
        "lookup for 8x the codebook bytes at K=16.",
    )
    arguments = parser.parse_args(argv)
    for name in ("sequence_length", "batch_size"):
        value = getattr(arguments, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if arguments.quantize is None:
        arguments.quantize = (
            "full-int8" if arguments.target == "edgetpu" else "int8"
        )
    return arguments


def main(argv=None):
    arguments = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        passed = convert(arguments)
    except InputError as error:
        message = str(error).strip().splitlines() or [repr(error)]
        print(f"{PROG}: error: {message[0]}", file=sys.stderr)
        return 2
    return 0 if passed else 1


def convert(arguments):
    """Converts and validates; returns whether the validation passed."""
    from keras_dccl import CompressedEmbedding

    source = load_source(arguments.input)
    is_model = not isinstance(source, CompressedEmbedding)
    quantize = arguments.quantize
    if arguments.target == "edgetpu":
        if not is_model:
            raise InputError(
                "--target edgetpu needs a Keras model, not an artifact."
            )
        if quantize != "full-int8":
            raise InputError(
                f"--target edgetpu runs full-int8 graphs only; "
                f"got --quantize {quantize}."
            )
        if arguments.batch_size not in (None, 1):
            raise InputError(
                "--target edgetpu runs batch 1 only; "
                f"got --batch-size {arguments.batch_size}."
            )
    if arguments.text_input:
        if not is_model:
            raise InputError(
                "--text-input needs a Keras model, not an artifact."
            )
        if arguments.target != "cpu" or quantize == "full-int8":
            raise InputError(
                "--text-input runs on the cpu target and cannot be full-int8 "
                "(its calibration cannot run tensorflow-text's custom ops)."
            )
    if is_model and len(source.inputs) > 1:
        return convert_multi_input(source, arguments)
    if is_model:
        vocabulary_size, input_shape, tables = describe_model(source)
    else:
        vocabulary_size = source.num_words
        input_shape = (None, None)
        tables = [(source.num_words, source.output_dim)]
    fixed_needed = arguments.target == "edgetpu" or arguments.text_input
    shape = resolve_shape(input_shape, arguments.sequence_length, fixed_needed)
    tokenizer = None
    if arguments.text_input:
        tokenizer = load_tokenizer(arguments.text_input, shape)
        vocabulary_size = min(vocabulary_size, tokenizer.vocabulary_size)
    representative = None
    if arguments.representative:
        representative = load_ids(
            arguments.representative, shape, vocabulary_size
        )
    elif is_model and quantize == "full-int8":
        raise InputError(
            f"--quantize {quantize} needs --representative IDS.npy: real "
            "model inputs to calibrate the int8 ranges."
        )
    ids = validation_ids(
        representative, shape, vocabulary_size, arguments.batch_size
    )
    texts = None
    if tokenizer is not None:
        # Sentences of the ids' words ([PAD] and [UNK] left out), re-split.
        texts = [
            " ".join(tokenizer.vocabulary[i] for i in row if i > 1)
            for row in ids
        ]
        ids = tokenizer(texts)
    if is_model:
        reference = source.predict(ids, verbose=0)
    else:
        vectors = source.reconstruct(ids.reshape(-1))
        reference = vectors.reshape(*ids.shape, -1)
    if arguments.target == "edgetpu":
        paths = export_for_edgetpu(source, arguments, shape[0], representative)
        outputs = run_litert(paths, ids, batch_size=1)
    else:
        paths = [
            export_for_cpu(
                source, is_model, arguments, representative, tokenizer
            )
        ]
        batch_size = arguments.batch_size or len(ids)
        if texts is not None:
            outputs = run_text_model(paths[0], texts, batch_size)
        else:
            outputs = run_litert(paths, exported_ids(source, ids), batch_size)
    print(f"Wrote {arguments.output}")
    print_sizes(paths, tables)
    origin = (
        f"--representative {arguments.representative}"
        if representative is not None
        else f"random ids (seed {SEED})"
    )
    print(f"Validation on {origin}, shape {ids.shape}:")
    return check(reference, outputs, quantize)


def load_source(path):
    """A `keras.Model` from a `.keras` file or a `CompressedEmbedding`."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file.")
    extension = os.path.splitext(path)[1].lower()
    if extension == ".npz":
        from keras_dccl import ArtifactError
        from keras_dccl import CompressedEmbedding

        try:
            return CompressedEmbedding.load(path)
        except ArtifactError as error:
            raise InputError(f"not a keras-dccl artifact: {error}") from None
    if extension != ".keras":
        raise InputError(f"{path}: expected a .keras model or a .npz artifact.")
    import keras

    import keras_dccl.layers  # noqa: F401 (registers the layers for loading)

    try:
        model = keras.saving.load_model(path)
    except Exception as error:
        reason = str(error).strip().splitlines() or [type(error).__name__]
        raise InputError(
            f"{path}: not a loadable Keras model ({reason[0]})"
        ) from None
    if not isinstance(model, keras.Model):
        raise InputError(f"{path}: not a Keras model.")
    return model


def convert_multi_input(model, arguments):
    """Converts and checks a model with several named integer inputs."""
    names = [tensor.name for tensor in model.inputs]
    if arguments.target != "cpu" or arguments.text_input:
        raise InputError(
            f"model '{model.name}' has {len(names)} inputs; --target "
            "edgetpu and --text-input take models with one input of ids."
        )
    if arguments.quantize == "full-int8":
        raise InputError(
            f"model '{model.name}' has {len(names)} inputs; full-int8 "
            "calibration takes models with one input: use dynamic-int8."
        )
    path = arguments.representative
    if path is None or not path.endswith(".npz"):
        raise InputError(
            f"model '{model.name}' has inputs {names}: pass --representative "
            "INPUTS.npz with one integer array per input name."
        )
    try:
        with np.load(path, allow_pickle=False) as arrays:
            inputs = {name: arrays[name] for name in arrays.files}
    except Exception as error:
        raise InputError(f"{path}: not a .npz of arrays ({error}).") from None
    if sorted(inputs) != sorted(names):
        raise InputError(
            f"{path}: holds arrays {sorted(inputs)}; the model's inputs are "
            f"{sorted(names)}."
        )
    rows = {len(value) for value in inputs.values()}
    if len(rows) != 1 or not all(
        np.issubdtype(value.dtype, np.integer) for value in inputs.values()
    ):
        raise InputError(
            f"{path}: expected integer arrays with the same number of rows."
        )
    inputs = {
        name: value[:MAX_VALIDATION_SAMPLES].astype(np.int32)
        for name, value in inputs.items()
    }
    from keras_dccl.export.export_litert import export_litert
    from keras_dccl.export.litert_runner import LiteRTRunner

    print(f"Converting {arguments.input} ({arguments.quantize}) ...")
    try:
        export_litert(
            model,
            arguments.output,
            quantize=arguments.quantize.replace("-", "_"),
            sequence_length=arguments.sequence_length,
            batch_size=arguments.batch_size,
            vocabulary=arguments.vocabulary,
            codebook_pairs=arguments.codebook_pairs,
        )
    except (ValueError, ImportError) as error:
        raise InputError(str(error)) from None
    reference = model.predict(inputs, verbose=0)
    runner = LiteRTRunner(arguments.output)
    batch_size = arguments.batch_size or len(next(iter(inputs.values())))
    parts = [
        runner.run_named(
            {n: v[start : start + batch_size] for n, v in inputs.items()}
        )
        for start in range(0, rows.pop(), batch_size)
    ]
    outputs = {n: np.concatenate([part[n] for part in parts]) for n in parts[0]}
    if isinstance(reference, dict):
        names = sorted(reference)
        reference = [reference[name] for name in names]
        outputs = [outputs.get(name, np.zeros(0)) for name in names]
    else:
        outputs = [outputs[name] for name in sorted(outputs)]
    print(f"Wrote {arguments.output}")
    print_sizes([arguments.output], describe_tables(model))
    print(f"Validation on --representative {path}:")
    return check(reference, outputs, arguments.quantize)


def describe_tables(model):
    from keras_dccl.export.export_litert import find_codebook_embeddings

    return [
        (layer.input_dim, layer.output_dim)
        for layer in find_codebook_embeddings(model)
    ]


def describe_model(model):
    """(vocabulary size, input shape, [(V, D) of each embedding])."""
    from keras_dccl.export.export_litert import find_codebook_embeddings

    try:
        embeddings = find_codebook_embeddings(model)
    except ValueError as error:
        raise InputError(str(error)) from None
    if len(model.inputs) != 1:
        raise InputError(
            f"model '{model.name}' has {len(model.inputs)} inputs; this "
            "script converts models with one input of word ids."
        )
    spec = model.inputs[0]
    if "int" not in str(spec.dtype):
        raise InputError(
            f"model '{model.name}' takes {spec.dtype} inputs; expected "
            "integer word ids."
        )
    vocabulary_size = min(layer.input_dim for layer in embeddings)
    tables = [(layer.input_dim, layer.output_dim) for layer in embeddings]
    return vocabulary_size, tuple(spec.shape), tables


def resolve_shape(input_shape, sequence_length, fixed_needed):
    """The input shape without its batch axis, `None` where dynamic."""
    shape = list(input_shape[1:])
    if sequence_length is not None:
        if not shape:
            raise InputError(
                f"--sequence-length {sequence_length}: the model input "
                f"{input_shape} has no length axis."
            )
        if shape[0] is not None and shape[0] != sequence_length:
            raise InputError(
                f"--sequence-length {sequence_length} does not match the "
                f"model input length {shape[0]}."
            )
        shape = [sequence_length if dim is None else dim for dim in shape]
    if fixed_needed and None in shape:
        raise InputError(
            f"the input shape {input_shape} has a dynamic length and the "
            "target needs a fixed shape: pass --sequence-length."
        )
    return tuple(shape)


def load_ids(path, shape, vocabulary_size):
    """Checks an integer `.npy` array of model inputs (N, *shape)."""
    try:
        ids = np.load(path, allow_pickle=False)
    except Exception as error:
        raise InputError(f"{path}: not a .npy array ({error}).") from None
    if not np.issubdtype(ids.dtype, np.integer) or ids.ndim != len(shape) + 1:
        raise InputError(
            f"{path}: expected integer ids of shape (N, "
            f"{', '.join(str(dim) for dim in shape)}); got {ids.dtype} "
            f"{ids.shape}."
        )
    if any(dim not in (None, got) for dim, got in zip(shape, ids.shape[1:])):
        raise InputError(
            f"{path}: ids of shape {ids.shape} do not fit the model input "
            f"(N, {', '.join(str(dim) for dim in shape)})."
        )
    if ids.size == 0 or ids.min() < 0 or ids.max() >= vocabulary_size:
        raise InputError(
            f"{path}: ids must be in [0, {vocabulary_size}) and not empty."
        )
    return ids.astype(np.int32)


def load_tokenizer(path, shape):
    """The `WordTokenizer` of `--text-input`, over the model's length."""
    from keras_dccl.text.word_tokenizer import WordTokenizer

    if len(shape) != 1:
        raise InputError(
            f"--text-input needs a model input of word ids (batch, length); "
            f"the model input is (batch, {', '.join(map(str, shape))})."
        )
    try:
        return WordTokenizer(path, shape[0])
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"--text-input: {error}") from None


def validation_ids(representative, shape, vocabulary_size, batch_size):
    """The validation rows: a whole number of batches of `batch_size`."""
    if representative is not None:
        ids = representative[:MAX_VALIDATION_SAMPLES]
    else:
        shape = tuple(RANDOM_LENGTH if dim is None else dim for dim in shape)
        rows = NUM_RANDOM_SAMPLES
        if batch_size:
            rows = -(-rows // batch_size) * batch_size
        rng = np.random.default_rng(SEED)
        ids = rng.integers(0, vocabulary_size, (rows, *shape), np.int32)
    if batch_size:
        ids = ids[: len(ids) // batch_size * batch_size]
        if len(ids) == 0:
            raise InputError(
                f"--batch-size {batch_size} is larger than the "
                f"{len(representative)} --representative rows."
            )
    return ids


def export_for_cpu(source, is_model, arguments, representative, tokenizer=None):
    """Writes the `.tflite` file; returns its path."""
    from keras_dccl.export.export_litert import export_litert
    from keras_dccl.export.export_litert import export_lookup

    quantize = arguments.quantize.replace("-", "_")
    batch_size = arguments.batch_size or 1
    if representative is not None and batch_size > 1:
        # The exporter calibrates on whole batches: (N, B, *input shape).
        rows = len(representative) // batch_size * batch_size
        representative = representative[:rows].reshape(
            -1, batch_size, *representative.shape[1:]
        )
    print(
        f"Converting {arguments.input} ({arguments.quantize}) ...", flush=True
    )
    try:
        if is_model:
            export_litert(
                source,
                arguments.output,
                quantize=quantize,
                sequence_length=arguments.sequence_length,
                batch_size=arguments.batch_size,
                representative_inputs=representative,
                tokenizer=tokenizer,
                vocabulary=arguments.vocabulary,
                codebook_pairs=arguments.codebook_pairs,
            )
        else:
            export_lookup(
                source,
                arguments.output,
                quantize=quantize,
                sequence_length=arguments.sequence_length,
                batch_size=arguments.batch_size,
            )
    except (ValueError, ImportError) as error:
        raise InputError(str(error)) from None
    return arguments.output


def export_for_edgetpu(model, arguments, sequence_length, representative):
    """Calls `export_edgetpu`; returns the paths of its two graphs."""
    try:
        from keras_dccl.export.edgetpu import export_edgetpu
    except ImportError as error:
        raise InputError(
            "--target edgetpu needs keras_dccl.export.edgetpu."
            f"export_edgetpu, which is not importable here ({error})."
        ) from None
    print(f"Converting {arguments.input} for the Edge TPU ...", flush=True)
    try:
        export_edgetpu(
            model,
            arguments.output,
            sequence_length=sequence_length,
            representative_inputs=representative,
        )
    except ValueError as error:
        raise InputError(str(error)) from None
    paths = [
        os.path.join(arguments.output, name)
        for name in ("host_lookup.tflite", "accelerator.tflite")
    ]
    for path in paths:
        if not os.path.isfile(path):
            raise InputError(f"export_edgetpu wrote no {path}.")
    return paths


def exported_ids(source, ids):
    """`ids` as the exported file numbers them (renumbered if adaptive)."""
    from keras_dccl import CompressedEmbedding
    from keras_dccl.export.export_litert import exported_id_order

    if isinstance(source, CompressedEmbedding):
        return ids
    order = exported_id_order(source)
    return ids if order is None else np.argsort(order)[ids].astype(ids.dtype)


def run_litert(paths, ids, batch_size):
    """Outputs of the graphs `paths` on `ids`, `batch_size` rows at a time.

    With two graphs (the Edge TPU split), the outputs of the first feed the
    inputs of the second, in order.
    """
    from keras_dccl.export.litert_runner import LiteRTRunner

    runners = [LiteRTRunner(path) for path in paths]
    parts = []
    for start in range(0, len(ids), batch_size):
        values = [ids[start : start + batch_size]]
        for runner in runners:
            values = runner(*values)
        parts.append(values)
    return [np.concatenate(chunks) for chunks in zip(*parts)]


def run_text_model(path, texts, batch_size):
    """Outputs of a raw-text model on `texts`, `batch_size` at a time."""
    from keras_dccl.export.text_to_ids import text_interpreter

    runner = text_interpreter(path).get_signature_runner()
    parts = []
    for start in range(0, len(texts), batch_size):
        results = runner(text=np.array(texts[start : start + batch_size]))
        # "output_0", "output_1", ..., "output_10": by length, then name.
        names = sorted(results, key=lambda name: (len(name), name))
        parts.append([results[name] for name in names])
    return [np.concatenate(chunks) for chunks in zip(*parts)]


def print_sizes(paths, tables):
    """Prints the size breakdown of each file and the ratio to float32."""
    from keras_dccl.export.tflite_model import TFLiteModel

    total = 0
    for path in paths:
        tflite_model = TFLiteModel(path)
        sizes = tflite_model.size_breakdown()
        # A raw-text model's tokenizer tables, inputs of its custom ops.
        tokenizer = sum(
            tflite_model.tensors[index].constant_bytes
            for op in tflite_model.operators
            if op.name.startswith("CUSTOM:")
            for index in op.inputs
        )
        if tokenizer:
            rest = sizes.pop("rest")
            sizes.update(tokenizer=tokenizer, rest=rest - tokenizer)
        sizes["total"] = tflite_model.file_bytes
        total += tflite_model.file_bytes
        print(f"Size breakdown of {path} (bytes):")
        for name, size in sizes.items():
            print(f"  {name:<10}{size:>12,}")
    table_bytes = sum(4 * rows * columns for rows, columns in tables)
    shapes = " + ".join(f"{rows:,} x {columns}" for rows, columns in tables)
    print(
        f"  float32 table ({shapes}): {table_bytes:,} bytes, "
        f"{table_bytes / total:.1f}x the size of "
        + ("the file" if len(paths) == 1 else "the files together")
    )


def check(reference, outputs, quantize):
    """Prints the comparison; returns whether it is within tolerance."""
    import keras

    references = keras.tree.flatten(reference)
    if len(references) != len(outputs):
        print(
            f"  FAILED: {len(outputs)} LiteRT outputs for "
            f"{len(references)} Keras outputs"
        )
        return False
    passed = True
    tolerance = TOLERANCES[quantize]
    for expected, got in zip(references, outputs):
        expected = np.asarray(expected, dtype=np.float32)
        if expected.shape != got.shape:
            print(f"  FAILED: shape {got.shape}, expected {expected.shape}")
            passed = False
            continue
        difference = float(np.max(np.abs(got - expected)))
        allowed = tolerance * float(np.max(np.abs(expected)))
        ok = difference <= allowed
        print(
            f"  max abs difference {difference:.3g} (tolerance "
            f"{allowed:.3g} = {tolerance:g} x max |reference|): "
            + ("ok" if ok else "FAILED")
        )
        passed &= ok
        if quantize == "full-int8" and expected.shape[-1] > 1:
            agreement = float(
                np.mean(np.argmax(got, -1) == np.argmax(expected, -1))
            )
            ok = agreement >= MIN_ARGMAX_AGREEMENT
            print(
                f"  argmax agreement {agreement:.1%} (minimum "
                f"{MIN_ARGMAX_AGREEMENT:.0%}): " + ("ok" if ok else "FAILED")
            )
            passed &= ok
    return passed


if __name__ == "__main__":
    # The exporter needs the TensorFlow backend, whatever KERAS_BACKEND says:
    # a .keras file saved on jax or torch loads on TensorFlow as it is. Keep
    # TensorFlow's C++ logs quiet.
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
