"""The `keras-dccl` command line."""

import argparse
import contextlib
import importlib.util
import os
import re
import sys
import tempfile

DEFAULT_WORDS = 50000
DEFAULT_OUTPUT = "glove-6B-50d-top50000.dccl.npz"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    arguments = None
    try:
        with _TensorFlowLogOnce():
            arguments = _parser().parse_args(argv or ["demo"])
            code = arguments.run(arguments)
    except KeyboardInterrupt:
        message = "interrupted"
        output = getattr(arguments, "output", None)
        if output and os.path.exists(_checkpoint_path(output)):
            message += (
                "; run the same command with --resume to continue from the "
                "last checkpoint"
            )
        if sys.stderr.isatty():
            print(file=sys.stderr)  # End a progress bar's line.
        print(f"keras-dccl: {message}.", file=sys.stderr)
        return 130
    except (ValueError, OSError, ImportError) as error:
        message = str(error).splitlines()[0] if str(error) else repr(error)
        print(f"keras-dccl: error: {message}", file=sys.stderr)
        return 2
    return code or 0


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-dccl",
        description=(
            "Compress word embeddings into discrete codes and codebooks. "
            "With no arguments, runs the `demo` job: compresses the top "
            f"{DEFAULT_WORDS:,} GloVe-6B-50d words (M=32, K=16)."
        ),
    )
    commands = parser.add_subparsers(metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="compress the embedded GloVe-6B-50d default (needs "
        '`pip install "keras-dccl[glove]"`).',
    )
    demo.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUTPUT,
        help=f"where to write the artifact (default: {DEFAULT_OUTPUT}).",
    )
    demo.add_argument(
        "--words",
        type=int,
        default=DEFAULT_WORDS,
        help=f"how many of the most frequent words (default: {DEFAULT_WORDS}).",
    )
    _add_training_flags(demo)
    demo.set_defaults(run=_demo)

    compress = commands.add_parser(
        "compress", help="compress a vectors file into a .npz artifact."
    )
    _add_vectors_flags(compress)
    compress.add_argument(
        "-o", "--output", required=True, help="the artifact to write (.npz)."
    )
    _add_training_flags(compress)
    compress.set_defaults(run=_compress)

    evaluate = commands.add_parser(
        "evaluate",
        help="reconstruction error of an artifact against the original.",
    )
    evaluate.add_argument("artifact", help="a .npz written by compress.")
    _add_vectors_flags(evaluate)
    evaluate.set_defaults(run=_evaluate)

    info = commands.add_parser(
        "info", help="shape, bits per word, bytes and ratio of an artifact."
    )
    info.add_argument("artifact", help="a .npz written by compress.")
    info.set_defaults(run=_info)

    check_edgetpu = commands.add_parser(
        "check-edgetpu",
        help="check a .tflite file statically against the Edge TPU op list "
        "(ops, int8 tensors, static shapes, rank); the compiler itself is "
        "not run. Exits 1 if there are problems.",
    )
    check_edgetpu.add_argument("model", help="a .tflite file.")
    check_edgetpu.set_defaults(run=_check_edgetpu)
    return parser


def _add_vectors_flags(parser):
    parser.add_argument(
        "vectors",
        help="GloVe text, word2vec text or binary (.bin), or .npy; text "
        "files may be gzipped (.gz).",
    )
    parser.add_argument(
        "--vocabulary",
        help="with a .npy: a text file with one word per line.",
    )
    parser.add_argument(
        "--format",
        default="auto",
        choices=["auto", "glove", "word2vec", "word2vec_binary", "npy"],
        help="the vectors file's format (default: from its name and header).",
    )
    parser.add_argument(
        "--max-words",
        type=int,
        help="read only the first N vectors (files are usually sorted by "
        "frequency).",
    )


def _add_training_flags(parser):
    from keras_dccl.compression.compress import RECIPES

    parser.add_argument(
        "-m",
        "--codebooks",
        type=int,
        default=32,
        help="M, the number of codes per word (default: 32).",
    )
    parser.add_argument(
        "-k",
        "--codebook-size",
        type=int,
        default=16,
        help="K, vectors per codebook: a power of two, 2 to 256 "
        "(default: 16, so 4 bits per code).",
    )
    parser.add_argument(
        "--recipe",
        default="default",
        choices=["default", *RECIPES],
        help="how codes are learned; default: the best measured (anneal "
        "with at most one code bit per dimension, else beam). "
        + " ".join(f"{name}: {r.description}" for name, r in RECIPES.items()),
    )
    parser.add_argument(
        "--validation-split",
        type=float,
        default=0.05,
        help="share of words held out for early stopping (default: 0.05).",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed; the same seed gives the same codes (default: 0).",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from OUTPUT.checkpoint.npz.",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars."
    )


def _demo(arguments):
    from keras_dccl.readers.glove_package import load_glove_package

    with _writing(arguments.output, []):
        print(f"Loading the top {arguments.words:,} GloVe-6B-50d words.")
        words, vectors = load_glove_package(arguments.words)
        _compress_and_report(arguments, words, vectors, "GloVe-6B-50d")


def _compress(arguments):
    with _writing(arguments.output, [arguments.vectors, arguments.vocabulary]):
        words, vectors = _read(arguments)
        _compress_and_report(arguments, words, vectors, arguments.vectors)


def _checkpoint_path(output):
    return output + ".checkpoint.npz"


