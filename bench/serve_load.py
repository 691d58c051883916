#!/usr/bin/env python3
"""Load on `bin/prompting serve`: N clients × R chat requests on loopback, against one client alone.

For each --rows value a server is started (or --url names a running one), then
  1. alone: every request once, one after another, from one client — each one's reply (the
     expected one), its latency, and the tokens/s of a server that decodes one sequence at a time;
  2. together: N client threads (the official `openai` client, one each) start at once, each sending
     its R requests one after another (a closed loop), so up to N sequences share the server's rows.
Every request is a chat at temperature 0 with its own question (the world's eval questions) and
max_tokens, so its reply is fixed: the load is correct when every request is answered (HTTP 200)
and every reply equals its reply alone, exactly — nothing lost, nothing mixed up. Reported: p50/p99
latency, aggregate completion tokens/s and its ratio to one client alone, and how full the batch was
(tokens per decoding step, from /health); Markdown on stdout, JSON with every figure in --out.

    python3 bench/serve_load.py --prompting build/release/bin/prompting \\
        --server-args "--model runs/sft --tokenizer runs/tokenizer --tools --world runs/world" \\
        --questions runs/world/eval_test.jsonl --rows 16 32 --out serve_load.json
    python3 bench/serve_load.py --url http://127.0.0.1:8000 --questions runs/world/eval_test.jsonl

The clients run on the same machine as the server and take some of its CPU; the server's OpenMP
threads come from the environment (OMP_NUM_THREADS).
"""
import argparse
import concurrent.futures
import json
import os
import platform
import shlex
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from serve_process import ServeProcess  # noqa: E402

try:
    import openai
except ImportError as e:
    sys.exit(f"serve_load: the `openai` package cannot be imported ({e}); scripts/setup.sh --test installs it")


def read_questions(path: Path, count: int) -> list[str]:
    questions = []
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                questions.append(json.loads(line)["prompt"])
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                sys.exit(f"serve_load: {path}:{line_no}: expected a JSON object with a \"prompt\" ({e})")
    if not questions:
        sys.exit(f"serve_load: {path} holds no question")
    return [questions[i % len(questions)] for i in range(count)]  # distinct while the file lasts


