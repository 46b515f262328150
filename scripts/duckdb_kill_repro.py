"""Is a transaction that was being written to DuckDB's WAL when the process got SIGKILL recovered all or nothing?

DuckDB alone, no akhbar code: a child process opens a database file (`--mode attach`: an in-memory connection
that ATTACHes the file with ROW_GROUP_SIZE, as warehouse/connection.py's writer does; `attach-default`: the same
ATTACH without the option; `--mode plain`: `duckdb.connect(path)`) and commits numbered transactions, each inserting BATCH rows into `articles` (PRIMARY
KEY) and MENTIONS_PER rows per article into `mentions` (no key), like one akhbar load, and prints the number of
each transaction once COMMIT returned. The parent kills it with SIGKILL as soon as the `.wal` file has passed
`--wal-mb` (by default during a commit: the WAL is written at COMMIT), reopens the file and checks that every
transaction is either wholly present or wholly absent, that no committed one is lost, and that the
file still takes the next transaction with an upsert.

    .venv/bin/python scripts/duckdb_kill_repro.py [--mode attach|plain] [--wal-mb 2] [--rounds 5]

Prints one line per round and a verdict; exit 1 when a round found a half-present transaction.
REPRO_MENTIONS_PER (default 40) and REPRO_BATCH (default 1000) set the rows per transaction.

Findings with DuckDB 1.5.5 (2 cores, 2026-11-29): `--mode attach`: 6 of 6 rounds recovered the killed
transaction's 40,000 mentions without its 1,000 articles; `attach-default` and `plain`: all or nothing (6 of 6);
`plain` with REPRO_MENTIONS_PER=200 (200,000 mentions, more than a default 122,880-row group): 4 of 4 rounds
half-present. So it is DuckDB's, not the ATTACH path's: rows of a table appended beyond one row group are written
to the file before COMMIT (optimistic writes) and come back after a kill during the commit's WAL write, while
the rows that went to the WAL do not (upstream: duckdb/duckdb PR 25931, open). The rows that come back are
missing from the table's indexes: deleting them through an index aborts DuckDB (FatalException "Failed to
delete all rows from index"). warehouse/recovery.py works around both.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH = int(os.environ.get("REPRO_BATCH", "1000"))
MENTIONS_PER = int(os.environ.get("REPRO_MENTIONS_PER", "40"))  # 200: more rows than a default row group
TEXT_BYTES = 3000

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (article_id VARCHAR PRIMARY KEY, txn INTEGER, text VARCHAR);
CREATE TABLE IF NOT EXISTS mentions (article_id VARCHAR, txn INTEGER, k INTEGER, canonical VARCHAR);
"""
INSERT_ARTICLES = """
INSERT INTO articles SELECT 'a' || ($txn * 1000000 + i), $txn, repeat(md5(i::VARCHAR || $txn::VARCHAR), $reps)
FROM range($n) t(i)
ON CONFLICT (article_id) DO UPDATE SET text = excluded.text
"""
INSERT_MENTIONS = """
INSERT INTO mentions SELECT 'a' || ($txn * 1000000 + i // $per), $txn, i % $per, md5((i % 5000)::VARCHAR)
FROM range($n * $per) t(i)
"""


def writer(path: str, mode: str, first: int) -> None:
    """The child: commit transactions first, first+1, ... until killed."""
    import duckdb

    if mode.startswith("attach"):
        con = duckdb.connect()
        option = " (ROW_GROUP_SIZE 8192)" if mode == "attach" else ""
        con.execute(f"ATTACH '{path}' AS db{option}")
        con.execute("USE db")
    else:
        con = duckdb.connect(path)
    con.execute("SET threads = 1")
    con.execute(SCHEMA)
    txn = first
    while True:
        con.execute("BEGIN TRANSACTION")
        con.execute(INSERT_ARTICLES, {"txn": txn, "n": BATCH, "reps": TEXT_BYTES // 32})
        con.execute(INSERT_MENTIONS, {"txn": txn, "n": BATCH, "per": MENTIONS_PER})
        print(f"begin-commit {txn}", flush=True)
        con.execute("COMMIT")
        print(f"committed {txn}", flush=True)
        txn += 1


def one_round(path: Path, mode: str, wal_mb: float, first: int) -> tuple[int, list[str]]:
    """Run the writer until its WAL passes wal_mb, kill it; return (last committed txn, problems found)."""
    wal = Path(f"{path}.wal")
    progress = Path(f"{path}.progress")
    with open(progress, "w") as out:
        child = subprocess.Popen([sys.executable, __file__, "--child", str(path), "--mode", mode,
                                  "--first", str(first)], stdout=out)
        while child.poll() is None:
            if wal.exists() and wal.stat().st_size > wal_mb * 2**20:
                os.kill(child.pid, signal.SIGKILL)
                break
            time.sleep(0.0005)
        child.wait()
    words = progress.read_text().split()
    committed = [int(words[i + 1]) for i, w in enumerate(words) if w == "committed"]
    last = max(committed, default=first - 1)
    return last, check(path, first, last)


def check(path: Path, first: int, last_committed: int) -> list[str]:
    import duckdb

    problems = []
    con = duckdb.connect(str(path))
    arts = dict(con.execute("SELECT txn, count(*) FROM articles GROUP BY txn").fetchall())
    ments = dict(con.execute("SELECT txn, count(*) FROM mentions GROUP BY txn").fetchall())
    for txn in sorted(set(arts) | set(ments)):
        a, m = arts.get(txn, 0), ments.get(txn, 0)
        if (a, m) != (BATCH, BATCH * MENTIONS_PER):
            problems.append(f"txn {txn}: {a} articles, {m} mentions (whole: {BATCH}, {BATCH * MENTIONS_PER})")
    lost = [t for t in range(first, last_committed + 1) if t not in arts]
    if lost:
        problems.append(f"committed transactions lost: {lost}")
    orphans = con.execute("SELECT count(*) FROM mentions WHERE article_id NOT IN (SELECT article_id FROM articles)"
                          ).fetchone()
    if orphans and orphans[0]:
        problems.append(f"{orphans[0]} orphan mentions")
    try:  # the next load re-upserts the articles of the last transaction: does the key index still agree?
        con.execute("BEGIN TRANSACTION")
        con.execute(INSERT_ARTICLES, {"txn": max(last_committed, 0), "n": BATCH, "reps": 1})
        con.execute("ROLLBACK")
    except Exception as exc:
        problems.append(f"upsert after recovery failed: {type(exc).__name__}: {str(exc)[:200]}")
    con.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["attach", "attach-default", "plain"], default="attach")
    ap.add_argument("--wal-mb", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        writer(args.child, args.mode, args.first)
        return 0
    import duckdb

    print(f"duckdb {duckdb.__version__}, mode {args.mode}, kill when the WAL passes {args.wal_mb} MB")
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kill.duckdb"
        first = 0
        for r in range(args.rounds):
            last, problems = one_round(path, args.mode, args.wal_mb, first)
            print(f"round {r}: last committed txn {last}; " + ("; ".join(problems) if problems else "all or nothing"))
            bad += bool(problems)
            first = last + 2  # the killed transaction's number is skipped, so a re-run cannot hide it
    print("verdict: " + (f"{bad} of {args.rounds} rounds left a half-present transaction or a broken file"
                         if bad else "every transaction recovered whole or not at all"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
