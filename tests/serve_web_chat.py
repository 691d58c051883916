#!/usr/bin/env python3
"""`prompting serve`'s web chat in a real browser: headless Chromium over the DevTools protocol.

The model is made here in a second with the chapter programs: a byte-level tokenizer, a nano base
(one pretraining step) and 80 SFT steps on one conversation with a tool call, which it learns by
heart — so that, served with --tools, its greedy reply to "What is 478 * 56?" runs the calculator:
"Thought: I will use the calculator.\\n<|tool_call|>calc(478*56)<|tool_end|><|tool_result|>26768…".
Then, in the page at / (every expected reply is the same request's greedy reply through the API):

  1. the header names the served model and its flags; the page's parser (parseReply) on fixed
     strings: a call answered, a call whose result has not arrived, a call still being written; its
     event reader on a stream cut inside events and inside UTF-8 characters;
  2. a message typed and sent with Enter (Shift+Enter is a new line) streams a reply whose text
     spans and tool box are the API reply's, with its usage below it; the user's text stays text;
  3. a follow-up, with max tokens set in the settings, carries the first reply back exactly as
     streamed, tool markers included (read from the request the browser made);
  4. Stop ends a reply and frees Send; a request the server refuses shows the server's message;
     neither turn stays in the conversation; Reset empties the page, and the next request holds
     only the new message;
  5. served with --index, the retrieved chunks shown are the ones the API returns.

A screenshot of the tool reply is kept (--out). Exits 77 (ctest: skipped), saying why, when no
Chromium is installed (scripts/setup.sh --test installs Debian's chromium).

    python3 tests/serve_web_chat.py --bin build/cpu/bin --out build/cpu/Testing
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from chromium_devtools import Chromium, find_chromium  # noqa: E402
from serve_process import ServeProcess  # noqa: E402  (beside this file)

SKIP = 77  # ctest's SKIP_RETURN_CODE for this test
TOOLS_SYSTEM = ("You can use tools. calc(expression) computes + - * on integers. "
                "lookup(name, attribute) returns a person's age, city, job, pet, color or hobby.")
QUESTION = "What is 478 * 56?"
ANSWER = ("Thought: I will use the calculator.\n<|tool_call|>calc(478*56)<|tool_end|>"
          "<|tool_result|>26768<|tool_end|>\nAnswer: 26768")
LIBRARY = "Ada is 30 years old. Ada lives in Lima.\n<|endoftext|>Goran lives in Oslo. Goran owns a dog.\n<|endoftext|>"


def run(bin_dir, program, *args):
    r = subprocess.run([str(bin_dir / program), *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{program} {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}{r.stderr}")


def make_fixture(bin_dir, d):
    """A tokenizer, a model that has learnt the one tool conversation, a world and an index, in d."""
    (d / "text.txt").write_text((f"{TOOLS_SYSTEM} {QUESTION} {ANSWER}\n{LIBRARY}") * 20)
    conversation = {"messages": [{"role": "system", "content": TOOLS_SYSTEM}, {"role": "user", "content": QUESTION},
                                 {"role": "assistant", "content": ANSWER}]}
    (d / "sft.jsonl").write_text(json.dumps(conversation) + "\n")
    (d / "world").mkdir()
    (d / "world" / "people.jsonl").write_text(json.dumps(
        {"name": "Ada", "age": 30, "city": "Lima", "job": "pilot", "pet": "fish", "color": "blue", "hobby": "tennis",
         "split": "val"}) + "\n")
    (d / "library.txt").write_text(LIBRARY)
    run(bin_dir, "tokenizer", "train", "--input", d / "text.txt", "--vocab-size", 300, "--out", d / "tok")
    run(bin_dir, "tokenizer", "shard", "--tokenizer", d / "tok", "--input", d / "text.txt", "--out", d / "shards")
    run(bin_dir, "pretrain", "train", "--data", d / "shards", "--tokenizer", d / "tok", "--preset", "nano",
        "--max-seq-len", 256, "-T", 32, "-B", 4, "--steps", 1, "--out", d / "base")
    run(bin_dir, "sft", "train", "--model", d / "base" / "model.bin", "--tokenizer", d / "tok", "--data",
        d / "sft.jsonl", "--val-data", d / "sft.jsonl", "--steps", 80, "--warmup", 5, "--lr", 1e-2, "--min-lr", 1e-3,
        "-B", 1, "--eval-every", 0, "--samples", 0, "--out", d / "sft")
    run(bin_dir, "prompting", "index", "build", "--docs", d / "library.txt", "--tokenizer", d / "tok", "--out",
        d / "index", "--max-tokens", 16, "--overlap", 4)


def served(bin_dir, d, *extra):
    """`prompting serve --port 0` on the fixture (tests/serve_process.py); always stopped."""
    return ServeProcess(str(bin_dir / "prompting"),
                        ["--model", str(d / "sft" / "model.bin"), "--tokenizer", str(d / "tok"), *map(str, extra)])


def api(url, body):
    """The reply to a chat request, whole (or the error body of a refused one, with its status)."""
    req = urllib.request.Request(url + "/v1/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def segments(text):
    """Our own reading of a reply's text, as the page should draw it: ["text", …] or ["tool", call, result]."""
    out = []
    for part in re.split(r"(<\|tool_call\|>.*?<\|tool_end\|><\|tool_result\|>.*?<\|tool_end\|>)", text, flags=re.S):
        m = re.fullmatch(r"<\|tool_call\|>(.*?)<\|tool_end\|><\|tool_result\|>(.*?)<\|tool_end\|>", part, flags=re.S)
        if m:
            out.append(["tool", m.group(1), m.group(2)])
        elif part:
            out.append(["text", part])
    return out


