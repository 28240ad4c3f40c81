"""The real programs the SIP end-to-end tests drive: ``amparo sip`` itself, SIPp and baresip.

Everything binds 127.0.0.1 on free ports and is stopped by the test that started it.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.live_state import key
from store.records import CallEvent as StoredEvent

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = Path(__file__).with_name("scenarios")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
            with socket.socket(socket.AF_INET, other) as second:
                try:
                    second.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def free_sip_port() -> int:
    """A port free for SIP over UDP and TCP whose next port is free too: baresip 1.0 also
    listens for SIP over TLS on the port after its SIP port."""
    for _ in range(100):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tls:
            try:
                tls.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free SIP port")


def free_port_pair() -> int:
    """An even port with the next one free too (RTP and RTCP)."""
    for _ in range(100):
        port = free_port() & ~1
        try:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b,
            ):
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair")


def sip_environment(
    data_dir: Path, database_url: str, redis_url: str, data_key: bytes
) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AMPARO_") or name.startswith("AMPARO_TEST_")
    }
    env.update(
        AMPARO_DATA_DIR=str(data_dir),
        AMPARO_DATABASE_URL=database_url,
        AMPARO_REDIS_URL=redis_url,
        AMPARO_DATA_KEY=base64.urlsafe_b64encode(data_key).decode(),
        AMPARO_SECRET_KEY="s" * 40,
        AMPARO_LOG_LEVEL="INFO",
        AMPARO_SIP_DRAIN_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class SipProcess:
    """One ``amparo sip`` child process."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    extra: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=lambda: ["-m", "cli", "sip"])
    process: subprocess.Popen[bytes] | None = None

    @property
    def process_id(self) -> str:
        return f"test-{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, redis_url: str, timeout: float = 90.0) -> SipProcess:
        env = dict(self.env)
        env.update(
            AMPARO_SIP_LISTEN=self.address, AMPARO_SIP_PROCESS_ID=self.process_id, **self.extra
        )
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, *self.command],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"amparo sip exited: {self.log()[-3000:]}")
                if client.exists(key("sip", "process", self.process_id)):
                    return self
                time.sleep(0.2)
        finally:
            client.close()
        self.kill()
        raise RuntimeError(f"amparo sip did not start: {self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def cpu_and_rss(self) -> tuple[float, int]:
        """CPU seconds used so far and resident memory in kB (from /proc)."""
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(stat[11]) + int(stat[12])) / ticks
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+)", status)
        return cpu, int(match.group(1)) if match else 0


@dataclass
class SippResult:
    returncode: int
    created: int
    succeeded: int
    failed: int
    output: str


def _counter(output: str, name: str) -> int:
    found = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(found[-1]) if found else 0


def sipp_available() -> str | None:
    return shutil.which("sipp")


def run_sipp(
    scenario: str,
    target: str,
    service: str,
    workdir: Path,
    *,
    calls: int = 1,
    concurrent: int = 1,
    rate: float = 10.0,
    timeout_s: float = 120.0,
    extra: list[str] | None = None,
    background: bool = False,
) -> SippResult | subprocess.Popen[bytes]:
    """Run SIPp as a caller with ``scenario`` against ``target`` (host:port)."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        "sipp",
        target,
        "-sf",
        str(SCENARIOS / f"{scenario}.xml"),
        "-s",
        service,
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(free_port_pair()),
        "-m",
        str(calls),
        "-l",
        str(concurrent),
        "-r",
        str(rate),
        "-nostdin",
        "-trace_err",
        "-timeout",
        f"{int(timeout_s)}s",
        "-timeout_error",
        "-max_socket",
        "4096",
        *(extra or []),
    ]
    if background:
        return subprocess.Popen(
            command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    done = subprocess.run(
        command,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout_s + 30,
        check=False,
    )
    return parse_sipp(done.returncode, done.stdout + done.stderr)


@dataclass
class SippPhone:
    """SIPp as one phone behind the trunk (a UAS taking a single call with its scenario)."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def trunk(self) -> str:
        """For ``AMPARO_SIP_TRUNK`` (or an agent's SIP address)."""
        return f"127.0.0.1:{self.port}"

    def result(self, timeout: float) -> SippResult:
        out, _ = self.process.communicate(timeout=timeout)
        return parse_sipp(self.process.returncode, out.decode(errors="replace"))


@contextlib.contextmanager
def sipp_phone(
    scenario: str, workdir: Path, timeout_s: float = 120.0, calls: int = 1
) -> Iterator[SippPhone]:
    """Start a SIPp phone with ``scenario`` for ``calls`` calls; it is killed on the way out if
    still running."""
    port = free_port()
    command = [
        "sipp",
        "-sf",
        str(SCENARIOS / f"{scenario}.xml"),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(free_port_pair()),
        "-m",
        str(calls),
        "-nostdin",
        "-trace_err",
        "-timeout",
        f"{int(timeout_s)}s",
        "-timeout_error",
    ]
    process = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        yield SippPhone(process, port)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def events_of(
    sessions: sessionmaker[Session], call_id: str, until: str | None = None, timeout_s: float = 10
) -> list[StoredEvent]:
    """A call's stored events in order; with ``until``, waits (up to ``timeout_s``) for an
    event of that kind, since the SIP process's workers write them a moment later."""
    deadline = time.monotonic() + timeout_s
    while True:
        with sessions() as db:
            events = list(
                db.scalars(
                    select(StoredEvent)
                    .where(StoredEvent.call_id == call_id)
                    .order_by(StoredEvent.seq)
                )
            )
        if until is None or any(e.kind == until for e in events) or time.monotonic() > deadline:
            return events
        time.sleep(0.3)


