"""`bin/prompting serve` as a child process, for the Python tests and the load benchmark.

    with ServeProcess("build/cpu/bin/prompting", ["--model", M, "--tokenizer", TOK]) as server:
        server.base_url     # "http://127.0.0.1:41235/v1": what openai.OpenAI(base_url=...) takes
        server.health()     # GET /health as a dict: live, queued, rows, steps, tokens, sequences

The server is started on a free port (--port 0) and read until it prints
"serving NAME on http://HOST:PORT ..."; its output goes to temporary files, so a chatty server never
blocks on a full pipe, and a server that fails to start is reported with its stderr. Leaving the
`with` (or stop()) ends it: SIGTERM, then SIGKILL if it has not left within 5 s.
"""
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request

SERVING_LINE = re.compile(r"serving (\S+) on (http://([^:/\s]+):(\d+))")


class ServeProcess:
    def __init__(self, prompting: str, args: list, env: dict | None = None, start_timeout_s: float = 60.0):
        self.command = [prompting, "serve", *args, "--port", "0"]
        self._out = tempfile.TemporaryFile(mode="w+")
        self._err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(self.command, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL,
                                     env={**os.environ, **(env or {})})
        try:
            self._wait_listening(start_timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            self._out.seek(0)
            m = SERVING_LINE.search(self._out.read())
            if m:
                self.name, self.url, self.host, self.port = m.group(1), m.group(2), m.group(3), int(m.group(4))
                self.base_url = self.url + "/v1"
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{' '.join(self.command)} exited with status {self.proc.returncode} before "
                                   f"listening:\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(self.command)} printed no 'serving NAME on http://HOST:PORT' line "
                                   f"within {timeout_s:.0f} s:\n{self.stderr()}")
            time.sleep(0.02)

    def stderr(self) -> str:
        self._err.seek(0)
        return self._err.read()

    def health(self) -> dict:
        with urllib.request.urlopen(self.url + "/health", timeout=10) as r:
            return json.load(r)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._err.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