# The page's DOM, read back: the last reply's segments and stats, the requests the page made.
LAST = "[...document.querySelectorAll('#log .assistant')].at(-1)"
SHOWN = (f"[...{LAST}.querySelector('.reply').children].map((e) => e.classList.contains('tool')"
         " ? ['tool', e.querySelector('.call').textContent, e.querySelector('.result').textContent]"
         " : ['text', e.textContent])")
REPLIES_DONE = "[...document.querySelectorAll('#log .meta')].filter((m) => m.textContent !== '').length"


def chat_requests(page):
    """The bodies of the chat requests the browser has sent so far."""
    return [json.loads(e["request"]["postData"]) for e in page.events("Network.requestWillBeSent")
            if e["request"]["url"].endswith("/v1/chat/completions") and e["request"]["method"] == "POST"]


def send_message(page, text, replies_before):
    """Types text into the message box, presses Enter and waits for the reply's stats line."""
    page.click("#input")
    page.type_text(text)
    page.press_enter()
    page.wait_for(f"{REPLIES_DONE} === {replies_before + 1}")


class Check:
    def __init__(self):
        self.failures = 0

    def __call__(self, ok, what, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {what}" + ("" if ok else f"\n     {detail}"))
        self.failures += not ok


def test_tools_conversation(page, url, check, screenshot):
    page.navigate(url + "/")
    header = page.wait_for("document.getElementById('model').textContent.startsWith('sft')"
                           " && document.getElementById('model').textContent")
    check(header == "sft · context 256 tokens · tools on · retrieval off", "the header names the model", header)

    # 1. The parser alone, on the states a streamed reply goes through.
    cases = {
        "plain text": ["plain text", [{"text": "plain text"}]],
        "answered": [ANSWER, [{"text": "Thought: I will use the calculator.\n"}, {"call": "calc(478*56)", "result": "26768"},
                              {"text": "\nAnswer: 26768"}]],
        "result not yet arrived": ["a<|tool_call|>calc(1+2)<|tool_end|>", [{"text": "a"}, {"call": "calc(1+2)", "result": None}]],
        "result arriving": ["<|tool_call|>calc(1+2)<|tool_end|><|tool_result|>3", [{"call": "calc(1+2)", "result": None}]],
        "call being written": ["x<|tool_call|>calc(47", [{"text": "x"}, {"call": "calc(47", "result": None}]],
        "two calls": ["<|tool_call|>a<|tool_end|><|tool_result|>1<|tool_end|><|tool_call|>b<|tool_end|><|tool_result|>2<|tool_end|>",
                      [{"call": "a", "result": "1"}, {"call": "b", "result": "2"}]],
    }
    for name, (text, expected) in cases.items():
        got = page.evaluate(f"parseReply({json.dumps(text)})")
        check(got == expected, f"parseReply: {name}", f"{got} != {expected}")
    # The event reader, on a stream that arrives one byte at a time: every event boundary and every
    # UTF-8 character (2 and 4 bytes here) is cut somewhere.
    got = page.evaluate("""(async () => {
        const bytes = new TextEncoder().encode('data: {"a":"é😀"}\\n\\ndata: {"b":1}\\n\\ndata: [DONE]\\n\\ndata: {"c":2}\\n\\n');
        const body = new ReadableStream({ start(c) { for (const b of bytes) c.enqueue(new Uint8Array([b])); c.close(); } });
        const events = [];
        await readEvents(new Response(body), (e) => events.push(e));
        return events; })()""")
    check(got == [{"a": "é😀"}, {"b": 1}], "readEvents: split bytes, events up to [DONE]", got)

    # 2. A message sent with Enter; Shift+Enter only starts a new line.
    page.click("#input")
    page.type_text("draft")
    page.press_enter(shift=True)
    check(page.evaluate("document.getElementById('input').value") == "draft\n" and not chat_requests(page),
          "Shift+Enter adds a new line and sends nothing", page.evaluate("document.getElementById('input').value"))
    page.evaluate("document.getElementById('input').value = ''")
    send_message(page, QUESTION, 0)
    status, whole = api(url, {"model": "sft", "messages": [{"role": "user", "content": QUESTION}], "temperature": 0})
    expected_text = whole["choices"][0]["message"]["content"]
    shown = page.evaluate(SHOWN)
    check(any(s[0] == "tool" for s in segments(expected_text)), "the fixture's greedy reply calls a tool", expected_text)
    check(shown == segments(expected_text), "the streamed reply is the API's, with its tool box",
          f"shown {shown}\n     API   {segments(expected_text)}")
    box = page.evaluate(f"{LAST}.querySelector('.tool').textContent")
    check(box == "calc(478*56) → 26768", "the tool box reads 'calc(478*56) → 26768'", box)
    meta = page.evaluate(f"{LAST}.querySelector('.meta').textContent")
    usage = whole["usage"]
    check(meta.startswith(f"{usage['completion_tokens']} tokens · prompt {usage['prompt_tokens']} · first token ")
          and "tokens/s" in meta and meta.endswith(" · stop"), "the usage, speed and finish reason under the reply", meta)
    user = page.evaluate("document.querySelector('#log .user').textContent")
    check(user == QUESTION, "the user's message is shown", user)
    print(f"screenshot: {page.screenshot(screenshot)}")

    # 3. A follow-up with max tokens set: the first reply goes back exactly as streamed.
    page.evaluate("document.getElementById('settings').open = true")
    page.click("#max-tokens")
    page.type_text("12")
    follow_up = "<b>And</b> 2 & 3?"
    send_message(page, follow_up, 1)
    sent = chat_requests(page)[-1]
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": expected_text},
               {"role": "user", "content": follow_up}]
    check(sent["messages"] == history and sent["max_tokens"] == 12 and sent["temperature"] == 0 and sent["stream"],
          "the follow-up carries the whole conversation, markers included, and max_tokens", json.dumps(sent))
    _, whole2 = api(url, {"model": "sft", "messages": history, "temperature": 0, "max_tokens": 12})
    shown = page.evaluate(SHOWN)
    check(shown == segments(whole2["choices"][0]["message"]["content"]), "the follow-up's reply is the API's",
          f"{shown} != {whole2['choices'][0]['message']['content']!r}")
    check(page.evaluate(f"{LAST}.querySelector('.meta').textContent").endswith(" · length"),
          "a reply cut by max tokens says 'length'", page.evaluate(f"{LAST}.querySelector('.meta').textContent"))
    user = page.evaluate("[...document.querySelectorAll('#log .user')].at(-1).innerHTML")
    check(user == "&lt;b&gt;And&lt;/b&gt; 2 &amp; 3?", "markup the user types stays text", user)

    # 4. Stop, pressed as soon as the request leaves, and a request the server refuses: neither turn
    #    stays in the conversation. Then Reset.
    reply2 = whole2["choices"][0]["message"]["content"]
    page.evaluate("document.getElementById('input').value = 'stop me';"
                  "document.getElementById('send').click(); document.getElementById('stop').click()")
    page.wait_for(f"{REPLIES_DONE} === 3")
    meta = page.evaluate(f"{LAST}.querySelector('.meta').textContent")
    check(meta == "stopped" and page.evaluate("!document.getElementById('send').disabled"),
          "Stop ends the reply and frees Send", meta)
    page.evaluate("document.getElementById('max-tokens').value = '100000'")
    send_message(page, "too long", 3)
    sent = chat_requests(page)[-1]
    check([m["content"] for m in sent["messages"]] == [QUESTION, expected_text, follow_up, reply2, "too long"],
          "a reply stopped before its first token leaves the conversation", json.dumps(sent))
    status, refusal = api(url, {"model": "sft", "messages": sent["messages"], "temperature": 0, "max_tokens": 100000})
    shown = page.evaluate(f"{LAST}.querySelector('.meta').textContent")
    check(status == 400 and shown == "error: " + refusal["error"]["message"], "a refused request shows the server's message",
          f"{shown!r} vs HTTP {status} {refusal}")
    page.evaluate("document.getElementById('max-tokens').value = ''")
    send_message(page, "again", 4)
    sent = chat_requests(page)[-1]
    check([m["content"] for m in sent["messages"]] == [QUESTION, expected_text, follow_up, reply2, "again"],
          "a refused turn leaves the conversation", json.dumps(sent))
    page.click("#reset")
    check(page.evaluate("document.getElementById('log').children.length") == 0, "Reset empties the page")
    send_message(page, QUESTION, 0)
    sent = chat_requests(page)[-1]
    check(sent["messages"] == [{"role": "user", "content": QUESTION}] and "max_tokens" not in sent,
          "after Reset the request holds only the new message", json.dumps(sent))
    check(page.evaluate(SHOWN) == segments(expected_text), "after Reset the reply is the first one again")