def held_call(client: redis.Redis, timeout_s: float = 40.0) -> str:
    """The id of the call an ``amparo sip`` process holds, once one does (one call at a time)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name in client.scan_iter(match=key("sip", "call", "*")):
            return str(name).rsplit(":", 1)[1]
        time.sleep(0.2)
    raise AssertionError("no SIP process took the call")


def parse_sipp(returncode: int, output: str) -> SippResult:
    return SippResult(
        returncode=returncode,
        created=_counter(output, "Outgoing calls created"),
        succeeded=_counter(output, "Successful call"),
        failed=_counter(output, "Failed call"),
        output=output,
    )


BARESIP_MODULES = Path("/usr/lib/baresip/modules")


def baresip_available() -> str | None:
    return shutil.which("baresip") if BARESIP_MODULES.is_dir() else None


def speech_wav(path: Path, text: str, seconds: int = 150) -> Path:
    """A spoken WAV (8 kHz mono 16-bit) at least ``seconds`` long, for a peer to send."""
    spoken = path.with_suffix(".22k.wav")
    subprocess.run(
        ["espeak-ng", "-v", "en", "-w", str(spoken), " ".join([text] * 40)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "sox",
            str(spoken),
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "repeat",
            "3",
            "trim",
            "0",
            str(seconds),
        ],
        check=True,
        capture_output=True,
    )
    return path


@dataclass
class Baresip:
    """A baresip user agent with no sound card: it sends ``wav`` as its voice, auto-answers
    when ``answer`` is set, and takes commands (dial, keys, hang-up) over ctrl_tcp. With
    ``hears_into`` it writes what it hears to ``dump-*-dec.wav`` there (module sndfile)."""

    directory: Path
    user: str
    wav: Path
    answer: bool = False
    hears_into: Path | None = None
    extra_config: tuple[str, ...] = ()
    account_params: str = ""
    sip_port: int = field(default_factory=free_sip_port)
    ctrl_port: int = field(default_factory=lambda: free_port(socket.SOCK_STREAM))
    process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@127.0.0.1:{self.sip_port}"

    def start(self) -> Baresip:
        self.directory.mkdir(parents=True, exist_ok=True)
        rtp = free_port_pair()
        (self.directory / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{self.sip_port}",
                    f"audio_source aufile,{self.wav}",
                    "audio_player aubridge,nowhere",
                    "audio_alert aubridge,nowhere",
                    f"rtp_ports {rtp}-{rtp + 40}",
                    "net_interface 127.0.0.1",
                    f"module_path {BARESIP_MODULES}",
                    "module g711.so",
                    "module aufile.so",
                    "module aubridge.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                    *(
                        ["module sndfile.so", f"snd_path {self.hears_into}"]
                        if self.hears_into is not None
                        else []
                    ),
                    *self.extra_config,
                    "",
                ]
            )
        )
        answermode = ";answermode=auto" if self.answer else ""
        (self.directory / "accounts").write_text(
            f"<sip:{self.user}@127.0.0.1:{self.sip_port}>;regint=0{answermode}"
            f"{self.account_params}\n"
        )
        (self.directory / "contacts").write_text("")
        self._log = (self.directory / "baresip.log").open("ab")
        self.process = subprocess.Popen(
            ["baresip", "-f", str(self.directory)],
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"baresip did not start: {self.log()[-2000:]}")

    def command(self, name: str, params: str = "") -> None:
        import json

        body = json.dumps({"command": name, "params": params, "token": name}).encode()
        with socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=5) as conn:
            conn.sendall(str(len(body)).encode() + b":" + body + b",")
            conn.settimeout(2)
            with contextlib.suppress(TimeoutError):
                conn.recv(4096)

    def heard(self) -> Path:
        """The WAV of what this phone heard (``hears_into``), once its call is over."""
        assert self.hears_into is not None
        found = sorted(self.hears_into.glob("dump-*-dec.wav"))
        assert found, "baresip wrote nothing it heard"
        return found[-1]

    def log(self) -> str:
        path = self.directory / "baresip.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def wait_until(what: Callable[[], object], timeout: float, message: str) -> object:
    """``what()``'s first truthy value within ``timeout`` seconds, else AssertionError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(message)


def kinds(db_sessions: sessionmaker[Session], call_id: str) -> list[str]:
    """The kinds of the call's stored events, in order."""
    with db_sessions() as db:
        return list(
            db.scalars(
                select(StoredEvent.kind)
                .where(StoredEvent.call_id == call_id)
                .order_by(StoredEvent.seq)
            )
        )
