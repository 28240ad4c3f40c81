"""Kamailio (deploy/kamailio/kamailio.cfg, the lines marked EDIT pointed at the test) and
rtpengine (userspace forwarding) as the tests run them: 127.0.0.1, free ports, stopped by the
test that started them."""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.sip.certificates import TestCertificates
from tests.e2e.sip.peers import ROOT, free_port

DEPLOY = ROOT / "deploy" / "kamailio"
TEST_SECRET = "test-webrtc-secret-0123456789abcdef0123456789"


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy/kamailio/kamailio.cfg no longer has {old!r}"
    return text.replace(old, new)


@dataclass
class Kamailio:
    """One Kamailio in front of ``processes`` (host:port of ``amparo sip``), with the agents'
    registrar on ``ws_port`` and rtpengine's control socket ``rtpengine_ng``."""

    workdir: Path
    processes: list[str]
    rtpengine_ng: int = 0
    secret: str = TEST_SECRET
    certificates: TestCertificates | None = None
    port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    wss_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def wss_url(self) -> str:
        return f"wss://127.0.0.1:{self.wss_port}"

    def render(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        listing = self.workdir / "dispatcher.list"
        listing.write_text("".join(f"1 sip:{address} 0 0\n" for address in self.processes))
        text = (DEPLOY / "kamailio.cfg").read_text()
        for old, new in (
            ("listen=udp:127.0.0.1:5060", f"listen=udp:127.0.0.1:{self.port}"),
            ("listen=tcp:127.0.0.1:5060", f"listen=tcp:127.0.0.1:{self.port}"),
            ("listen=tcp:127.0.0.1:8080", f"listen=tcp:127.0.0.1:{self.ws_port}"),
            ("listen=tls:127.0.0.1:5061", f"listen=tls:127.0.0.1:{self.tls_port}"),
            ("listen=tls:127.0.0.1:8443", f"listen=tls:127.0.0.1:{self.wss_port}"),
            ("/etc/kamailio/dispatcher.list", str(listing)),
            ("/etc/kamailio/tls.cfg", str(self.workdir / "tls.cfg")),
            ("CHANGE-ME-the-AMPARO_WEBRTC_SECRET-of-amparo-web", self.secret),
            ("udp:127.0.0.1:2223", f"udp:127.0.0.1:{self.rtpengine_ng or free_port()}"),
        ):
            text = _replace(text, old, new)
        config = self.workdir / "kamailio.cfg"
        config.write_text(text)
        if self.certificates is not None:
            tls = (DEPLOY / "tls.cfg").read_text()
            for old, new in (
                ("/etc/kamailio/tls/server.pem", str(self.certificates.cert)),
                ("/etc/kamailio/tls/server.key", str(self.certificates.key)),
                ("/etc/ssl/certs/ca-certificates.crt", str(self.certificates.ca)),
            ):
                tls = _replace(tls, old, new)
            (self.workdir / "tls.cfg").write_text(tls)
        return config

    def start(self, settle_s: float = 3.0) -> Kamailio:
        config = self.render()
        defines = ["-A", "WITH_TLS"] if self.certificates is not None else []
        log = (self.workdir / "kamailio.log").open("ab")
        self.process = subprocess.Popen(
            [
                "kamailio",
                "-f",
                str(config),
                *defines,
                "-DD",
                "-E",
                "-Y",
                str(self.workdir),
                "-m",
                "64",
                "-M",
                "8",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        time.sleep(settle_s)  # the first OPTIONS probes mark the processes active
        assert self.process.poll() is None, self.log()[-3000:]
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log(self) -> str:
        path = self.workdir / "kamailio.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class RtpEngine:
    """rtpengine in userspace (``--table=-1``: no kernel module) on 127.0.0.1."""

    workdir: Path
    ng_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> RtpEngine:
        self.workdir.mkdir(parents=True, exist_ok=True)
        low = 30000 + (self.ng_port % 300) * 100
        log = (self.workdir / "rtpengine.log").open("ab")
        self.process = subprocess.Popen(
            [
                "rtpengine",
                "--foreground",
                "--log-stderr",
                "--interface=127.0.0.1",
                f"--listen-ng=127.0.0.1:{self.ng_port}",
                f"--port-min={low}",
                f"--port-max={low + 99}",
                "--table=-1",
                f"--pidfile={self.workdir / 'rtpengine.pid'}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "Startup complete" in self.log():
                return self
            assert self.process.poll() is None, self.log()[-3000:]
            time.sleep(0.2)
        raise RuntimeError(f"rtpengine did not start: {self.log()[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log(self) -> str:
        path = self.workdir / "rtpengine.log"
        return path.read_text(errors="replace") if path.exists() else ""