def test_retrieval(page, url, check):
    page.navigate(url + "/")
    page.wait_for("document.getElementById('model').textContent.includes('retrieval on')")
    page.evaluate("document.getElementById('max-tokens').value = '8'")
    question = "How old is Ada?"
    send_message(page, question, 0)
    _, whole = api(url, {"model": "sft", "messages": [{"role": "user", "content": question}], "temperature": 0,
                         "max_tokens": 8})
    expected = [[f"{r['source']} #{r['document']}", f" score {r['score']:.3f}", r["text"]] for r in whole["retrieved"]]
    shown = page.evaluate(f"[...{LAST}.querySelectorAll('.retrieved li')].map((li) => [...li.childNodes].map((n) => n.textContent))")
    check(len(expected) == 1 and "Ada" in expected[0][2] and shown == expected,
          "the retrieved chunks shown are the API's", f"{shown} != {expected}")
    summary = page.evaluate(f"{LAST}.querySelector('.retrieved summary').textContent")
    check(summary == "retrieved 1 chunk", "the chunks are counted", summary)
    check(page.evaluate(SHOWN) == segments(whole["choices"][0]["message"]["content"]), "the reply after retrieval is the API's")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", type=Path, required=True, help="the build's bin folder (prompting, sft, …)")
    ap.add_argument("--out", type=Path, required=True, help="where the screenshot goes (web_chat.png)")
    args = ap.parse_args()
    if not find_chromium():
        print("SKIP: no Chromium on PATH (chromium, chromium-browser, google-chrome; or set CHROMIUM): "
              "scripts/setup.sh --test installs Debian's chromium")
        return SKIP
    for program in ("tokenizer", "pretrain", "sft", "prompting"):
        if not (args.bin / program).exists():
            print(f"SKIP: {args.bin / program} is not built")
            return SKIP
    os.environ["OMP_NUM_THREADS"] = "1"  # a nano model is fastest on one thread
    args.out.mkdir(parents=True, exist_ok=True)
    check = Check()
    d = Path(tempfile.mkdtemp(prefix="sog_web_chat_"))
    t0 = time.monotonic()
    try:
        make_fixture(args.bin, d)
        print(f"fixture: {time.monotonic() - t0:.1f} s")
        # The browser closes before the servers stop: a server waits for its open keep-alive
        # connections (up to 5 s) before it exits.
        with served(args.bin, d, "--tools", "--world", d / "world") as tools, \
             served(args.bin, d, "--index", d / "index") as index, Chromium() as browser:
            print(f"{browser.version['product']} answering after {time.monotonic() - t0:.1f} s", flush=True)
            page = browser.new_page(1000, 700)
            test_tools_conversation(page, tools.url, check, args.out / "web_chat.png")
            test_retrieval(page, index.url, check)
            errors = page.events("Runtime.exceptionThrown")
            check(not errors, "no uncaught exception in the page", json.dumps(errors)[:2000])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(f"{'FAILED' if check.failures else 'passed'} in {time.monotonic() - t0:.1f} s")
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
