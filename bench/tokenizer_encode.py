#!/usr/bin/env python3
"""Encode throughput, ours against tiktoken, GPT-2 vocabulary, on English, code and Chinese.

tiktoken: the Encoding is built from the local GPT-2 files (no download); one thread is
encode_ordinary on the whole text, two threads is encode_ordinary_batch(num_threads=2) over the
text cut into 8 pieces at line boundaries (as encode_parallel cuts). Ours: bench_tokenizer (Google Benchmark), encode and
encode_parallel(2). Every figure is the best of --repeats runs (the machine may be shared), in MB/s
(10^6 bytes of input text per second, wall clock).

    python3 bench/tokenizer_encode.py build/release/bench/bench_tokenizer
"""
import argparse
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from make_gpt2_fixture import GPT2_PATTERN, gpt2_mergeable_ranks  # noqa: E402

KINDS = {
    "english": ["tinyshakespeare.txt", "wikitext2_valid.txt", "wikitext2_test.txt"],
    "code": ["code_c_lua.txt", "code_python_click.txt"],
    "chinese": ["chinese_classics.txt"],
}


def import_tiktoken():
    try:
        return importlib.import_module("tiktoken")
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "tiktoken"])
        return importlib.import_module("tiktoken")


def data_dir() -> Path:
    for d in (ROOT / "data", ROOT.parent / "shared" / "data"):
        if (d / "gpt2" / "encoder.json").exists():
            return d
    sys.exit("GPT-2 files not found in data/ or ../shared/data (run scripts/get_data.sh)")


def line_pieces(text: str, n: int) -> list:
    """text cut into about n pieces, each cut after a '\n' with no whitespace on either side of it
    (the rule of our encode_parallel, so the pieces encode to exactly the ids of the whole)."""
    cuts = [0]
    for k in range(1, n):
        p = max(len(text) * k // n, cuts[-1] + 1)
        while p < len(text) and not (text[p - 1] == "\n" and not text[p - 2].isspace() and not text[p].isspace()):
            nl = text.find("\n", p)
            p = len(text) if nl < 0 else nl + 1
        if p >= len(text):
            break
        cuts.append(p)
    cuts.append(len(text))
    return [text[a:b] for a, b in zip(cuts, cuts[1:])]


def best_mb_per_s(fn, n_bytes: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_bytes / best / 1e6


def ours(bench_binary: str, repeats: int) -> dict:
    out = subprocess.run([bench_binary, "--benchmark_format=json", f"--benchmark_repetitions={repeats}"],
                         check=True, capture_output=True, text=True).stdout
    figures = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") != "iteration" or "error_occurred" in b and b["error_occurred"]:
            continue
        # "BM_encode/english/1/real_time" -> ("english", 1)
        _, kind, threads = b["run_name"].split("/")[:3]
        key = (kind, int(threads))
        figures[key] = max(figures.get(key, 0.0), b["bytes_per_second"] / 1e6)
    return figures


def main():
    parser = argparse.ArgumentParser(description="tokenizer encode throughput: ours vs tiktoken")
    parser.add_argument("bench_binary", help="path of bench_tokenizer")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tiktoken = import_tiktoken()
    data = data_dir()
    ranks = gpt2_mergeable_ranks(data / "gpt2" / "encoder.json", data / "gpt2" / "vocab.bpe")
    enc = tiktoken.Encoding("gpt2_local", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                            special_tokens={"<|endoftext|>": 50256})
    theirs = {}
    for kind, files in KINDS.items():
        text = "".join((data / f).read_text(encoding="utf-8") for f in files)
        n_bytes = len(text.encode("utf-8"))
        pieces = line_pieces(text, 8)
        assert [i for ids in enc.encode_ordinary_batch(pieces, num_threads=2) for i in ids] == enc.encode_ordinary(text)
        theirs[(kind, 1)] = best_mb_per_s(lambda: enc.encode_ordinary(text), n_bytes, args.repeats)
        theirs[(kind, 2)] = best_mb_per_s(lambda: enc.encode_ordinary_batch(pieces, num_threads=2), n_bytes, args.repeats)
        print(f"tiktoken {kind}: {theirs[(kind, 1)]:.1f} MB/s (1 thread), {theirs[(kind, 2)]:.1f} MB/s (2 threads)",
              file=sys.stderr)
    mine = ours(args.bench_binary, args.repeats)
    print(f"\nGPT-2 encode throughput, MB/s (best of {args.repeats}), tiktoken {tiktoken.__version__}\n")
    print("| text | files | ours 1T | tiktoken 1T | ratio 1T | ours 2T | tiktoken 2T | ratio 2T |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for kind, files in KINDS.items():
        row = [kind, " + ".join(f.removesuffix(".txt") for f in files)]
        for t in (1, 2):
            o, th = mine.get((kind, t)), theirs[(kind, t)]
            row += [f"{o:.1f}" if o else "n/a", f"{th:.1f}", f"{o / th:.2f}x" if o else "n/a"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
