"""Key sequences for SIPp made from SIPp's own RFC 2833 captures.

Debian's SIPp ships one capture per key (``/usr/share/sip-tester/dtmf_2833_<key>.pcap``), all
recorded with the same RTP sequence numbers and timestamps. Played one after another in one
call, the second capture looks to the receiver like a replay of the first (out of order or
duplicate packets), and any RTP stack rightly drops it. So a caller's keys are stitched into one
capture: the packets of each key's capture, in order, with sequence numbers and timestamps
carried on and the key presses ``gap_s`` apart. SIPp replays it with the capture's timing.

    python tests/e2e/sip/dtmf_pcap.py OUT_DIR 112222 [GAP_SECONDS]
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

SIPP_CAPTURES = Path("/usr/share/sip-tester")
KEY_NAMES = {"*": "star", "#": "pound"}
ETHERNET = 1
RTP_OFFSET = 14 + 20 + 8  # Ethernet, IPv4 without options, UDP
UDP_CHECKSUM = 14 + 20 + 6


def capture_of(key: str) -> Path:
    return SIPP_CAPTURES / f"dtmf_2833_{KEY_NAMES.get(key, key)}.pcap"


def _packets(path: Path) -> tuple[bytes, list[tuple[float, bytes]]]:
    data = path.read_bytes()
    header = data[:24]
    if struct.unpack("<I", header[20:24])[0] != ETHERNET:
        raise ValueError(f"{path}: expected an Ethernet capture")
    packets = []
    offset = 24
    while offset < len(data):
        seconds, micros, length, _ = struct.unpack("<IIII", data[offset : offset + 16])
        packets.append((seconds + micros / 1e6, data[offset + 16 : offset + 16 + length]))
        offset += 16 + length
    return header, packets


def stitch(keys: str, out: Path, gap_s: float = 2.5, payload_type: int | None = None) -> Path:
    """Write a capture pressing ``keys`` ``gap_s`` apart (the first at time 0).

    ``payload_type`` replaces the captures' telephone-event type (101): a phone answering a
    call sends events with the type the caller offered (pjsua offers 120).
    """
    header: bytes = b""
    records = []
    seq = 1000
    timestamp = 160_000
    for index, key in enumerate(keys):
        header, packets = _packets(capture_of(key))  # the same header in every capture
        first_time = packets[0][0]
        first_ts = struct.unpack("!I", packets[0][1][RTP_OFFSET + 4 : RTP_OFFSET + 8])[0]
        for when, raw in packets:
            packet = bytearray(raw)
            rtp_ts = struct.unpack("!I", packet[RTP_OFFSET + 4 : RTP_OFFSET + 8])[0]
            struct.pack_into("!H", packet, RTP_OFFSET + 2, seq & 0xFFFF)
            struct.pack_into("!I", packet, RTP_OFFSET + 4, (timestamp + rtp_ts - first_ts))
            struct.pack_into("!H", packet, UDP_CHECKSUM, 0)  # no checksum (IPv4 allows it)
            if payload_type is not None:
                packet[RTP_OFFSET + 1] = (packet[RTP_OFFSET + 1] & 0x80) | payload_type
            seq += 1
            records.append((index * gap_s + when - first_time, bytes(packet)))
        timestamp += int(gap_s * 8000)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        handle.write(header)
        for when, frame in records:
            seconds = int(1_700_000_000 + when)
            micros = round((when % 1) * 1e6) % 1_000_000
            handle.write(struct.pack("<IIII", seconds, micros, len(frame), len(frame)))
            handle.write(frame)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) / f"keys_{sys.argv[2]}.pcap"
    print(stitch(sys.argv[2], target, float(sys.argv[3]) if len(sys.argv) > 3 else 2.5))
