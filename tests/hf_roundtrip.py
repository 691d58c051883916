"""Our Hugging Face GPT-2 folders against the transformers library itself, both ways.

  1. ours → theirs: a tokenizer trained by bin/tokenizer, a model trained a few steps by
     bin/pretrain, `pretrain export --format hf`. GPT2LMHeadModel.from_pretrained and
     AutoTokenizer.from_pretrained load the folder; on a fixture (ordinary text, text with special
     tokens) and a page of text the ids are ours, and the logits agree with `pretrain logits` to
     1e-4. Both split patterns: gpt2 (ByteLevel's own regex) and gpt4 (a Split pre-tokenizer).
  2. theirs → ours: a randomly initialised GPT2LMHeadModel (every weight drawn, biases and
     LayerNorms included, N(0, 0.3)) saved by save_pretrained(safe_serialization=True) in F32, F16 and BF16,
     with the tokenizer files transformers writes; `pretrain import --format hf`; our logits agree
     with theirs (on the same rounded weights) to 1e-4, and our imported tokenizer gives their ids.
  3. GPT-2's own vocabulary (OpenAI's encoder.json + vocab.bpe, when present): exported by us,
     read by AutoTokenizer, the same ids; imported again with --chat-tokens, the chat tokens take
     ids 50257.. and the old tokens' logits do not move.

Run by ctest with Debian's /usr/bin/python3 (python3-torch); transformers and the packages it needs
come from --pydeps (scripts/setup.sh --test installs them there), put first on sys.path so that Debian's
numpy and torch stay the ones used. Exits 77 (ctest: skipped), saying why, only when torch or
transformers cannot be imported.

usage: hf_roundtrip.py --bin BUILD/bin --pydeps DIR [--gpt2 DIR ...] [--keep DIR]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
TOLERANCE = 1e-4

FIXTURE = [
    "First Citizen: Before we proceed any further, hear me speak.",
    "  leading spaces, trailing   ",
    "numbers 1234567 and 3.14159; symbols #@!? it's we're they've I'm",
    "déjà vu 🙂 naïve café ßŧřăñğê",
    "line one\nline two\n\n\tindented\r\n",
    "<|user|>What is 2+3?<|end|><|assistant|>5<|end|><|endoftext|>",
    "<|tool_call|>calc(12*7)<|tool_end|><|tool_result|>84<|tool_end|>",
]


def corpus_text():
    """~40 KB of varied text: words, numbers, punctuation, accents, emoji, whitespace runs."""
    words = ("the quick brown fox jumps over lazy dog citizen speak proceed further hear me all "
             "resolved rather die than famish you are first know caius marcius chief enemy people "
             "café naïve jalapeño déjà vu über straße 東京 数字 🙂 🚀").split()
    lines = []
    for i in range(900):
        w = [words[(i * 7 + k * 13) % len(words)] for k in range(4 + i % 5)]
        sep = ["\n", "\n\n", "  \n", "\t\n"][i % 4]
        lines.append(" ".join(w).capitalize() + [".", "!", "?", ";", ":"][i % 5] + f" {i * 37 % 1000}" + sep)
    return "".join(lines)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


class Ours:
    def __init__(self, bin_dir):
        self.tokenizer = os.path.join(bin_dir, "tokenizer")
        self.pretrain = os.path.join(bin_dir, "pretrain")

    def encode(self, tok_dir, texts):
        lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
        out = run([self.tokenizer, "encode", "--tokenizer", tok_dir, "--allowed-special", "all", "--jsonl"], input=lines)
        return [json.loads(line)["ids"] for line in out.splitlines()]

    def logits(self, model, tok_dir, ids):
        out = run([self.pretrain, "logits", "--model", model, "--tokenizer", tok_dir, "--ids", ",".join(map(str, ids))])
        return json.loads(out)["logits"]

    def train(self, work, name, pattern, vocab_size, tok_dir=None, steps=30):
        """A tokenizer (trained unless tok_dir is given), shards, and a model trained `steps` steps."""
        corpus = os.path.join(work, "corpus.txt")
        if not os.path.exists(corpus):
            with open(corpus, "w", encoding="utf-8") as f:
                f.write(corpus_text())
        if tok_dir is None:
            tok_dir = os.path.join(work, name, "tok")
            run([self.tokenizer, "train", "--input", corpus, "--vocab-size", str(vocab_size), "--pattern", pattern,
                 "--out", tok_dir])
        shards = os.path.join(work, name, "shards")
        run([self.tokenizer, "shard", "--tokenizer", tok_dir, "--input", corpus, "--out", shards])
        run_dir = os.path.join(work, name, "run")
        run([self.pretrain, "train", "--data", shards, "--tokenizer", tok_dir, "--out", run_dir, "--preset", "nano",
             "--max-seq-len", "64", "--steps", str(steps), "-B", "4", "-T", "64", "--lr", "3e-3", "--warmup", "2",
             "--eval-every", "0", "--sample-every", "0", "--seed", "7"])
        return tok_dir, os.path.join(run_dir, "model.bin")


def compare_ids(label, ours, theirs, texts):
    for text, a, b in zip(texts, ours, theirs):
        if a != b:
            sys.exit(f"FAILED ({label}): token ids differ on {text!r}\n  ours:   {a}\n  theirs: {b}")
    print(f"{label}: same ids on {len(texts)} texts ({sum(map(len, ours))} tokens)")


def max_diff(torch, ours, theirs):
    return (torch.tensor(ours, dtype=torch.float32) - theirs).abs().max().item()


def ours_to_theirs(torch, transformers, o, work, name, pattern, vocab_size, tok_dir=None):
    tok_dir, model = o.train(work, name, pattern, vocab_size, tok_dir, steps=30 if tok_dir is None else 2)
    hf_dir = os.path.join(work, name, "hf")
    run([o.pretrain, "export", "--model", model, "--tokenizer", tok_dir, "--format", "hf", "--out", hf_dir])
    tok = transformers.AutoTokenizer.from_pretrained(hf_dir)
    texts = FIXTURE + corpus_text()[:8000].split("\n\n")  # the fixture, then a page of the corpus
    theirs = [tok(t)["input_ids"] for t in texts]
    compare_ids(f"{name}: {type(tok).__name__}", o.encode(tok_dir, texts), theirs, texts)
    for t, ids in zip(texts, theirs):
        if tok.decode(ids) != t:
            sys.exit(f"FAILED ({name}): transformers decodes {ids} to {tok.decode(ids)!r}, not {t!r}")
    hf = transformers.GPT2LMHeadModel.from_pretrained(hf_dir).eval()
    worst = largest = 0.0
    for ids in theirs[: len(FIXTURE)]:
        ids = ids[:64]
        with torch.no_grad():
            ref = hf(torch.tensor([ids])).logits[0]
        worst = max(worst, max_diff(torch, o.logits(model, tok_dir, ids), ref))
        largest = max(largest, ref.abs().max().item())
    print(f"{name}: ours → transformers, max |Δlogit| = {worst:.3g} over {len(FIXTURE)} texts (|logit| ≤ {largest:.3g})")
    if worst > TOLERANCE:
        sys.exit(f"FAILED ({name}): logits differ by {worst} > {TOLERANCE}")
    return hf_dir, tok


def theirs_to_ours(torch, transformers, o, work, tok, eot):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=48, n_layer=3, n_head=4,
                                  bos_token_id=eot, eos_token_id=eot)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():  # every weight drawn, biases included, far from its init; LayerNorm gains near 1
        for name, p in hf.named_parameters():
            p.normal_(1.0 if "ln_" in name and name.endswith("weight") else 0.0, 0.3)
    ids_per_text = [tok(t)["input_ids"][:64] for t in FIXTURE]
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        name = str(dtype).replace("torch.", "")
        src = os.path.join(work, "theirs", name)
        stored = hf.to(dtype)
        stored.save_pretrained(src, safe_serialization=True)
        tok.save_pretrained(src)
        ref_model = stored.float()  # the same rounded weights, computed in f32 as ours are
        out = os.path.join(work, "theirs", name + "_imported")
        run([o.pretrain, "import", "--format", "hf", "--from", src, "--out", os.path.join(out, "model.bin")])
        tok_dir = os.path.join(out, "tokenizer")
        compare_ids(f"import ({name}): our tokenizer from transformers' files", o.encode(tok_dir, FIXTURE), ids_per_text, FIXTURE)
        worst = largest = 0.0
        for ids in ids_per_text:
            with torch.no_grad():
                ref = ref_model(torch.tensor([ids])).logits[0]
            worst = max(worst, max_diff(torch, o.logits(os.path.join(out, "model.bin"), tok_dir, ids), ref))
            largest = max(largest, ref.abs().max().item())
        print(f"transformers ({name} weights) → ours, max |Δlogit| = {worst:.3g} over {len(FIXTURE)} texts "
              f"(|logit| ≤ {largest:.3g})")
        if worst > TOLERANCE:
            sys.exit(f"FAILED (import {name}): logits differ by {worst} > {TOLERANCE}")
        hf = ref_model


def chat_tokens_on_import(torch, o, work, hf_dir, model, tok_dir):
    """`import --chat-tokens` of a folder whose tokenizer has <|endoftext|> alone (GPT-2's own): the chat
    tokens get the next ids, and the old tokens' logits are the model's before, bit for bit in value
    (new embedding rows change no hidden state), with one more logit per new token."""
    out = os.path.join(work, "chat_tokens")
    print(run([o.pretrain, "import", "--format", "hf", "--chat-tokens", "--from", hf_dir, "--out",
               os.path.join(out, "model.bin")]).strip())
    new_tok = os.path.join(out, "tokenizer")
    text = "<|user|> What is 2+3?<|end|><|assistant|> 5<|end|><|tool_call|>calc(2+3)<|tool_end|>"
    ids = o.encode(new_tok, [text])[0]
    expected_specials = {"<|system|>": 50257, "<|user|>": 50258, "<|assistant|>": 50259, "<|end|>": 50260,
                         "<|tool_call|>": 50261, "<|tool_result|>": 50262, "<|tool_end|>": 50263}
    for name, id_ in expected_specials.items():
        if name in text and id_ not in ids:
            sys.exit(f"FAILED (--chat-tokens): {name} is not id {id_} in {ids}")
    plain = o.encode(tok_dir, FIXTURE[:4])
    worst = 0.0
    for p in plain:
        before = torch.tensor(o.logits(model, tok_dir, p[:64]))
        after = torch.tensor(o.logits(os.path.join(out, "model.bin"), new_tok, p[:64]))
        if after.shape[1] != before.shape[1] + len(expected_specials):
            sys.exit(f"FAILED (--chat-tokens): {after.shape[1]} logits per position, expected {before.shape[1]} + 7")
        worst = max(worst, (after[:, : before.shape[1]] - before).abs().max().item())
    print(f"import --chat-tokens of GPT-2's vocabulary: 7 ids added (50257..50263), the old logits move by {worst:.3g}")
    if worst != 0.0:
        sys.exit(f"FAILED (--chat-tokens): the old tokens' logits changed by {worst}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--pydeps", required=True)
    ap.add_argument("--gpt2", action="append", default=[], help="OpenAI's GPT-2 files (the first folder that has them)")
    ap.add_argument("--keep", default="", help="work in this folder and keep it")
    args = ap.parse_args()
    sys.path.insert(0, args.pydeps)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is on disk; never ask the hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import torch
    except Exception as e:  # noqa: BLE001 — any failure to import is a reason to skip
        print(f"SKIPPED: torch cannot be imported by {sys.executable} ({e}); install python3-torch (scripts/setup.sh --test)")
        return SKIP
    try:
        import transformers
        transformers.logging.set_verbosity_error()
    except Exception as e:  # noqa: BLE001
        print(f"SKIPPED: transformers cannot be imported from {args.pydeps} ({e}); run scripts/setup.sh --test")
        return SKIP
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, transformers {transformers.__version__}")
    torch.set_num_threads(2)

    o = Ours(args.bin)
    work = args.keep or tempfile.mkdtemp(prefix="sog_hf_roundtrip_")
    os.makedirs(work, exist_ok=True)
    try:
        _, tok = ours_to_theirs(torch, transformers, o, work, "gpt2-pattern", "gpt2", 512)
        ours_to_theirs(torch, transformers, o, work, "gpt4-pattern", "gpt4", 512)
        theirs_to_ours(torch, transformers, o, work, tok, tok.convert_tokens_to_ids("<|endoftext|>"))
        gpt2 = next((d for d in args.gpt2 if os.path.exists(os.path.join(d, "encoder.json"))), "")
        if gpt2:
            hf_dir, _ = ours_to_theirs(torch, transformers, o, work, "gpt2-vocabulary", "gpt2", 0, tok_dir=gpt2)
            chat_tokens_on_import(torch, o, work, hf_dir, os.path.join(work, "gpt2-vocabulary", "run", "model.bin"), gpt2)
        else:
            print(f"GPT-2's own vocabulary: not checked (no encoder.json in {args.gpt2}; run scripts/get_data.sh)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("hf_roundtrip: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
