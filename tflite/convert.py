"""Converts a Keras model or a keras-dccl artifact to `.tflite`, then checks it.

The command line of `keras_dccl.export.export_and_verify`: a `.keras` model
that holds `CodebookEmbedding` layers is exported with `export_litert`; a
`.npz` artifact becomes the stand-alone lookup model (word ids -> vectors)
of `export_lookup`. The same word ids then go through Keras (or the
artifact's `reconstruct`) and through `ai_edge_litert`; the script prints
the maximum absolute difference and the size breakdown of the file, and
exits with status 1 when the difference is beyond the tolerance of the
quantize mode. Bad input exits with status 2 and a one-line reason (the
options are checked by `keras_dccl.export.export_options`, before any work).

Usage:

    python tflite/convert.py model.keras -o model.tflite
    python tflite/convert.py model.keras -o model.tflite \
        --quantize full_int8 --representative ids.npy
    python tflite/convert.py words.dccl.npz -o lookup.tflite \
        --sequence-length 64 --batch-size 1
    python tflite/convert.py model.keras -o text_model.tflite \
        --text-input vocabulary.txt
    python tflite/convert.py bert.keras -o bert.tflite --sequence-length 64 \
        --batch-size 1 --quantize dynamic_int8 --representative inputs.npz

A model with several inputs (a KerasHub backbone's `token_ids`,
`padding_mask` and `segment_ids`) is checked on real inputs only: pass
`--representative INPUTS.npz`, one integer array per input name.
"""

import argparse
import contextlib
import os
import sys

import numpy as np

PROG = "convert.py"
QUANTIZE_MODES = ("int8", "dynamic_int8", "float16", "none", "full_int8")
TARGETS = ("cpu", "edgetpu")
NUM_RANDOM_SAMPLES = 64
MAX_VALIDATION_SAMPLES = 256
RANDOM_LENGTH = 16
SEED = 0

DESCRIPTION = """\
Convert a Keras model holding CodebookEmbedding layers (.keras) to a .tflite
file, or a keras-dccl artifact (.npz) to a stand-alone lookup model that maps
int32 word ids (batch, length) to float32 vectors (batch, length, dim). Then
validate it: the same word ids go through Keras (or the artifact's
reconstruct) and through the ai_edge_litert interpreter, and the script
prints the maximum absolute difference and the size breakdown (codes,
codebooks, scales, the tokenizer of a --text-input model, rest, total, and
the ratio to a float32 table of the same vocabulary x dimension).

Validation ids: the --representative ids when given (at most the first
{max_samples} rows), else {random_samples} rows of random valid ids (seed \
{seed}) of the model's
input shape (a dynamic length becomes --sequence-length, or {random_length}).

Tolerances, on max |LiteRT - reference| as a share of max |reference|
(--tolerance overrides them):
{tolerances}.
For full_int8 (and edgetpu) the argmax over the last axis must also agree on
at least {agreement:.0%} of the rows. The reference is the float32 Keras
model, so the difference includes the quantization error.

Exit status: 0 converted and validated; 1 converted, but the validation
failed (the file is kept, to inspect); 2 bad input (one-line reason).
"""


class InputError(Exception):
    """Bad input: reported as one line, exit status 2."""


def quantize_mode(value):
    """A --quantize value; the hyphenated spellings warn (one release)."""
    if "-" in value and value.replace("-", "_") in QUANTIZE_MODES:
        spelling = value.replace("-", "_")
        print(
            f"{PROG}: warning: --quantize {value} is deprecated, use "
            f"--quantize {spelling}",
            file=sys.stderr,
        )
        return spelling
    return value


