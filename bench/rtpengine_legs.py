"""How many browser-side legs one rtpengine (userspace, as deploy/kamailio drives it) holds.

A browser leg costs rtpengine an SRTP encryption towards the browser and a decryption from it,
50 packets a second each way (20 ms G.711). Each simulated leg here is two rtpengine calls
chained over loopback, made through rtpengine's own control protocol (ng, bencode over UDP):

    sender -RTP-> [call 1: to RTP/SAVP, encrypts] -SRTP-> [call 2: decrypts] -RTP-> receiver

so every packet is encrypted and decrypted once, as on a browser leg. SDES keys stand in for
DTLS: the handshake is a one-off per call, the packet cost is the same AES-CM/HMAC-SHA1. The
benchmark steps the number of legs up, sends for ``--seconds`` at each step, and prints the
packets delivered and rtpengine's CPU; the packet pump shares the machine, so the figures are a
floor. It prints figures; it never passes or fails on time.

    python -m bench.rtpengine_legs --steps 50 100 200 300 --seconds 10
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PCMU_SILENCE = b"\xff" * 160


def bencode(value: object) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"
    if isinstance(value, dict):
        items = sorted(value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(type(value))


def bdecode(data: bytes, at: int = 0) -> tuple[object, int]:
    kind = data[at : at + 1]
    if kind == b"i":
        end = data.index(b"e", at)
        return int(data[at + 1 : end]), end + 1
    if kind in (b"l", b"d"):
        items: list[object] = []
        at += 1
        while data[at : at + 1] != b"e":
            item, at = bdecode(data, at)
            items.append(item)
        if kind == b"l":
            return items, at + 1
        pairs = iter(items)
        return {bytes(k).decode(): v for k, v in zip(pairs, pairs, strict=True)}, at + 1  # type: ignore[call-overload]
    colon = data.index(b":", at)
    length = int(data[at:colon])
    return data[colon + 1 : colon + 1 + length], colon + 1 + length


class Control:
    """rtpengine's ng control socket."""

    def __init__(self, port: int) -> None:
        self.address = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(5)

    def command(self, **fields: object) -> dict[str, object]:
        cookie = secrets.token_hex(6).encode()
        self.sock.sendto(cookie + b" " + bencode(fields), self.address)
        while True:
            reply = self.sock.recv(65536)
            if reply.startswith(cookie + b" "):
                answer, _ = bdecode(reply[len(cookie) + 1 :])
                assert isinstance(answer, dict)
                if answer.get("result") != b"ok":
                    raise RuntimeError(f"rtpengine: {answer}")
                return answer


def sdp(port: int, profile: str = "RTP/AVP", crypto: str = "") -> str:
    lines = [
        "v=0",
        "o=- 1 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        f"m=audio {port} {profile} 0",
        "a=rtpmap:0 PCMU/8000",
        "a=sendrecv",
    ]
    if crypto:
        lines.append(crypto)
    return "\r\n".join(lines) + "\r\n"


def _sdp_of(answer: dict[str, object]) -> str:
    body = answer["sdp"]
    assert isinstance(body, bytes)
    return body.decode()


def media_port(answer: dict[str, object]) -> int:
    text = _sdp_of(answer)
    found = re.search(r"m=audio (\d+)", text)
    assert found, text
    return int(found.group(1))


def crypto_line(answer: dict[str, object]) -> str:
    text = _sdp_of(answer)
    found = re.search(r"a=crypto:\S+ AES_CM_128_HMAC_SHA1_80 inline:\S+", text)
    assert found, text
    return found.group(0)


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


