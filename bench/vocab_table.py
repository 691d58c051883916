#!/usr/bin/env python3
"""Bytes per token vs vocabulary size, on English, code and Chinese (chapter 01's table).

Each data file is cut into a training part (the first 90%, at a line boundary) and a held-out
slice (the last 10%). One tokenizer per vocabulary size is trained with `bin/tokenizer train` on
the training parts of all files together (gpt4 pattern); each is then measured with
`bin/tokenizer stats` on the held-out slice of each kind of text. GPT-2's released tokenizer
(data/gpt2: encoder.json + vocab.bpe) is measured on the same slices for comparison.

  python3 bench/vocab_table.py build/release/bin/tokenizer [--data data] [--sizes 256 512 ...]

Prints a markdown table (higher bytes/token = shorter sequences for the same text).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

# kind of text -> files (those missing are left out, and the table says so)
KINDS = {
    "English (Shakespeare)": ["tinyshakespeare.txt"],
    "English (WikiText-2)": ["wikitext2_test.txt", "wikitext2_valid.txt"],
    "code (C, Lua, Python)": ["code_c_lua.txt", "code_python_click.txt"],
    "Chinese": ["chinese_classics.txt"],
}


def split_text(text, held_out_fraction):
    cut = int(len(text) * (1 - held_out_fraction))
    nl = text.find(b"\n", cut)
    cut = nl + 1 if nl >= 0 else cut
    return text[:cut], text[cut:]


def run(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"vocab_table.py: {' '.join(cmd)} failed:\n{res.stderr}")
    return res.stdout


def bytes_per_token(binary, tok_dir, path):
    out = run([binary, "stats", "--tokenizer", tok_dir, "--input", path])
    return float(re.search(r"bytes/token:\s+([0-9.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", help="path to bin/tokenizer")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "data"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 4096, 16384, 32768])
    ap.add_argument("--held-out", type=float, default=0.1)
    ap.add_argument("--pattern", choices=["gpt2", "gpt4"], default="gpt4")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        train_files, held_out, missing = [], {}, []
        for kind, names in KINDS.items():
            parts = []
            for name in names:
                path = os.path.join(args.data, name)
                if not os.path.exists(path):
                    missing.append(name)
                    continue
                with open(path, "rb") as f:
                    train, test = split_text(f.read(), args.held_out)
                train_path = os.path.join(tmp, "train_" + name)
                with open(train_path, "wb") as f:
                    f.write(train)
                train_files.append(train_path)
                parts.append(test)
            if parts:
                held_out[kind] = os.path.join(tmp, f"heldout_{len(held_out)}.txt")
                with open(held_out[kind], "wb") as f:
                    f.write(b"".join(parts))
        if not train_files:
            sys.exit(f"vocab_table.py: none of the data files is in {args.data} (run scripts/get_data.sh)")

        kinds = list(held_out)
        print("| vocabulary | " + " | ".join(kinds) + " | train time (s) |")
        print("|---|" + "---:|" * (len(kinds) + 1))
        for v in args.sizes:
            tok_dir = os.path.join(tmp, f"tok{v}")
            cmd = [args.binary, "train", "--vocab-size", str(v), "--pattern", args.pattern, "--out", tok_dir]
            for f in train_files:
                cmd += ["--input", f]
            t0 = time.perf_counter()
            run(cmd)
            seconds = time.perf_counter() - t0
            row = [f"{bytes_per_token(args.binary, tok_dir, held_out[k]):.2f}" for k in kinds]
            print(f"| ours {v} ({args.pattern}) | " + " | ".join(row) + f" | {seconds:.1f} |", flush=True)
        gpt2 = os.path.join(args.data, "gpt2")
        if os.path.exists(os.path.join(gpt2, "encoder.json")) and os.path.exists(os.path.join(gpt2, "vocab.bpe")):
            row = [f"{bytes_per_token(args.binary, gpt2, held_out[k]):.2f}" for k in kinds]
            print("| GPT-2 50257 | " + " | ".join(row) + " | — |")
        else:
            missing.append("gpt2/encoder.json + vocab.bpe")
        print(f"\nheld-out slice: the last {args.held_out:.0%} of each file; trained on the rest of all files.")
        if missing:
            print("missing (left out): " + ", ".join(missing))


if __name__ == "__main__":
    main()
