import argparse
import importlib.util
import json
import pathlib
import runpy
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent
PATH = ROOT / "benchmarks" / "sentiment.py"
EXAMPLE = ROOT / "examples" / "sentiment.py"


@pytest.fixture(scope="module")
def sentiment():
    spec = importlib.util.spec_from_file_location("sentiment_benchmark", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(variant, kind, seed, accuracy, compression, bits, fold=0):
    return {
        "variant": variant,
        "kind": kind,
        "seed": seed,
        "fold": fold,
        "test_accuracy": accuracy,
        "validation_accuracy": accuracy,
        "embedding_bytes": 1000.0,
        "compression": compression,
        "bits_per_word": bits,
        "seconds": 1.0,
    }


def summarize_runs(tmp_path, runs, *arguments, holdout="test"):
    """Runs the benchmark on a results file holding `runs` already: it
    trains nothing and writes the summary and the tables again."""
    output = tmp_path / "runs.json"
    output.write_text(
        json.dumps(
            {
                "machine": {"nproc": 2, "load_average": [0.5, 0.5, 0.5]},
                "setup": {
                    "num_codebooks": 4,
                    "codebook_size": 16,
                    "code_lengths": [0, 2, 4, 8, 16],
                    "target_bits_per_word": 24.0,
                    "holdout": holdout,
                    "options": {"monitor": "val_loss"},
                },
                "runs": runs,
            }
        )
    )
    run_benchmark("--resume", "--output", str(output), *arguments)
    results = json.loads(output.read_text())
    return results["summary"], (tmp_path / "runs.md").read_text()


def test_parse_option(sentiment):
    assert sentiment.parse_option("monitor=val_loss") == ("monitor", "val_loss")
    assert sentiment.parse_option("straight_through=true") == (
        "straight_through",
        True,
    )
    assert sentiment.parse_option("epochs=3") == ("epochs", 3)
    for text in ("monitor", "=3"):
        with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
            sentiment.parse_option(text)


def test_targets_use_the_means_over_seeds(tmp_path):
    runs = [
        run("glove_embedding", "glove_embedding", 0, 0.770, 1.0, 1600),
        run("glove_embedding", "glove_embedding", 1, 0.760, 1.0, 1600),
        # Mean 0.760: 0.5 points below the baseline's mean of 0.765.
        run("adaptive", "adaptive", 0, 0.750, 55.0, 23.0),
        run("adaptive", "adaptive", 1, 0.770, 55.0, 23.0),
        # As accurate, but only 45.8x smaller.
        run("task_driven_m8", "task_driven", 0, 0.765, 45.8, 32.0),
        run("task_driven_m8", "task_driven", 1, 0.765, 45.8, 32.0),
    ]
    summary, markdown = summarize_runs(tmp_path, runs, "--seeds", "0", "1")
    assert summary["adaptive"]["test_accuracy"]["mean"] == pytest.approx(0.76)
    assert summary["adaptive"]["test_accuracy"]["std"] == pytest.approx(0.01)
    targets = summary["targets"]
    assert targets["baseline_accuracy_at_50x"] == {
        "met": True,
        "by": ["adaptive"],
    }
    assert targets["adaptive_fewer_bits_at_same_accuracy"]["than"] == [
        "task_driven_m8"
    ]
    assert "at >= 50x: met by adaptive" in markdown
    runs[3]["test_accuracy"] = 0.768
    summary, markdown = summarize_runs(tmp_path, runs, "--seeds", "0", "1")
    targets = summary["targets"]
    assert targets["baseline_accuracy_at_50x"] == {"met": False, "by": []}
    assert not targets["adaptive_fewer_bits_at_same_accuracy"]["met"]
    assert "at >= 50x: not met" in markdown


def test_markdown_names_the_holdout_split_and_its_file(tmp_path):
    runs = [
        run("glove_embedding", "glove_embedding", 0, 0.77, 1.0, 1600),
        run("adaptive", "adaptive", 0, 0.77, 55.0, 23.0),
    ]
    _, markdown = summarize_runs(
        tmp_path, runs, "--seeds", "0", "--holdout", "dev", holdout="dev"
    )
    assert "into `runs.json`" in markdown
    assert "| variant | runs | dev accuracy |" in markdown
    assert "{'monitor': 'val_loss'}" in markdown
    assert "| adaptive | 1 | 0.7700 ± 0.0000 |" in markdown


def test_differences_from_the_baseline_are_paired_by_seed_and_fold(tmp_path):
    runs = []
    for seed, fold, baseline, adaptive in [
        (0, 0, 0.80, 0.79),
        (0, 1, 0.70, 0.70),
        (1, 0, 0.76, 0.74),
    ]:
        runs.append(
            run(
                "glove_embedding", "glove_embedding", seed, baseline, 1, 1, fold
            )
        )
        runs.append(run("adaptive", "adaptive", seed, adaptive, 55, 23, fold))
    # A run without its baseline pair is left out of the difference.
    runs.append(run("adaptive", "adaptive", 2, 0.5, 55.0, 23.0))
    summary, markdown = summarize_runs(
        tmp_path, runs, "--seeds", "0", "--folds", "0"
    )
    difference = summary["adaptive"]["difference_from_baseline"]
    assert difference["runs"] == 3
    assert difference["mean"] == pytest.approx(-0.01)
    assert difference["standard_error"] == pytest.approx(0.01 / 3**0.5)
    assert "| -1.00 ± 0.58 points |" in markdown


def run_benchmark(*arguments, cwd=None):
    result = subprocess.run(
        [sys.executable, str(PATH), *arguments],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def list_splits(*arguments):
    splits = json.loads(run_benchmark("--list-splits", *arguments))
    return {
        int(fold): {name: list(indices) for name, indices in parts.items()}
        for fold, parts in splits.items()
    }


def test_fold_zero_is_the_example_split():
    example = runpy.run_path(str(EXAMPLE))
    (fold,) = list_splits().values()
    expected = example["split_sentences"](sum(map(len, fold.values())))
    assert fold == {name: part.tolist() for name, part in expected.items()}


def test_dev_holdout_never_reads_the_test_split():
    (test,) = list_splits("--sentences", "1000").values()
    (dev,) = list_splits("--sentences", "1000", "--holdout", "dev").values()
    assert len(dev["test"]) == len(test["test"]) == 100
    for name, indices in dev.items():
        assert not set(test["test"]) & set(indices), name
    # The development split is the sentences validation used to hold.
    assert dev["test"] == test["validation"]


def test_folds_test_every_sentence_once():
    folds = list_splits("--sentences", "500", "--folds", *map(str, range(10)))
    everything = sorted(sum(folds[0].values(), []))
    assert everything == sorted(set(everything)) and len(everything) == 500
    tested = []
    for fold in range(10):
        assert sorted(sum(folds[fold].values(), [])) == everything
        tested += folds[fold]["test"]
    assert tested[:50] == folds[0]["test"]
    assert sorted(tested) == everything


@pytest.mark.slow
def test_quick_run_writes_its_own_files(tmp_path):
    output = tmp_path / "quick.json"
    run_benchmark(
        "--sentences",
        "600",
        "--seeds",
        "0",
        "--variants",
        "glove_embedding",
        "adaptive",
        "--option",
        "epochs=1",
        "--output",
        str(output),
    )
    results = json.loads(output.read_text())
    assert [run["variant"] for run in results["runs"]] == [
        "glove_embedding",
        "adaptive",
    ]
    assert results["setup"]["sentences"]["test"] == 60
    assert results["setup"]["options"] == {"epochs": 1}
    for run in results["runs"]:
        assert 0.0 <= run["test_accuracy"] <= 1.0
        assert run["embedding_bytes"] > 0
    markdown = (tmp_path / "quick.md").read_text()
    assert "into `quick.json`" in markdown
    assert "| adaptive | 1 |" in markdown