def percentile(xs: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the nearest ranks."""
    s = sorted(xs)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    return s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (k - lo)


class Load:
    def __init__(self, base_url: str, model: str, max_tokens: int):
        self.base_url, self.model, self.max_tokens = base_url, model, max_tokens

    def client(self):
        return openai.OpenAI(base_url=self.base_url, api_key="unused", max_retries=0, timeout=600)

    def ask(self, client, question: str) -> dict:
        """One request: its reply text, completion tokens, latency, or its error."""
        t0 = time.perf_counter()
        try:
            r = client.chat.completions.create(model=self.model, messages=[{"role": "user", "content": question}],
                                               temperature=0, max_tokens=self.max_tokens)
            return {"text": r.choices[0].message.content, "tokens": r.usage.completion_tokens,
                    "prompt_tokens": r.usage.prompt_tokens,
                    "finish": r.choices[0].finish_reason, "latency_s": time.perf_counter() - t0}
        except openai.APIError as e:
            return {"error": f"{type(e).__name__}: {e}", "status": getattr(e, "status_code", None),
                    "latency_s": time.perf_counter() - t0}

    def alone(self, questions: list[str]) -> tuple[list[dict], float]:
        with self.client() as client:
            t0 = time.perf_counter()
            replies = [self.ask(client, q) for q in questions]
            return replies, time.perf_counter() - t0

    def together(self, questions: list[str], clients: int, per_client: int) -> tuple[list[dict], float]:
        """Client c sends questions[c·R .. c·R+R-1] one after another; all clients start at once."""
        replies: list[dict | None] = [None] * len(questions)
        start = threading.Barrier(clients + 1)

        def run_client(c: int):
            with self.client() as client:
                client.models.list()  # connect before the start
                start.wait()
                for i in range(c * per_client, (c + 1) * per_client):
                    replies[i] = self.ask(client, questions[i])

        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(run_client, c) for c in range(clients)]
            start.wait()
            t0 = time.perf_counter()
            for f in futures:
                f.result()
            return replies, time.perf_counter() - t0


def health(url: str) -> dict:
    with urllib.request.urlopen(url + "/health", timeout=30) as r:
        return json.load(r)


def phase_figures(replies: list[dict], wall_s: float, before: dict, after: dict) -> dict:
    """A phase's figures; before/after: /health around it (how full the batch was: tokens per step)."""
    ok = [r for r in replies if "error" not in r]
    lat_ms = [r["latency_s"] * 1000 for r in ok] or [float("nan")]
    tokens = sum(r["tokens"] for r in ok)
    prompt_tokens = sum(r["prompt_tokens"] for r in ok)
    return {"requests": len(replies), "answered": len(ok), "p50_ms": percentile(lat_ms, 50),
            "p99_ms": percentile(lat_ms, 99), "mean_ms": statistics.fmean(lat_ms), "completion_tokens": tokens,
            "prompt_tokens": prompt_tokens, "wall_s": wall_s, "tokens_per_s": tokens / wall_s,
            "tokens_per_step": (after["tokens"] - before["tokens"]) / max(1, after["steps"] - before["steps"])}


def measure(url: str, model: str, rows, args, questions: list[str]) -> tuple[dict, list]:
    """One server's figures, and its replies alone."""
    load = Load(url + "/v1", model, args.max_tokens)
    load.alone(questions[:2])  # warm up (pages, caches)
    h0 = health(url)
    solo, solo_s = load.alone(questions)
    h1 = health(url)
    many, many_s = load.together(questions, args.clients, args.requests)
    h2 = health(url)
    problems = []
    for i, (a, b) in enumerate(zip(solo, many)):
        if "error" in a:
            problems.append(f"request {i} alone: {a['error']}")
        elif "error" in b:
            problems.append(f"request {i} under load: {b['error']}")
        elif b["text"] != a["text"] or b["tokens"] != a["tokens"]:
            problems.append(f"request {i} ({questions[i]!r}): under load {b['text']!r} ({b['tokens']} tokens), "
                            f"alone {a['text']!r} ({a['tokens']} tokens)")
    result = {"rows": rows if rows is not None else h2["rows"], "alone": phase_figures(solo, solo_s, h0, h1),
              "together": phase_figures(many, many_s, h1, h2), "mismatches": len(problems), "problems": problems[:20]}
    result["speedup"] = result["together"]["tokens_per_s"] / result["alone"]["tokens_per_s"]
    return result, [a.get("text") for a in solo]


def markdown(results: list[dict], args, cpu: str) -> str:
    lines = [f"Load: {args.clients} clients × {args.requests} chat requests (temperature 0, max_tokens "
             f"{args.max_tokens}) on loopback; {cpu}; "
             + ("" if args.url else f"servers with OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; ")
             + f"load average {os.getloadavg()[0]:.2f} at the end.",
             f"Prompts: {results[0]['alone']['prompt_tokens'] / max(1, results[0]['alone']['answered']):.0f} tokens on "
             f"average, each prefilled alone as it joins (the completion tokens/s below count the replies only).",
             "",
             "| rows | phase | requests answered | p50 latency (ms) | p99 latency (ms) | completion tokens/s | × alone "
             "| tokens/step | replies ≠ alone |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        a, t = r["alone"], r["together"]
        lines.append(f"| {r['rows']} | 1 client | {a['answered']}/{a['requests']} | {a['p50_ms']:.0f} | {a['p99_ms']:.0f} "
                     f"| {a['tokens_per_s']:.1f} | 1.00 | {a['tokens_per_step']:.2f} | — |")
        lines.append(f"| {r['rows']} | {args.clients} clients | {t['answered']}/{t['requests']} | {t['p50_ms']:.0f} "
                     f"| {t['p99_ms']:.0f} | {t['tokens_per_s']:.1f} | {r['speedup']:.2f} | {t['tokens_per_step']:.2f} "
                     f"| {r['mismatches']} |")
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} CPUs"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--url", help="a running server (http://HOST:PORT); otherwise one is started per --rows")
    p.add_argument("--prompting", default=str(ROOT / "build/release/bin/prompting"), help="the prompting program")
    p.add_argument("--server-args", default="", help="`prompting serve` arguments (--model, --tokenizer, ...)")
    p.add_argument("--rows", type=int, nargs="+", help="the servers' --rows, one server each (default: its own)")
    p.add_argument("--questions", required=True, help="JSONL of {\"prompt\": ...} (a world's eval_test.jsonl)")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--requests", type=int, default=8, help="requests per client")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--out", help="the JSON report")
    args = p.parse_args()
    if args.url and args.rows:
        sys.exit("serve_load: --rows starts servers; a --url server has the rows it was started with")
    if not args.url and not args.server_args:
        sys.exit("serve_load: give --server-args (to start a server) or --url (a running one)")
    if min(args.clients, args.requests, args.max_tokens) < 1:
        sys.exit("serve_load: --clients, --requests and --max-tokens must be >= 1")
    questions = read_questions(Path(args.questions), args.clients * args.requests)

    results, solo_texts = [], []
    if args.url:
        url = args.url.rstrip("/")
        with openai.OpenAI(base_url=url + "/v1", api_key="unused") as c:
            model = c.models.list().data[0].id
        result, texts = measure(url, model, None, args, questions)
        results.append(result)
    for rows in [] if args.url else args.rows or [None]:
        server_args = shlex.split(args.server_args) + (["--rows", str(rows)] if rows else [])
        with ServeProcess(args.prompting, server_args) as server:
            print(f"serve_load: {server.name} on {server.url} ({' '.join(server_args)})", file=sys.stderr)
            result, texts = measure(server.url, server.name, rows, args, questions)
        # The replies alone do not depend on the rows either.
        if solo_texts and texts != solo_texts:
            differ = sum(a != b for a, b in zip(texts, solo_texts))
            result["problems"].append(f"{differ} replies alone differ from those of the first server")
            result["mismatches"] += differ
        solo_texts = solo_texts or texts
        results.append(result)
    report = {"clients": args.clients, "requests_per_client": args.requests, "max_tokens": args.max_tokens,
              "cpu": cpu_name(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
              "load_average": os.getloadavg(), "server_args": args.server_args, "url": args.url, "results": results}
    print(markdown(results, args, report["cpu"]))
    for r in results:
        for problem in r["problems"]:
            print(f"serve_load: rows {r['rows']}: {problem}", file=sys.stderr)
    if args.out:
        tmp = Path(args.out + ".tmp")
        tmp.write_text(json.dumps(report, indent=2) + "\n")
        tmp.replace(args.out)
    bad = sum(r["mismatches"] + r["together"]["requests"] - r["together"]["answered"] for r in results)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