class Leg:
    """One simulated browser leg: plain RTP in, SRTP between two rtpengine calls, RTP out.
    Every leg sends from one socket and delivers to another, shared by all legs: rtpengine
    tells its calls apart by its own ports, and the pump stays light."""

    def __init__(self, control: Control, sender_port: int, receiver_port: int) -> None:
        tag = secrets.token_hex(6)
        one, two = f"one-{tag}", f"two-{tag}"
        towards_browser = {
            "transport-protocol": "RTP/SAVP",
            "SDES": ["only-AES_CM_128_HMAC_SHA1_80"],
        }
        offer = control.command(
            command="offer", **{"call-id": one, "from-tag": "a"}, sdp=sdp(sender_port),
            flags=["trust-address"], **towards_browser,
        )  # fmt: skip
        browser_side = media_port(offer)
        control.command(
            command="offer", **{"call-id": two, "from-tag": "x"},
            sdp=sdp(browser_side, "RTP/SAVP", crypto_line(offer)),
            flags=["trust-address"], **{"transport-protocol": "RTP/AVP"},
        )  # fmt: skip
        answer_two = control.command(
            command="answer", **{"call-id": two, "from-tag": "x", "to-tag": "c"},
            sdp=sdp(receiver_port), flags=["trust-address"],
        )  # fmt: skip
        answer_one = control.command(
            command="answer", **{"call-id": one, "from-tag": "a", "to-tag": "b"},
            sdp=sdp(media_port(answer_two), "RTP/SAVP", crypto_line(answer_two)),
            flags=["trust-address"],
        )  # fmt: skip
        self.target = ("127.0.0.1", media_port(answer_one))
        self.calls = (one, two)
        self.seq = secrets.randbits(15)
        self.buffer = bytearray(struct.pack("!BBHII", 0x80, 0, 0, 0, secrets.randbits(32)))
        self.buffer += PCMU_SILENCE

    def packet(self, timestamp: int) -> bytearray:
        self.seq = (self.seq + 1) & 0xFFFF
        struct.pack_into("!HI", self.buffer, 2, self.seq, timestamp & 0xFFFFFFFF)
        return self.buffer

    def close(self, control: Control) -> None:
        for call_id in self.calls:
            with contextlib.suppress(RuntimeError, OSError):
                control.command(command="delete", **{"call-id": call_id})


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def drain(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            sock.recv(2048)
        except BlockingIOError:
            return count
        count += 1


def run_step(control: Control, pid: int, count: int, seconds: float) -> tuple[int, int, float]:
    sender, receiver = udp_socket(), udp_socket()
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    legs = [Leg(control, sender.getsockname()[1], receiver.getsockname()[1]) for _ in range(count)]
    sent = received = 0
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    tick, timestamp = started, 0
    send = sender.sendto
    while time.monotonic() - started < seconds:
        for leg in legs:
            try:
                send(leg.packet(timestamp), leg.target)
            except BlockingIOError:
                continue
            sent += 1
        timestamp += 160
        tick += 0.02
        received += drain(receiver)
        time.sleep(max(0.0, tick - time.monotonic()))
    elapsed = time.monotonic() - started
    cpu = (cpu_seconds(pid) - cpu_before) / elapsed
    time.sleep(0.3)
    received += drain(receiver)
    for leg in legs:
        leg.close(control)
    sender.close()
    receiver.close()
    return sent, received, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 100, 200, 300, 400])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if shutil.which("rtpengine") is None:
        raise SystemExit("rtpengine is missing (Debian package rtpengine-daemon)")
    with tempfile.TemporaryDirectory(prefix="amparo-rtpengine-bench.") as work:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        ng_port = probe.getsockname()[1]
        probe.close()
        log = Path(work, "rtpengine.log").open("wb")  # noqa: SIM115 (the daemon's lifetime)
        daemon = subprocess.Popen(
            [
                "rtpengine", "--foreground", "--log-stderr", "--log-level=4",
                "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{ng_port}",
                "--port-min=20000", "--port-max=59999", "--table=-1", "--delete-delay=0",
                f"--pidfile={work}/rtpengine.pid", "--num-threads=2",
            ],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            time.sleep(1.5)
            control = Control(ng_port)
            print(f"rtpengine userspace, 2 threads; {args.seconds:.0f} s per step, 50 packets/s")
            print("legs  packets/s sent  delivered  loss %   rtpengine CPU (% of one core)")
            for count in args.steps:
                sent, received, cpu = run_step(control, daemon.pid, count, args.seconds)
                loss = 100.0 * (sent - received) / sent if sent else 0.0
                rate = sent / args.seconds
                print(f"{count:4d}  {rate:14.0f}  {received:9d}  {loss:6.2f}   {100 * cpu:5.1f}")
        finally:
            daemon.terminate()
            daemon.wait(10)


if __name__ == "__main__":
    main()
