#!/usr/bin/env python3
"""BPE training time: bin/tokenizer train vs Hugging Face tokenizers' BpeTrainer.

Both train a byte-level BPE on the same files with the same split regex and vocabulary size:
  ours: bin/tokenizer train --input F... --vocab-size V --pattern P  (its "total_seconds" line:
        reading + splitting + merging + saving)
  HF:   Tokenizer(BPE()) with pre_tokenizer = Split(the same regex, isolated) + ByteLevel (no regex
        of its own), BpeTrainer(vocab_size=V, initial_alphabet = the 256 byte symbols); time of
        tokenizer.train(files) (reading + splitting + merging).
Ours counts V as 256 bytes + merges; HF's vocab_size counts the same 256 byte symbols + merges,
so both make V - 256 merges.

  python3 bench/bpe_train.py build/release/bin/tokenizer [--data data] [--sizes 4096 32768] [--pattern gpt4]

Prints a markdown table of seconds and the ratio. Installs `tokenizers` with pip when it is missing.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT4 = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""


def ensure_tokenizers():
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "tokenizers"])


def train_ours(binary, files, vocab, pattern, threads):
    with tempfile.TemporaryDirectory() as out:
        cmd = [binary, "train", "--vocab-size", str(vocab), "--pattern", pattern, "--out", out, "--threads", str(threads)]
        for f in files:
            cmd += ["--input", f]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if res.returncode != 0:
            sys.exit(f"bpe_train.py: {' '.join(cmd)} failed:\n{res.stderr}")
        m = re.search(r"total_seconds ([0-9.]+)", res.stdout)
        return float(m.group(1)) if m else wall


def train_hf(files, vocab, pattern):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GPT4 if pattern == "gpt4" else GPT2), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=vocab, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    t0 = time.perf_counter()
    tok.train(files, trainer)
    seconds = time.perf_counter() - t0
    assert tok.get_vocab_size() == vocab, f"HF made {tok.get_vocab_size()} tokens, expected {vocab}"
    return seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", help="path to bin/tokenizer")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "data"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[4096, 32768])
    ap.add_argument("--pattern", choices=["gpt2", "gpt4"], default="gpt4")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=1, help="best of N runs")
    args = ap.parse_args()
    files = sorted(glob.glob(os.path.join(args.data, "*.txt")))
    if not files:
        sys.exit(f"bpe_train.py: no .txt files in {args.data} (run scripts/get_data.sh)")
    ensure_tokenizers()
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    print(f"{len(files)} files, {mb:.1f} MB, pattern {args.pattern}, {args.threads} threads\n")
    print("| vocab size | ours (s) | HF tokenizers (s) | HF / ours |")
    print("|---:|---:|---:|---:|")
    for v in args.sizes:
        ours = min(train_ours(args.binary, files, v, args.pattern, args.threads) for _ in range(args.repeats))
        hf = min(train_hf(files, v, args.pattern) for _ in range(args.repeats))
        print(f"| {v} | {ours:.2f} | {hf:.2f} | {hf / ours:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
