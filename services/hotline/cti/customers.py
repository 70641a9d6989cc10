"""Customer records for screen pop: the SQLite side.

Records are keyed by phone number. Numbers are compared by a *lookup key*
(:func:`phone_key`), so that the way a number was typed into the CRM and the
way the switch reports the caller's number need not agree:

- spaces, dashes, dots, slashes and parentheses are removed;
- one leading ``+`` is removed, so ``+15551234567`` and ``15551234567`` match;
- what is left must be 1 to 20 ASCII digits, otherwise the number is invalid
  (``InvalidArgument("phone", ...)``).

No national/international rewriting is done: ``5551234567`` (no country code)
and ``+15551234567`` are different keys, and a ``00`` international prefix is
kept as digits. Store numbers in full international form (E.164) to match the
caller IDs your trunks deliver.

Call history comes from CDRs (:meth:`CustomerStore.record_call`, idempotent by
call UUID) and is kept per phone key, for known and unknown callers alike.

One connection per store, used under a lock, so the store is safe to share
between greenlets (and threads: ``check_same_thread=False``).
"""
from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import sqlite3
import threading
import time
import uuid
from typing import Iterable, Iterator

from hotline.common.errors import InvalidArgument
from hotline.proto.cti.v1 import cti_pb2
from hotline.proto.events.v1 import events_pb2

log = logging.getLogger(__name__)

_FORMATTING = re.compile(r"[\s\-().\/]")
_KEY = re.compile(r"[0-9]{1,20}")

DEFAULT_HISTORY_LIMIT = 10

