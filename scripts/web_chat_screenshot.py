#!/usr/bin/env python3
"""A screenshot of `prompting serve`'s web chat after a conversation (06_prompting/figures/web_chat.png).

Opens the page of a running server in headless Chromium, sends each message as a user would (typed,
then Enter), waits for each reply to finish streaming, and saves the window as a PNG.

    bin/prompting serve --model runs/sft --tokenizer runs/tokenizer --tools --world runs/world --port 8000 &
    python3 scripts/web_chat_screenshot.py --url http://127.0.0.1:8000 --out web_chat.png \\
        "What is 478 * 56?" "What is Frida's hobby?"
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chromium_devtools import Chromium  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    ap.add_argument("--out", required=True, help="the PNG to write")
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--height", type=int, default=700)
    ap.add_argument("messages", nargs="+", help="what the user says, one turn each")
    args = ap.parse_args()
    with Chromium() as browser:
        page = browser.new_page(args.width, args.height)
        page.navigate(args.url.rstrip("/") + "/")
        page.wait_for("document.getElementById('model').textContent.includes('context')")
        for turn, message in enumerate(args.messages, 1):
            page.click("#input")
            page.type_text(message)
            page.press_enter()
            # A reply has finished when the line under it (its usage, or an error) is written.
            page.wait_for("[...document.querySelectorAll('#log .meta')].filter((m) => m.textContent !== '').length"
                          f" === {turn}", timeout_s=300)
        print(page.screenshot(args.out))


if __name__ == "__main__":
    main()
