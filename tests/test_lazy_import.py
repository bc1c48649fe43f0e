import subprocess
import sys
import textwrap

import pytest

# Runs in a fresh interpreter: the NumPy path (compress, the artifact, the
# readers and the CLI's compress, evaluate, info and --help) must leave
# TensorFlow and Keras unimported.
NUMPY_PATH_SCRIPT = textwrap.dedent(
    """
    import contextlib
    import io
    import os
    import sys

    import numpy as np

    import keras_dccl
    from keras_dccl import cli

    folder = sys.argv[1]
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((200, 6)).astype(np.float32)
    text = os.path.join(folder, "vectors.txt")
    with open(text, "w") as file:
        for index, row in enumerate(vectors):
            values = " ".join(f"{value:.6f}" for value in row)
            file.write(f"word{index} {values}\\n")
    words, read = keras_dccl.read_vectors(text)
    compressed = keras_dccl.compress(
        read, num_codebooks=2, codebook_size=4, verbose=1
    )
    artifact = os.path.join(folder, "api.npz")
    compressed.save(artifact)
    keras_dccl.CompressedEmbedding.load(artifact).evaluate(read)
    output = os.path.join(folder, "cli.npz")
    with contextlib.redirect_stdout(io.StringIO()):
        codes = [
            cli.main(["compress", text, "-o", output, "-m", "2", "-k", "4"]),
            cli.main(["evaluate", output, text]),
            cli.main(["info", output]),
        ]
        try:
            cli.main(["--help"])
        except SystemExit:
            pass
    assert codes == [0, 0, 0], codes
    loaded = sorted(
        name for name in ("tensorflow", "keras") if name in sys.modules
    )
    print("loaded:", ",".join(loaded))
    """
)


def test_numpy_path_imports_neither_tensorflow_nor_keras(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", NUMPY_PATH_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "loaded:"


@pytest.mark.parametrize(
    "name",
    ["CodebookEmbedding", "TemperatureSchedule", "compress", "WordTokenizer"],
)
def test_lazy_names_resolve_to_their_definitions(name):
    import keras_dccl

    value = getattr(keras_dccl, name)
    assert value.__name__ == name
    assert name in keras_dccl.__all__
    assert name in dir(keras_dccl)


def test_unknown_name_raises_attribute_error():
    import keras_dccl

    with pytest.raises(AttributeError, match="no_such_name"):
        keras_dccl.no_such_name