# Numbered schema steps; PRAGMA user_version records how many have run.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE customers (
        customer_id TEXT PRIMARY KEY,
        phone_key   TEXT NOT NULL UNIQUE,
        phone       TEXT NOT NULL,
        name        TEXT NOT NULL DEFAULT '',
        email       TEXT NOT NULL DEFAULT '',
        company     TEXT NOT NULL DEFAULT '',
        notes       TEXT NOT NULL DEFAULT '',
        created_us  INTEGER NOT NULL,
        updated_us  INTEGER NOT NULL
    );
    CREATE TABLE customer_calls (
        call_uuid   TEXT PRIMARY KEY,
        phone_key   TEXT NOT NULL,
        start_us    INTEGER NOT NULL,
        queue       TEXT NOT NULL DEFAULT '',
        agent_id    TEXT NOT NULL DEFAULT '',
        disposition TEXT NOT NULL DEFAULT '',
        recorded_us INTEGER NOT NULL
    );
    CREATE INDEX customer_calls_by_phone ON customer_calls (phone_key, start_us DESC);
    """,
)


def phone_key(raw: str) -> str:
    """The lookup key of a phone number (see the module docstring for the rule)."""
    text = _FORMATTING.sub("", raw or "")
    if text.startswith("+"):
        text = text[1:]
    if not _KEY.fullmatch(text):
        raise InvalidArgument("phone", f"{raw!r} is not a phone number (digits, an optional leading +, "
                                       "spaces, dashes, dots and parentheses)")
    return text


def disposition_name(disposition: int) -> str:
    """events.v1.Disposition -> the short name in CallSummary ("answered", "abandoned", ...)."""
    if disposition == events_pb2.DISPOSITION_UNSPECIFIED:
        return ""
    try:
        name = events_pb2.Disposition.Name(disposition)
    except ValueError:
        return str(disposition)
    return name.removeprefix("DISPOSITION_").lower()


def _now_us() -> int:
    return int(time.time() * 1_000_000)


class CustomerStore:
    """Customer records and their call history in one SQLite database."""

    def __init__(self, path: str, *, history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        if path != ":memory:" and not path.startswith("file:"):
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
        self.path = path
        self.history_limit = history_limit
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   uri=path.startswith("file:"))
        self._db.row_factory = sqlite3.Row
        with self._lock:
            if path != ":memory:":
                # WAL: readers never wait for the writer; NORMAL sync is crash-safe in WAL mode.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(None, (s.strip() for s in script.split(";"))):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            log.info("customer store %s: schema step %d applied", self.path, number)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reads ---------------------------------------------------------------
    def lookup(self, phone: str, *, history_limit: int | None = None) -> cti_pb2.Customer:
        """The customer record for a number, with its call history (most recent
        first, at most ``history_limit`` calls). ``known=False`` (and the phone as
        given) when no record matches; the history is filled in either way."""
        key = phone_key(phone)
        limit = self.history_limit if history_limit is None else history_limit
        with self._lock:
            row = self._db.execute("SELECT * FROM customers WHERE phone_key = ?", (key,)).fetchone()
            calls = self._db.execute(
                "SELECT call_uuid, start_us, queue, agent_id, disposition FROM customer_calls "
                "WHERE phone_key = ? ORDER BY start_us DESC, call_uuid LIMIT ?", (key, limit)).fetchall()
        history = [cti_pb2.CallSummary(call_uuid=c["call_uuid"], start_us=c["start_us"], queue=c["queue"],
                                       agent_id=c["agent_id"], disposition=c["disposition"]) for c in calls]
        if row is None:
            return cti_pb2.Customer(phone=phone.strip(), known=False, history=history)
        return cti_pb2.Customer(customer_id=row["customer_id"], name=row["name"], phone=row["phone"],
                                email=row["email"], company=row["company"], notes=row["notes"],
                                history=history, known=True)

    def phones(self) -> list[str]:
        """Every customer's number as +<key> (the demo dials in with these)."""
        with self._lock:
            rows = self._db.execute("SELECT phone_key FROM customers ORDER BY phone_key").fetchall()
        return ["+" + r["phone_key"] for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM customers").fetchone()[0])

    # -- writes --------------------------------------------------------------
    def upsert(self, phone: str, *, name: str = "", email: str = "", company: str = "", notes: str = "",
               customer_id: str | None = None) -> cti_pb2.Customer:
        """Create the record for ``phone`` or replace its fields.

        The record is found by its phone key; a new one gets ``customer_id`` (or a
        generated ``cus-…`` id). Returns the record as :meth:`lookup` would.
        """
        key = phone_key(phone)
        now = _now_us()
        new_id = customer_id or f"cus-{uuid.uuid4().hex[:16]}"
        with self._lock:
            self._db.execute(
                "INSERT INTO customers (customer_id, phone_key, phone, name, email, company, notes, "
                "created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (phone_key) DO UPDATE SET phone = excluded.phone, name = excluded.name, "
                "email = excluded.email, company = excluded.company, notes = excluded.notes, "
                "updated_us = excluded.updated_us",
                (new_id, key, phone.strip(), name, email, company, notes, now, now))
        return self.lookup(phone)

    def delete(self, phone: str) -> bool:
        """Remove the record for ``phone`` (its call history stays). True if one existed."""
        key = phone_key(phone)
        with self._lock:
            cursor = self._db.execute("DELETE FROM customers WHERE phone_key = ?", (key,))
        return cursor.rowcount > 0

    def record_call(self, cdr: events_pb2.Cdr) -> bool:
        """Add a finished call to the caller's history. Idempotent by call UUID:
        a replayed CDR changes nothing. Returns True when the call was new.

        CDRs without a call UUID or without a usable caller number (anonymous,
        withheld) are skipped: there is no customer to attach them to.
        """
        if not cdr.call_uuid:
            log.warning("CDR %s has no call_uuid; not recorded in customer history", cdr.event_id)
            return False
        try:
            key = phone_key(cdr.ani)
        except InvalidArgument:
            log.debug("CDR %s: caller number %r is not a phone number; no history kept", cdr.call_uuid, cdr.ani)
            return False
        start_us = cdr.start_us or cdr.enqueue_us or cdr.connect_us or cdr.end_us
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO customer_calls (call_uuid, phone_key, start_us, queue, agent_id, disposition, "
                "recorded_us) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (call_uuid) DO NOTHING",
                (cdr.call_uuid, key, start_us, cdr.queue, cdr.agent_id, disposition_name(cdr.disposition),
                 _now_us()))
        return cursor.rowcount > 0

    def record_calls(self, cdrs: Iterable[events_pb2.Cdr]) -> int:
        """:meth:`record_call` for a batch in one transaction; returns how many were new."""
        with self._transaction():
            return sum(self.record_call(cdr) for cdr in cdrs)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- demo data -----------------------------------------------------------
    def seed_demo(self, count: int, rng: random.Random, *, now_us: int | None = None) -> list[cti_pb2.Customer]:
        """Create ``count`` plausible customers (with a few past calls each) for the demo.

        Numbers are in the NANP range reserved for fiction (555-0100..0199), as
        +1 AAA-555-01XX, so they never reach a real person. Deterministic for a
        given ``rng`` state.
        """
        with self._transaction():
            return self._seed_demo(count, rng, _now_us() if now_us is None else now_us)

    def _seed_demo(self, count: int, rng: random.Random, now_us: int) -> list[cti_pb2.Customer]:
        if not 0 <= count <= 100 * (len(_AREA_CODES) + 99):
            raise InvalidArgument("count", f"must be between 0 and {100 * (len(_AREA_CODES) + 99)}")
        created: list[cti_pb2.Customer] = []
        for i in range(count):
            block = i // 100
            area = _AREA_CODES[block] if block < len(_AREA_CODES) else 900 + block - len(_AREA_CODES)
            phone = f"+1 {area}-555-01{i % 100:02d}"
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            company = rng.choice(_COMPANIES) if rng.random() < 0.6 else ""
            domain = (company.lower().replace(" ", "").replace("&", "") + ".example") if company else "mail.example"
            notes = rng.choice(_NOTES) if rng.random() < 0.5 else ""
            self.upsert(phone, name=f"{first} {last}", email=f"{first.lower()}.{last.lower()}@{domain}",
                        company=company, notes=notes, customer_id=f"cus-demo-{i:05d}")
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 4))):
                start = now_us - rng.randint(3_600, 90 * 86_400) * 1_000_000
                queue = rng.choice(("sales", "support", "support"))
                disposition = rng.choices((events_pb2.DISPOSITION_ANSWERED, events_pb2.DISPOSITION_ABANDONED,
                                           events_pb2.DISPOSITION_ENDED_IN_IVR), weights=(8, 1, 1))[0]
                agent = f"agent-{rng.randint(1001, 1010)}" if disposition == events_pb2.DISPOSITION_ANSWERED else ""
                self.record_call(events_pb2.Cdr(
                    event_id="", call_uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    ani=phone, queue=queue if disposition != events_pb2.DISPOSITION_ENDED_IN_IVR else "",
                    agent_id=agent, disposition=disposition, start_us=start))
            created.append(self.lookup(phone))
        return created


_AREA_CODES = (212, 312, 415, 617, 206, 303, 512, 404)
_FIRST_NAMES = ("Ada", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
                "Luca", "Maya", "Nils", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Viktor",
                "Wen", "Yara", "Zoe")
_LAST_NAMES = ("Andersen", "Baptiste", "Chen", "Dubois", "Eze", "Fischer", "Garcia", "Haddad", "Ivanova",
               "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "O'Brien", "Patel", "Rossi", "Schmidt",
               "Tanaka", "Urquhart", "Varga", "Weber", "Yilmaz", "Zhang")
_COMPANIES = ("Acme Logistics", "Blue Harbor Bank", "Cedar & Pine", "Delta Clinics", "Evergreen Energy",
              "Fjord Travel", "Granite Insurance", "Helios Telecom", "Iris Retail", "Juniper Labs")
_NOTES = ("Prefers e-mail follow-up.", "VIP: route to senior agents.", "Open ticket: invoice dispute.",
          "Solved: password reset.", "Asked about the premium tariff.", "Open ticket: delivery delayed.",
          "Solved: address change.", "Speaks French and English.", "Callback requested after 5 pm.")
