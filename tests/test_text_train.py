"""Training a text classifier from the command line: well above chance on tiny English and Russian topics, the
run folder's events and metrics, predict --text / a file of lines / a CSV, and which words pushed the decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import textgen

from engine.__main__ import main
from engine.events import read_events
from engine.tasks.text_classification.pipeline import explain_text, predict_files


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory) -> Path:
    rows = textgen.texts("en", 14, seed=3) + textgen.texts("ru", 14, seed=4)
    return textgen.write_csv(tmp_path_factory.mktemp("texts") / "support.csv", rows)


def train(tmp_path: Path, data: Path, model: str, monkeypatch) -> Path:
    monkeypatch.setenv("KONSTRUKTOR_WORKSPACE", str(tmp_path / "ws"))
    run = tmp_path / f"run-{model}"
    assert main(["train", "--data", str(data), "--model", model, "--out", str(run), "--quiet"]) == 0
    return run


@pytest.mark.parametrize("model", ["tfidf-char", "use-multilingual", "e5-small-multilingual"])
def test_each_encoder_with_a_linear_head_learns_the_topics_well_above_chance(tmp_path, data_csv, model,
                                                                            monkeypatch):
    run = train(tmp_path, data_csv, model, monkeypatch)
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["encoder"] == model and metrics["mode"] == "linear-probe"
    for split in ("val", "test"):
        assert metrics[split]["accuracy"] >= 0.75  # six topics: chance is 0.17
        assert {"balanced_accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(metrics[split])
    types = [e["type"] for e in read_events(run)[0]]
    assert types.index("start") < types.index("epoch_end") < types.index("metrics") < types.index("done")
    assert (run / "artifacts" / "confusion_matrix_test.png").is_file()


def test_the_task_is_recognised_from_a_csv_with_a_text_column(tmp_path, data_csv, monkeypatch):
    run = train(tmp_path, data_csv, "tfidf-char", monkeypatch)
    assert "task: text-classification" in (run / "config.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tfidf_run(tmp_path_factory, data_csv) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        return train(tmp_path_factory.mktemp("tfidf"), data_csv, "tfidf-char", mp)


def test_predict_answers_a_text_a_file_of_lines_and_a_csv_with_top_k(tfidf_run, tmp_path, capsys):
    lines = tmp_path / "lines.txt"
    lines.write_text("the courier lost my parcel and tracking shows nothing\n\nпароль не подходит, аккаунт "
                     "заблокирован\n", encoding="utf-8")
    table = textgen.write_csv(tmp_path / "more.csv", [("my card was charged twice, the bank declined", "?")])
    assert main(["predict", str(tfidf_run), str(lines), str(table), "--text",
                 "списали деньги с карты, банк отклонил платёж", "--json", "--top-k", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in out] == ["оплата", "delivery", "аккаунт", "payment"]
    assert out[1]["file"].endswith("lines.txt:1") and out[2]["file"].endswith("lines.txt:3")
    assert all(len(r["top"]) == 2 and 0 < r["prob"] <= 1 for r in out)


def test_a_file_that_is_not_text_gets_an_error_and_the_others_are_answered(tfidf_run, tmp_path):
    bad = tmp_path / "photo.txt"
    bad.write_bytes(b"\x00\x01\x02" * 100)
    results = predict_files(tfidf_run, [str(bad), str(tmp_path / "missing.txt")], text="my password is locked")
    assert results[0]["label"] == "account"
    assert "error" in results[1] and results[2]["error"] == "no such file"


def test_explain_says_the_topic_words_pushed_the_decision(tfidf_run):
    words = explain_text(tfidf_run, "Hello please help, the courier lost my parcel today")
    by_token = {w["token"]: w["weight"] for w in words}
    assert [w["token"] for w in words][:3] == ["Hello", "please", "help"]
    top_two = sorted(by_token, key=by_token.get, reverse=True)[:2]
    assert set(top_two) == {"courier", "parcel"}
    assert all(by_token[t] > 0 for t in top_two)
