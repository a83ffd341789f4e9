"""Classify texts with this exported Konstruktor model (needs numpy and the encoder's wheel, see requirements.txt).

    python predict.py --text "my parcel never arrived"
    python predict.py messages.txt          # one text per line
    python predict.py messages.csv --json   # the 'text' column (else the first)
"""

import argparse
import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from textmodel import TextModel  # noqa: E402


def read_texts(path):
    text = Path(path).read_bytes()
    try:
        text = text.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = text.decode("cp1251")
    if path.lower().endswith((".csv", ".tsv")):
        rows = list(csv.reader(text.splitlines(), dialect=csv.excel_tab if path.lower().endswith(".tsv")
                               else csv.Sniffer().sniff(text[:20000], delimiters=",;\\t|")))
        header = [c.strip().lower() for c in rows[0]] if rows else []
        names = ("text", "message", "sentence", "content", "текст", "сообщение")
        col = next((header.index(c) for c in names if c in header), None)
        body, first = (rows[1:], 2) if col is not None else (rows, 1)
        col = col or 0
        return [(f"{path}:{i}", r[col]) for i, r in enumerate(body, first) if len(r) > col and r[col].strip()]
    return [(f"{path}:{i}", line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def main():
    p = argparse.ArgumentParser(description="Classify texts with an exported Konstruktor model.")
    p.add_argument("files", nargs="*", help=".txt files (one text per line) or .csv/.tsv files")
    p.add_argument("--text", action="append", help="a text to classify (may be given more than once)")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    items = [("--text", t) for t in args.text or []]
    for f in args.files:
        items += read_texts(f)
    if not items:
        p.error("give --text or a file of texts")
    model = TextModel(HERE)
    probs = model.predict_proba([t for _, t in items])
    out = []
    for (where, text), row in zip(items, probs, strict=True):
        order = row.argsort()[::-1][: max(1, min(args.top_k, len(model.labels)))]
        out.append({"file": where, "text": text, "label": model.labels[order[0]], "prob": float(row[order[0]]),
                    "top": [{"label": model.labels[i], "prob": float(row[i])} for i in order]})
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for r in out:
            print(f"{r['file']}\t{r['label']}\t{r['prob']:.3f}\t{r['text'][:60]}")


if __name__ == "__main__":
    main()