def parse_args(argv):
    from keras_dccl.export.export_and_verify import MIN_ARGMAX_AGREEMENT
    from keras_dccl.export.export_and_verify import TOLERANCES

    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION.format(
            max_samples=MAX_VALIDATION_SAMPLES,
            random_samples=NUM_RANDOM_SAMPLES,
            seed=SEED,
            random_length=RANDOM_LENGTH,
            tolerances=", ".join(f"{k} {v:g}" for k, v in TOLERANCES.items()),
            agreement=MIN_ARGMAX_AGREEMENT,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "input",
        help="a .keras model holding at least one CodebookEmbedding, or a "
        ".npz artifact written by CompressedTable.save (gives the "
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
        type=quantize_mode,
        choices=QUANTIZE_MODES,
        default=None,
        help="int8 (default for cpu): int8 codebooks with one scale per "
        "codebook, the rest float32. dynamic_int8: int8 codebooks and the "
        "rest of the weights int8 by TFLite's dynamic-range quantization "
        "(transformers). float16: every float weight stored as "
        "float16. none: float32. full_int8 (default and only choice for "
        "edgetpu): every op int8, calibrated on --representative, which it "
        "requires; the int32 id input stays int32 and the output is int8 "
        "(dequantized here for the check). Not for artifacts: a lookup "
        "model has no float op to quantize. The spellings of export_litert's "
        "quantize; dynamic-int8 and full-int8 still work, with a warning, "
        "for one release.",
    )
    parser.add_argument(
        "--target",
        choices=TARGETS,
        default="cpu",
        help="cpu (default): one .tflite for the LiteRT CPU runtimes "
        "(Android, Python, LiteRT.js). edgetpu: calls "
        "keras_dccl.export.export_edgetpu, which splits the model "
        "into a host lookup and a full_int8 accelerator graph and checks "
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
        "(the model's input shape with N rows), ids in [0, vocabulary); "
        "INPUTS.npz, one array per input name, for a model with several "
        "inputs. Calibrates full_int8 (required there: random ids would "
        "calibrate the int8 ranges for inputs the model never sees) and "
        "replaces the random validation ids. For full_int8 the check then "
        "runs on the calibration rows themselves.",
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
        "keras_dccl.export.text_interpreter; LiteRT.js cannot "
        "take strings. The check feeds sentences made of the validation ids' "
        "words. Needs a Keras model, --target cpu, a fixed length (the "
        "model's or --sequence-length), and not full_int8.",
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
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        metavar="T",
        help="the largest allowed max |LiteRT - reference| as a share of "
        "max |reference|, instead of the quantize mode's (see above).",
    )
    arguments = parser.parse_args(argv)
    for name in ("sequence_length", "batch_size"):
        value = getattr(arguments, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if arguments.tolerance is not None and not arguments.tolerance >= 0:
        parser.error("--tolerance must be >= 0")
    if arguments.quantize is None:
        arguments.quantize = (
            "full_int8" if arguments.target == "edgetpu" else "int8"
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


@contextlib.contextmanager
def input_errors():
    """The library's one-line errors on bad options become `InputError`s."""
    try:
        yield
    except (ValueError, ImportError, OSError) as error:
        raise InputError(str(error)) from None


def convert(arguments):
    """Converts and validates; returns whether the validation passed."""
    import keras

    source = load_source(arguments.input)
    is_model = isinstance(source, keras.Model)
    check_target(arguments, is_model)
    representative = load_representative(arguments.representative)
    prepare = prepare_model if is_model else prepare_artifact
    inputs, tables, options = prepare(source, arguments, representative)
    if arguments.target == "edgetpu":
        result, paths = verify_edgetpu(
            source, arguments, representative, inputs
        )
    else:
        result, paths = verify_cpu(source, arguments, inputs, options)
    print(f"Wrote {arguments.output}")
    print_sizes(paths, tables)
    origin = (
        f"--representative {arguments.representative}"
        if representative is not None
        else f"random ids (seed {SEED})"
    )
    print(f"Validation on {origin}:")
    for line in str(result).splitlines():
        print(f"  {line}")
    return result.passed


def prepare_model(model, arguments, representative):
    """Checks the options; (validation inputs, table shapes, options)."""
    from keras_dccl.export.export_options import check_export_options
    from keras_dccl.export.model_embeddings import find_codebook_embeddings

    if len(model.inputs) > 1 and not isinstance(representative, dict):
        raise InputError(
            f"model '{model.name}' has inputs "
            f"{[tensor.name for tensor in model.inputs]}: pass "
            "--representative INPUTS.npz with one integer array per "
            "input name."
        )
    length = fixed_length(model, arguments)
    tokenizer = None
    if arguments.text_input:
        tokenizer = load_tokenizer(arguments.text_input, length)
    options = dict(
        sequence_length=arguments.sequence_length,
        batch_size=arguments.batch_size,
        representative_inputs=representative,
        tokenizer=tokenizer,
        vocabulary=arguments.vocabulary,
        codebook_pairs=arguments.codebook_pairs,
    )
    with input_errors():
        check_export_options(model, arguments.quantize, **options)
    embeddings = find_codebook_embeddings(model)
    tables = [(layer.input_dim, layer.output_dim) for layer in embeddings]
    num_words = min(layer.input_dim for layer in embeddings)
    if tokenizer is not None:
        num_words = min(num_words, tokenizer.vocabulary_size)
    shape = tuple(model.inputs[0].shape[1:])
    if length is not None:
        shape = (length, *shape[1:])
    inputs = validation_inputs(
        representative, shape, num_words, arguments.batch_size
    )
    return inputs, tables, options


def prepare_artifact(table, arguments, representative):
    """The same for an artifact's lookup model (`export_lookup` checks)."""
    from keras_dccl.export.export_options import check_ids

    shape = (arguments.sequence_length,)
    if representative is not None:
        with input_errors():
            representative = check_ids(
                "representative_inputs", representative, shape, table.num_words
            )
    inputs = validation_inputs(
        representative, shape, table.num_words, arguments.batch_size
    )
    options = dict(
        sequence_length=arguments.sequence_length,
        batch_size=arguments.batch_size,
    )
    return inputs, [(table.num_words, table.output_dim)], options


def check_target(arguments, is_model):
    """The rules of --target and --text-input, which are the script's."""
    if arguments.target == "edgetpu":
        if not is_model:
            raise InputError(
                "--target edgetpu needs a Keras model, not an artifact."
            )
        if arguments.quantize != "full_int8":
            raise InputError(
                "--target edgetpu runs full_int8 graphs only; "
                f"got --quantize {arguments.quantize}."
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
        if arguments.target != "cpu":
            raise InputError("--text-input runs on the cpu target only.")


def fixed_length(model, arguments):
    """The input length, if it is fixed; the targets that need it check."""
    shape = model.inputs[0].shape
    length = arguments.sequence_length
    if length is None and len(shape) > 1:
        length = shape[1]
    if length is None and (
        arguments.target == "edgetpu" or arguments.text_input
    ):
        raise InputError(
            f"the input shape {tuple(shape)} has a dynamic length and the "
            "target needs a fixed shape: pass --sequence-length."
        )
    return length


def load_source(path):
    """A `keras.Model` from a `.keras` file or a `CompressedTable`."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file.")
    extension = os.path.splitext(path)[1].lower()
    if extension == ".npz":
        from keras_dccl import ArtifactError
        from keras_dccl import CompressedTable

        try:
            return CompressedTable.load(path)
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


def load_representative(path):
    """The --representative arrays: one (`.npy`) or a dict by name (`.npz`).

    Only read here: `check_export_options` checks them against the model.
    """
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            arrays = np.load(file, allow_pickle=False)
            if not path.endswith(".npz"):
                return arrays
            return {name: arrays[name] for name in arrays.files}
    except Exception as error:
        kind = ".npz of arrays" if path.endswith(".npz") else ".npy array"
        raise InputError(f"{path}: not a {kind} ({error}).") from None


def load_tokenizer(path, length):
    """The `WordTokenizer` of `--text-input`, over the model's length."""
    from keras_dccl.text.word_tokenizer import WordTokenizer

    try:
        return WordTokenizer(path, length)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"--text-input: {error}") from None


def validation_inputs(representative, shape, num_words, batch_size):
    """The validation rows: a whole number of batches of `batch_size`."""
    if representative is None:
        shape = tuple(RANDOM_LENGTH if dim is None else dim for dim in shape)
        rows = NUM_RANDOM_SAMPLES
        if batch_size:
            rows = -(-rows // batch_size) * batch_size
        rng = np.random.default_rng(SEED)
        return rng.integers(0, num_words, (rows, *shape), np.int32)
    arrays = representative
    if not isinstance(arrays, dict):
        arrays = {None: arrays}
    rows = min(len(value) for value in arrays.values())
    rows = min(rows, MAX_VALIDATION_SAMPLES)
    if batch_size:
        rows = rows // batch_size * batch_size
    arrays = {
        name: value[:rows].astype(np.int32) for name, value in arrays.items()
    }
    return arrays if isinstance(representative, dict) else arrays[None]


def verify_cpu(source, arguments, inputs, options):
    """`export_and_verify` on the cpu target: (result, [path])."""
    from keras_dccl.export.export_and_verify import export_and_verify

    tokenizer = options.get("tokenizer")
    if tokenizer is not None:
        # Sentences of the ids' words ([PAD] and [UNK] left out), re-split.
        inputs = [
            " ".join(tokenizer.vocabulary[i] for i in row if i > 1)
            for row in inputs
        ]
    print(
        f"Converting {arguments.input} ({arguments.quantize}) ...", flush=True
    )
    with input_errors():
        result = export_and_verify(
            source,
            arguments.output,
            inputs,
            quantize=arguments.quantize,
            tolerance=arguments.tolerance,
            raise_on_failure=False,
            **options,
        )
    return result, [arguments.output]


def verify_edgetpu(model, arguments, representative, ids):
    """`export_edgetpu`, then its two graphs compared with Keras."""
    try:
        from keras_dccl.export.edgetpu import export_edgetpu
    except ImportError as error:
        raise InputError(
            "--target edgetpu needs keras_dccl.export.edgetpu."
            f"export_edgetpu, which is not importable here ({error})."
        ) from None
    print(f"Converting {arguments.input} for the Edge TPU ...", flush=True)
    with input_errors():
        export_edgetpu(
            model,
            arguments.output,
            sequence_length=fixed_length(model, arguments),
            representative_inputs=representative,
        )
    from keras_dccl.export.edgetpu import run_edgetpu_split
    from keras_dccl.export.export_and_verify import Verification

    result = Verification.compare(
        model.predict(ids, verbose=0),
        [run_edgetpu_split(arguments.output, ids)],
        "full_int8",
        arguments.tolerance,
        arguments.output,
    )
    paths = [
        os.path.join(arguments.output, name)
        for name in ("host_lookup.tflite", "accelerator.tflite")
    ]
    return result, paths


def print_sizes(paths, tables):
    """Prints the size breakdown of each file and the ratio to float32."""
    from keras_dccl.export.tflite_file import TFLiteFile

    total = 0
    for path in paths:
        tflite_file = TFLiteFile(path)
        sizes = tflite_file.size_breakdown()
        # A raw-text model's tokenizer tables, inputs of its custom ops.
        tokenizer = sum(
            tflite_file.tensors[index].constant_bytes
            for op in tflite_file.operators
            if op.name.startswith("CUSTOM:")
            for index in op.inputs
        )
        if tokenizer:
            rest = sizes.pop("rest")
            sizes.update(tokenizer=tokenizer, rest=rest - tokenizer)
        sizes["total"] = tflite_file.file_bytes
        total += tflite_file.file_bytes
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


if __name__ == "__main__":
    # The exporter needs the TensorFlow backend, whatever KERAS_BACKEND says:
    # a .keras file saved on jax or torch loads on TensorFlow as it is. Keep
    # TensorFlow's C++ logs quiet.
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
