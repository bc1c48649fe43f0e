"""Builds the browser demo: a static site that runs the sentiment model.

The site holds the page (index.html, app.js, tokenizer.js), LiteRT.js and
its WebAssembly files from node_modules, and the model: `sentiment.tflite`
and `vocabulary.txt` as `examples/sentiment.py` exports them. Nothing is
fetched from another site at run time. Serve the output directory with any
static file server, for example:

    python examples/web/build.py
    python -m http.server -b 127.0.0.1 -d examples/web/dist 8000

then open http://127.0.0.1:8000/.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

WEB_DIRECTORY = os.path.dirname(os.path.abspath(__file__))
EXAMPLES_DIRECTORY = os.path.dirname(WEB_DIRECTORY)
DEFAULT_MODEL = os.path.join(
    EXAMPLES_DIRECTORY, "sentiment_output", "sentiment.tflite"
)
DEFAULT_VOCABULARY = os.path.join(
    EXAMPLES_DIRECTORY, "sentiment_output", "vocabulary.txt"
)
DEFAULT_OUT = os.path.join(WEB_DIRECTORY, "dist")

PAGE_FILES = ("index.html", "app.js", "tokenizer.js")
NODE_MODULES = os.path.join(WEB_DIRECTORY, "node_modules")
# Source in node_modules -> destination in the site (see index.html's
# import map and app.js's WASM_DIRECTORY).
PACKAGE_FILES = {
    "@litertjs/core/dist/index.js": "vendor/litertjs-core/index.js",
    "@litertjs/core/dist/index.js.map": "vendor/litertjs-core/index.js.map",
    "@litertjs/wasm-utils/dist/index.js": (
        "vendor/litertjs-wasm-utils/index.js"
    ),
    "@litertjs/wasm-utils/dist/index.js.map": (
        "vendor/litertjs-wasm-utils/index.js.map"
    ),
}
WASM_DIRECTORY = "@litertjs/core/wasm"
TFLITE_IDENTIFIER = b"TFL3"  # Bytes 4 to 8 of every .tflite flatbuffer.


class BuildError(Exception):
    """A problem with the inputs, reported as one line."""


def check_model(path):
    if not os.path.isfile(path):
        raise BuildError(
            f"model file not found: {path} (run examples/sentiment.py, "
            "or pass --model)"
        )
    with open(path, "rb") as file:
        header = file.read(8)
    if header[4:8] != TFLITE_IDENTIFIER:
        raise BuildError(f"{path}: not a .tflite file (no TFL3 identifier)")


def check_vocabulary(path):
    """Checks the start of a WordTokenizer vocabulary file; returns its size.

    (`keras_dccl.text.word_tokenizer.read_vocabulary` checks it fully, but
    importing keras_dccl loads TensorFlow, which takes seconds.)
    """
    if not os.path.isfile(path):
        raise BuildError(
            f"vocabulary file not found: {path} (run examples/sentiment.py, "
            "or pass --vocabulary)"
        )
    try:
        with open(path, encoding="utf-8", newline="") as file:
            text = file.read()
    except UnicodeDecodeError as error:
        raise BuildError(f"{path}: not UTF-8 ({error.reason})") from None
    lines = text.split("\n")
    if text[-1:] != "\n" or lines[:2] != ["[PAD]", "[UNK]"]:
        raise BuildError(
            f"{path}: not a vocabulary file (one token per line, starting "
            "with [PAD] and [UNK], ending with a newline)"
        )
    return len(lines) - 1


def install_node_modules():
    """Runs `npm ci` (the versions of package-lock.json) if not done yet."""
    if os.path.isdir(NODE_MODULES):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(
            f"{NODE_MODULES} is missing and npm is not installed "
            "(install Node.js 20 or newer, or run "
            "tests/install-requirements.sh)"
        )
    print("Installing LiteRT.js with npm ci ...", flush=True)
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=WEB_DIRECTORY,
    )
    if result.returncode != 0:
        raise BuildError(f"npm ci failed in {WEB_DIRECTORY}")


def copy(source, destination):
    if not os.path.isfile(source):
        raise BuildError(
            f"{source} is missing: delete {NODE_MODULES} and build again"
        )
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    shutil.copyfile(source, destination)


def fill_site(directory, model, vocabulary):
    for name in PAGE_FILES:
        copy(os.path.join(WEB_DIRECTORY, name), os.path.join(directory, name))
    for source, destination in PACKAGE_FILES.items():
        copy(
            os.path.join(NODE_MODULES, source),
            os.path.join(directory, destination),
        )
    wasm_source = os.path.join(NODE_MODULES, WASM_DIRECTORY)
    wasm_names = sorted(os.listdir(wasm_source))
    if not any(name.endswith(".wasm") for name in wasm_names):
        raise BuildError(f"no .wasm file in {wasm_source}")
    for name in wasm_names:
        copy(
            os.path.join(wasm_source, name),
            os.path.join(directory, "wasm", name),
        )
    copy(model, os.path.join(directory, "sentiment.tflite"))
    copy(vocabulary, os.path.join(directory, "vocabulary.txt"))


def build(model, vocabulary, out):
    """Builds the site into `out`, replacing it whole once it is complete."""
    check_model(model)
    vocabulary_size = check_vocabulary(vocabulary)
    install_node_modules()
    out = os.path.abspath(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tmp-web-demo-", dir=parent)
    try:
        fill_site(staging, model, vocabulary)
        os.chmod(staging, 0o755)  # mkdtemp makes it private.
        if os.path.isdir(out):
            # Two renames: a crash in between leaves the old site beside.
            retired = tempfile.mkdtemp(prefix=".old-web-demo-", dir=parent)
            os.replace(out, os.path.join(retired, "site"))
            os.replace(staging, out)
            shutil.rmtree(retired)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return os.path.getsize(model), vocabulary_size


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=(
            "Build the browser demo (a static site running the sentiment "
            "model with LiteRT.js) from an exported model."
        )
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="the exported .tflite model: int32 ids [1, sequence length] "
        "in, float32 probability [1, 1] out (default: %(default)s)",
    )
    parser.add_argument(
        "--vocabulary",
        default=DEFAULT_VOCABULARY,
        help="the model's WordTokenizer vocabulary file, one token per line "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help="the directory to write the site to; replaced if it exists "
        "(default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        model_size, vocabulary_size = build(
            args.model, args.vocabulary, args.out
        )
    except BuildError as error:
        sys.exit(f"{parser.prog}: error: {error}")
    print(
        f"Built {args.out}: model {model_size:,} bytes, vocabulary "
        f"{vocabulary_size:,} tokens.\nServe it with: python -m http.server "
        f"-b 127.0.0.1 -d {args.out} 8000"
    )


if __name__ == "__main__":
    main()
