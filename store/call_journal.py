"""The call journal: what happened to a call while its row could not be written.

When the database is down a caller is still answered (the switchboard sends her to the line's
overflow number), but her call would leave no record: no callback list, no statistics, no trace
that she called. Each such fact (her call started and went to the overflow, an event sent her
there, she hung up) is written here instead, and replayed into the database when it answers
again (``calls.journal_replay``), in order, idempotently: replaying an entry twice stores it
once, so an entry is dropped only after it was applied.

Entries go to a Redis list (``amparo:call_journal``, shared by every process); when Redis does
not answer either, to an append-only file ``<data dir>/journal/calls.jsonl`` (flushed and
fsynced per entry), replayed by the worker that shares the data dir. Entries carry ids, the
channel, times and the dialled line's number; the caller's number only encrypted under the
field key, never in clear.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import redis

from store.live_state import key

log = logging.getLogger(__name__)

JOURNAL_KEY = key("call_journal")
BATCH = 100

Entry = Mapping[str, Any]


class CallJournal:
    def __init__(self, live: redis.Redis, directory: Path) -> None:
        self._live = live
        self._file = directory / "calls.jsonl"
        self._replaying = directory / "calls.jsonl.replaying"

    def write(self, entry: Entry) -> None:
        """Keep ``entry`` until it is replayed: in Redis, else in the local file.

        Raises:
            OSError: neither Redis nor the file took it.
        """
        line = json.dumps(dict(entry), separators=(",", ":"), sort_keys=True)
        try:
            self._live.rpush(JOURNAL_KEY, line)
            return
        except redis.RedisError as exc:
            log.warning("call journal: Redis did not take an entry (%s); file", type(exc).__name__)
        self._file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._file.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())

    def replay(self, apply: Callable[[Entry], object]) -> int:
        """Apply every journalled entry in order, the file's first; how many were applied.
        An entry that fails stops the replay and stays for the next one (with those after
        it), and its exception is raised."""
        applied = self._replay_file(apply)
        while True:
            lines = self._live.lrange(JOURNAL_KEY, 0, BATCH - 1)
            if not lines:
                return applied
            for line in lines:
                apply(json.loads(line))
                self._live.lpop(JOURNAL_KEY)
                applied += 1

    def pending(self) -> int:
        """Entries waiting in Redis (the file's are not counted)."""
        return int(self._live.llen(JOURNAL_KEY))

    def _replay_file(self, apply: Callable[[Entry], object]) -> int:
        if not self._replaying.exists():
            if not self._file.exists():
                return 0
            self._file.rename(self._replaying)  # new entries go to a new file meanwhile
        applied = 0
        with self._replaying.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    apply(json.loads(line))
                    applied += 1
        self._replaying.unlink()
        return applied
