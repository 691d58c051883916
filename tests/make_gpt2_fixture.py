#!/usr/bin/env python3
"""Writes the tokenizer test fixtures from the reference implementations.

  tests/fixtures/gpt2_parity.json        GPT-2 ids from tiktoken for each test string: plain encode
                                         (encode_ordinary), encode with allowed_special="all", and
                                         GPT-2's ranks under the cl100k split pattern; plus Python's
                                         bytes.decode("utf-8", errors="replace") on ill-formed bytes.
  tests/fixtures/pretokenize_cases.json  the chunks of each string under the GPT-2 and the cl100k
                                         patterns, from the `regex` module (findall), plus 400 random
                                         strings over the characters the patterns treat specially.

No download: the tiktoken Encoding is built from the local GPT-2 files (data/gpt2 or
../shared/data/gpt2) exactly as tiktoken's data_gym_to_mergeable_bpe_ranks builds it.

    pip install tiktoken regex
    python3 tests/make_gpt2_fixture.py            # from the repository root
"""
import argparse
import json
import random
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT4_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|"""
                r"""\s*[\r\n]|\s+(?!\S)|\s+""")


def gpt2_mergeable_ranks(encoder_json: Path, vocab_bpe: Path) -> dict:
    """tiktoken.load.data_gym_to_mergeable_bpe_ranks, on local files."""
    rank_to_intbyte = [b for b in range(2**8) if chr(b).isprintable() and chr(b) != " "]
    data_gym_byte_to_byte = {chr(b): b for b in rank_to_intbyte}
    n = 0
    for b in range(2**8):
        if b not in rank_to_intbyte:
            rank_to_intbyte.append(b)
            data_gym_byte_to_byte[chr(2**8 + n)] = b
            n += 1
    assert len(rank_to_intbyte) == 2**8
    bpe_merges = [tuple(line.split()) for line in vocab_bpe.read_text(encoding="utf-8").split("\n")[1:-1]]

    def decode_data_gym(value: str) -> bytes:
        return bytes(data_gym_byte_to_byte[b] for b in value)

    ranks = {bytes([b]): i for i, b in enumerate(rank_to_intbyte)}
    n = len(ranks)
    for first, second in bpe_merges:
        ranks[decode_data_gym(first) + decode_data_gym(second)] = n
        n += 1
    encoder = {decode_data_gym(k): v for k, v in json.loads(encoder_json.read_text(encoding="utf-8")).items()}
    encoder.pop(b"<|endoftext|>", None)
    encoder.pop(b"<|startoftext|>", None)
    assert ranks == encoder, "encoder.json and vocab.bpe disagree"
    return ranks


def test_strings() -> list:
    rng = random.Random(20240520)
    long_letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(1500))
    long_mixed = "".join(rng.choice("ab ") for _ in range(2000))
    return [
        # ordinary English
        "",
        "Hello world",
        "Hello, world! How are you doing today?",
        "The quick brown fox jumps over the lazy dog. The dog sleeps.",
        "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n",
        # contractions and their case rules
        "I'm sure he's here, they're late, we've gone, you'll see, I'd go, don't.",
        "I'M SURE HE'S HERE, THEY'RE LATE, WE'VE GONE, YOU'LL SEE, I'D GO, DON'T.",
        "It'S a Test'Ll 'Re 'vE 'LL 'mM 'Dd",
        "'s 'sam ''s x'''s rock'n'roll ' end'",
        "don'\u017f it'\u017f 'K 'k",
        "Mr. O'Neil's dog's bone's owner'll've",
        # runs of spaces, trailing whitespace
        "a   b",
        "a  b  c   d    e",
        "   leading spaces",
        "trailing spaces   ",
        " ",
        "  ",
        "   \n   ",
        "\t\t\t",
        "x  \n\n  y",
        # newlines and CRLF
        "line one\nline two\n\nline four\n",
        "a\r\nb\r\n\r\nc\r\n",
        "\n\n\nthree newlines",
        "x \n \n y",
        "end.\n\nnext.\r\n.\n",
        # code with tabs and indentation
        "def f(x):\n    return x * 2  # double\n\n\nclass A:\n    pass\n",
        "int main(void) {\n\tif (a) {\n\t\tb();\n\t}\n\treturn 0;\n}\n",
        "foo.bar(baz)[0]->qux; x+=1; y == z != w && v || !u",
        "https://example.com/path?q=1&r=2#frag $hello @world #tag",
        "\"quoted\" 'single' `back` (paren) [bracket] {brace} <angle>",
        "...!!!??? --- *** ___ ~~~",
        # digits
        "1234567890 12 123 1234 12345 3.14159 1,000,000 x2y 2024-05-01",
        "0000000000000000000000000000000000000000000000001",
        "\u0663\u0664\u0665 \u00bd \u2154 \u216b \u00b2\u00b3 digits",
        # emoji and ZWJ sequences
        "I \u2764\ufe0f \U0001F355! \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 family \U0001F1EB\U0001F1F7 flag",
        "\U0001F44D\U0001F3FD\U0001F44D ok\U0001F600",
        # CJK and other scripts
        "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u3002",
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3001\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3002",
        "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
        "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u0438 \u0440\u0443\u0441\u0441\u043a\u0438\u0439, \u05e2\u05d1\u05e8\u05d9\u05ea, \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
        "\u5b78\u800c\u6642\u7fd2\u4e4b\u4e0d\u4ea6\u8aaa\u4e4e\u6709\u670b\u81ea\u9060\u65b9\u4f86\u4e0d\u4ea6\u6a02\u4e4e\u4eba\u4e0d\u77e5\u800c\u4e0d\u614d\u4e0d\u4ea6\u541b\u5b50\u4e4e",
        # combining marks, other letter categories
        "e\u0301te\u0301 cafe\u0301 na\u00efve a\u0308\u0308b",
        "\u01c5 \u01c8 \u02b0 \u02e2 title and modifier letters",
        # Unicode whitespace
        "a\u00a0b nbsp\u00a0\u00a0word \u00a0x",
        "a\u3000b\u3000\u3000c",
        "x\u2028y\u2029z \u2003em \u2009thin",
        "a\u0085b \u202fc\u205fd\u1680e",
        "\x0b\x0c vt ff \x0b\x0cx",
        "\x1c\x1d\x1e\x1f separators \x1cx",
        "\x00\x01\x7f controls\x07",
        # special tokens inside text
        "Hello<|endoftext|>World",
        "<|endoftext|>",
        "a <|endoftext|> b<|endoftext|><|endoftext|>\n<|endoftext|>c",
        "<|endoftext|x <|endoftext| <|user|>hi<|end|>",
        # long chunks (the heap merge path)
        long_letters,
        " " + long_letters[:200] + " " + long_letters[200:330] + "\n" + long_letters[330:460],
        " " * 300 + "x" + " " * 300,
        "a" * 1000,
        long_mixed,
    ]


def random_strings(n: int) -> list:
    """Random short strings over the characters the two patterns treat specially (pre-tokenizer only)."""
    rng = random.Random(1)
    alphabet = list("aZs'tdmlvreLLSVRE 1234567890\n\r\t.,!?-()\"") + [
        "\u00a0", "\u3000", "\u2028", "\u0085", "\x0b", "\x0c", "\x1c", "\u00e9", "e\u0301", "\u4e2d", "\u6587",
        "\U0001F600", "\u200d", "\ufe0f", "\u017f", "\u212a", "\u0663", "\u00bd", "\u216b", "\u01c5", "\u02b0",
        " ", "  ", "\n\n", "\r\n", "'s", "'S", "'ll", "'LL", "'Ve", "\u1680", "\u205f", "\u202f", "\u2009"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(n)]


def utf8_replace_cases() -> list:
    cases = [b"a\xe2\x82", b"\xf0\x80\x80", b"\xed\xa0\x80", b"\xc0\xaf", b"\xe2\x82\xac\xe2", b"\xff\xfe abc",
             b"\xf4\x90\x80\x80", b"\xf0\x9f\x98", b"\xf0\x9f\x98\x80", b"\xe0\x80\xaf", b"\xc3\x28", b"\x80\x80\x80",
             b"ok \xe6\x97\xa5\xe6\x9c", b"\xf1\x80\x80\xc3\xa9"]
    return [{"bytes_hex": c.hex(), "text": c.decode("utf-8", errors="replace")} for c in cases]


def write_fixture(path: Path, fields: dict, list_name: str, items: list):
    """JSON with one item of the list per line, so diffs of the fixture stay readable."""
    head = ",\n".join(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items())
    body = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in items)
    path.write_text("{\n" + head + f",\n {json.dumps(list_name)}: [\n" + body + "\n ]\n}\n", encoding="utf-8")


def main():
    import regex  # the reference regex engine (pip install regex)
    import tiktoken

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpt2-dir", type=Path, default=None, help="folder with encoder.json and vocab.bpe")
    args = parser.parse_args()
    gpt2_dir = args.gpt2_dir
    if gpt2_dir is None:
        gpt2_dir = next(d for d in (ROOT / "data" / "gpt2", ROOT.parent / "shared" / "data" / "gpt2") if d.exists())
    ranks = gpt2_mergeable_ranks(gpt2_dir / "encoder.json", gpt2_dir / "vocab.bpe")
    gpt2 = tiktoken.Encoding("gpt2_local", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": 50256})
    gpt2_gpt4_pattern = tiktoken.Encoding("gpt2_ranks_cl100k_pattern", pat_str=GPT4_PATTERN, mergeable_ranks=ranks,
                                          special_tokens={"<|endoftext|>": 50256})
    strings = test_strings()
    parity, chunks = [], []
    for text in strings:
        ids = gpt2.encode_ordinary(text)
        assert gpt2.decode(ids) == text
        parity.append({"text": text, "ids": ids, "ids_all_special": gpt2.encode(text, allowed_special="all"),
                       "ids_gpt4_pattern": gpt2_gpt4_pattern.encode_ordinary(text)})
        gpt2_chunks = regex.findall(GPT2_PATTERN, text)
        gpt4_chunks = regex.findall(GPT4_PATTERN, text)
        assert "".join(gpt2_chunks) == text and "".join(gpt4_chunks) == text
        # The regex module and tiktoken's engine must agree: chunk-wise BPE gives tiktoken's ids.
        for enc, cs in ((gpt2, gpt2_chunks), (gpt2_gpt4_pattern, gpt4_chunks)):
            chunkwise = [i for c in cs for i in enc._encode_single_piece(c.encode("utf-8"))]
            assert chunkwise == enc.encode_ordinary(text), f"regex and tiktoken split {text!r} differently ({enc.name})"
        chunks.append({"text": text, "gpt2": gpt2_chunks, "gpt4": gpt4_chunks})
    for text in random_strings(400):
        chunks.append({"text": text, "gpt2": regex.findall(GPT2_PATTERN, text), "gpt4": regex.findall(GPT4_PATTERN, text)})
    out = ROOT / "tests" / "fixtures"
    out.mkdir(parents=True, exist_ok=True)
    header = "generated by tests/make_gpt2_fixture.py with tiktoken " + tiktoken.__version__
    write_fixture(out / "gpt2_parity.json", {"generator": header, "utf8_replace_cases": utf8_replace_cases()},
                  "cases", parity)
    write_fixture(out / "pretokenize_cases.json",
                  {"generator": header + " and regex " + regex.__version__,
                   "patterns": {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}}, "cases", chunks)
    print(f"wrote {len(parity)} cases to {out / 'gpt2_parity.json'} and {out / 'pretokenize_cases.json'}")


if __name__ == "__main__":
    main()