@contextlib.contextmanager
def _writing(output, inputs):
    """Checks that `output` can be written, then holds its lock file.

    Refuses, before any work, an output that is a directory or one of the
    `inputs` (also through another name or a link), and a second job
    writing the same output.
    """
    from keras_dccl.utils.lock_file import lock_file

    if os.path.isdir(output):
        raise ValueError(
            f"{output}: is a directory; give the artifact's file name, such "
            f"as {os.path.join(output, 'embedding.dccl.npz')}."
        )
    written = [output, _checkpoint_path(output), output + ".lock"]
    for path in filter(os.path.exists, filter(None, inputs)):
        for target in written:
            if os.path.exists(target) and os.path.samefile(path, target):
                same = "" if path == target else f" {path}"
                raise ValueError(
                    f"{target}: is the input file{same}; writing there would "
                    "destroy it. Give another --output."
                )
    directory = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(directory):
        raise ValueError(f"{output}: the folder {directory} does not exist.")
    with lock_file(output + ".lock"):
        yield


def _compress_and_report(arguments, words, vectors, source):
    from keras_dccl.compression.compress import compress

    checkpoint = _checkpoint_path(arguments.output)
    if not arguments.resume and os.path.exists(checkpoint):
        print(f"Starting over: removing the old checkpoint {checkpoint}.")
        os.remove(checkpoint)
    try:
        compressed = compress(
            vectors,
            num_codebooks=arguments.codebooks,
            codebook_size=arguments.codebook_size,
            recipe=arguments.recipe,
            vocabulary=words,
            validation_split=arguments.validation_split,
            seed=arguments.seed,
            checkpoint_path=checkpoint,
            verbose=0 if arguments.quiet else 1,
        )
    except ValueError as error:
        if str(error).startswith("`vectors`"):  # The input's fault: name it.
            raise ValueError(f"{source}: {error}") from None
        raise
    compressed.save(arguments.output)
    print(f"Wrote {arguments.output}")
    print(compressed.summary())
    _check_saved(arguments.output, compressed, vectors)


def _check_saved(path, compressed, vectors):
    """Reads the artifact back and checks it reproduces the metrics."""
    from keras_dccl.compressed_table import CompressedTable

    metrics = CompressedTable.load(path).evaluate(vectors)
    expected = compressed.metadata["mean_distance"]
    if abs(metrics["mean_distance"] - expected) > 1e-4 * max(1.0, expected):
        raise ValueError(
            f"{path}: the saved artifact gives mean distance "
            f"{metrics['mean_distance']:.6f}, not {expected:.6f}."
        )
    print(f"Checked: {path} reloads with the same mean distance.")


def _evaluate(arguments):
    from keras_dccl.compressed_table import CompressedTable

    compressed = CompressedTable.load(arguments.artifact)
    words, vectors = _read(arguments)
    if vectors.shape != (compressed.num_words, compressed.output_dim):
        raise ValueError(
            f"{arguments.vectors}: {vectors.shape[0]} x {vectors.shape[1]} "
            f"vectors, but {arguments.artifact} holds "
            f"{compressed.num_words} x {compressed.output_dim}."
        )
    if compressed.vocabulary and words and compressed.vocabulary != words:
        raise ValueError(
            f"{arguments.vectors}: its words differ from the vocabulary of "
            f"{arguments.artifact}."
        )
    metrics = compressed.evaluate(vectors)
    print(f"words: {compressed.num_words}")
    print(f"bits per word: {compressed.bits_per_word}")
    print(f"mean distance: {metrics['mean_distance']:.6f}")
    print(f"mean squared error: {metrics['mean_squared_error']:.6f}")
    norms = (vectors.astype("float64") ** 2).sum(axis=1) ** 0.5
    print(f"mean vector norm: {norms.mean():.6f}")


def _info(arguments):
    from keras_dccl.compressed_table import CompressedTable

    print(CompressedTable.load(arguments.artifact).summary())


def _check_edgetpu(arguments):
    from keras_dccl.export.edgetpu import check_edgetpu
    from keras_dccl.export.edgetpu import format_problems

    problems = check_edgetpu(arguments.model)
    print(format_problems(problems))
    return 1 if problems else 0


def _read(arguments):
    from keras_dccl.readers.read_vectors import read_vectors

    return read_vectors(
        arguments.vectors,
        vocabulary_path=arguments.vocabulary,
        format=arguments.format,
        max_words=arguments.max_words,
    )


# The prefix of a native (glog) log line: severity, date, time, thread.
_NATIVE_LOG_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog()"


class _TensorFlowLogOnce:
    """Prints TensorFlow's native start-up warnings once, and no noise.

    TensorFlow's native libraries each print the same start-up block to
    file descriptor 2 while `tensorflow` is imported. While this context is
    active, the first import of `tensorflow` (wherever it happens) runs with
    descriptor 2 sent to a temporary file; its warning and error lines are
    then printed once each, in order, and its information lines not at all.
    """

    def __enter__(self):
        if "tensorflow" not in sys.modules:
            sys.meta_path.insert(0, self)
        return self

    def __exit__(self, *exception):
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _LogOnceLoader(spec.loader)
        return spec


class _LogOnceLoader:
    """Runs another loader with descriptor 2 captured and deduplicated."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        with _native_log_once():
            self.loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


@contextlib.contextmanager
def _native_log_once():
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # No standard error to capture.
        yield
        return
    try:
        with tempfile.TemporaryFile() as log:
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                log.seek(0)
                lines = log.read().decode("utf-8", "replace")
                seen = set()
                for line in lines.splitlines(keepends=True):
                    key = _NATIVE_LOG_PREFIX.sub("", line)
                    # Information lines (oneDNN, no CUDA driver) and absl's
                    # note about them say nothing to act on: left out, so
                    # that an error stays one line. Warnings and errors stay.
                    if line.startswith("I") and key != line:
                        continue
                    if line.startswith(_ABSL_PREAMBLE):
                        continue
                    if key not in seen:
                        seen.add(key)
                        sys.stderr.write(line)
                sys.stderr.flush()
    finally:
        os.close(saved)
