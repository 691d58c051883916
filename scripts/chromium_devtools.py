"""Headless Chromium driven over the DevTools protocol, with Python's standard library alone.

Started with --remote-debugging-pipe, Chromium reads protocol commands on its file descriptor 3 and
writes replies and events on descriptor 4, each message a JSON object ended by a NUL byte: no
WebSocket client, no WebDriver program, no package beyond the browser itself.

    {"id": 7, "method": "Runtime.evaluate", "params": {...}, "sessionId": "…"}\\0   → Chromium
    {"id": 7, "result": {...}}\\0                                                    ← Chromium
    {"method": "Network.requestWillBeSent", "params": {...}, "sessionId": "…"}\\0    ← (an event)

    with Chromium() as browser:
        page = browser.new_page(1000, 700)
        page.navigate("http://127.0.0.1:8000/")
        page.click("#send"); page.type_text("hello"); page.press_enter()
        page.wait_for("document.querySelector('.meta').textContent !== ''")
        page.screenshot("chat.png")

find_chromium() names the browser ($CHROMIUM, else chromium, chromium-browser, google-chrome on
PATH), or None.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time


def find_chromium():
    for name in [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"]:
        path = shutil.which(name) if name else None
        if path:
            return path
    return None


class Chromium:
    """One headless browser process; `events` gathers every event read so far, in order."""

    def __init__(self, executable=None, timeout_s=20.0, start_timeout_s=60.0, start_tries=2):
        """Starts the browser and waits until it answers: a cold start on a busy machine can take tens of
        seconds, so the first answer gets start_timeout_s, and a browser that never answers is killed
        and started again, start_tries tries in all, before giving up with the end of its log."""
        self.executable = executable or find_chromium()
        if not self.executable:
            raise FileNotFoundError("no Chromium found (set CHROMIUM, or install Debian's chromium)")
        self.timeout_s = timeout_s
        for attempt in range(1, start_tries + 1):
            self._launch()
            try:
                self.version = self.call("Browser.getVersion", timeout_s=start_timeout_s)
                return
            except (TimeoutError, RuntimeError) as e:  # their messages end with the tail of its log
                self.process.kill()
                self.process.wait()
                self.close()
                if attempt == start_tries:
                    raise RuntimeError(f"Chromium did not start, {start_tries} tries: {e}") from None
                print(f"Chromium did not start, starting it again: {e}", flush=True)

    def _launch(self):
        self.events = []
        self._next_id = 0
        self._buffer = b""
        self._profile = tempfile.mkdtemp(prefix="sog_chromium_")
        self.log_path = os.path.join(self._profile, "chromium.log")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()

        def give_pipes():  # in the child, before exec: our pipe ends become its fds 3 and 4
            read_end, write_end = os.dup(to_browser_r), os.dup(from_browser_w)  # above 4, so dup2 cannot clobber them
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        flags = ["--headless", "--remote-debugging-pipe", f"--user-data-dir={self._profile}",
                 # root (and most containers) cannot run the sandbox; the browser only loads our own pages
                 "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 # no traffic of its own: updates, sync, metrics, first-run pages
                 "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio",
                 "--hide-scrollbars", "about:blank"]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([self.executable, *flags], stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log, preexec_fn=give_pipes, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._to_browser = to_browser_w
        self._from_browser = from_browser_r

    def log_tail(self, lines=30):
        """The last lines the browser wrote to its stdout and stderr."""
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError as e:
            return f"(cannot read {self.log_path}: {e})"

    # ---- the protocol
    def call(self, method, params=None, session=None, timeout_s=None):
        """Sends one command and returns its result; an error reply raises RuntimeError."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            reply = self._read(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')} ({reply['error']})")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def _read(self, deadline, waiting_for):
        """The next message from the browser (a reply or an event)."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0))
            if not ready:
                raise TimeoutError(f"Chromium did not answer {waiting_for} in time; the end of its log:\n{self.log_tail(10)}")
            data = os.read(self._from_browser, 1 << 16)
            if not data:
                raise RuntimeError(f"Chromium closed the pipe (exit code {self.process.poll()}); the end of its log:\n{self.log_tail(10)}")
            self._buffer += data
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def new_page(self, width=1000, height=700):
        """A new tab of width × height CSS pixels, attached, with its Runtime, Page and Network events on."""
        # the first tab starts a renderer process, slow on a busy machine, so it gets the start-up time
        target = self.call("Target.createTarget", {"url": "about:blank"}, timeout_s=max(self.timeout_s, 60))["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        for domain in ("Runtime", "Page", "Network"):
            page.call(f"{domain}.enable")
        return page

    # ---- lifetime
    def close(self):
        if self.process.poll() is None:
            try:
                self.call("Browser.close", timeout_s=5)
            except (OSError, RuntimeError, TimeoutError):
                pass  # it is killed below
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    """One tab: its commands go through the browser with the tab's session id."""

    def __init__(self, browser, session):
        self.browser = browser
        self.session = session

    def call(self, method, params=None, timeout_s=None):
        return self.browser.call(method, params, self.session, timeout_s)

    def events(self, method):
        """The params of this tab's events named `method`, read so far."""
        return [e["params"] for e in self.browser.events if e["method"] == method and e.get("sessionId") == self.session]

    def evaluate(self, expression):
        """The value of a JavaScript expression (a promise is awaited); a thrown error raises RuntimeError."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise RuntimeError(f"{expression!r} threw: {d.get('exception', {}).get('description', d.get('text'))}")
        return r["result"].get("value")

    def wait_for(self, expression, timeout_s=None, poll_s=0.05):
        """Evaluates `expression` until it is truthy and returns its value; TimeoutError past the limit."""
        deadline = time.monotonic() + (timeout_s or self.browser.timeout_s)
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout_s or self.browser.timeout_s} s: {expression}")
            time.sleep(poll_s)

    def navigate(self, url):
        """Loads url and waits until its document (scripts included) has loaded."""
        r = self.call("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise RuntimeError(f"cannot load {url}: {r['errorText']}")
        self.wait_for("document.readyState === 'complete'")

    # ---- input, as a user gives it: real mouse and keyboard events
    def click(self, selector):
        """A left click in the middle of the first element matching selector."""
        box = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                            f" if (!e) return null; const r = e.getBoundingClientRect();"
                            f" return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
        if box is None:
            raise RuntimeError(f"no element matches {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def type_text(self, text):
        """Types text into the focused element."""
        self.call("Input.insertText", {"text": text})

    def press_enter(self, shift=False):
        """The Enter key, down and up (with Shift held when shift)."""
        key = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "modifiers": 8 if shift else 0}
        self.call("Input.dispatchKeyEvent", {"type": "keyDown", "text": "\r", **key})
        self.call("Input.dispatchKeyEvent", {"type": "keyUp", **key})

    def screenshot(self, path):
        """The visible page as a PNG file (written to a temporary name, then renamed)."""
        png = base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            f.write(png)
        os.replace(tmp, path)
        return path
