"""`akhbar ner adapt`: retrain the offline (crf) entity model with word clusters learned from the articles in
the user's warehouse, and install it in the user's data directory; `--reset` goes back to the shipped model.

The work is in ``extractors/entities/training/adapt.py``; this module checks the arguments (one line, exit 2,
before anything slow), reads the article texts from the DuckDB file and prints what happened. The file is
read a page at a time, each page on its own read-only connection, so an ingest can load in between.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb

from flows.cli_common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, positive_int
from flows.cli_common import error as _err
from warehouse.connection import DEFAULT_DB_PATH, connect, one_row
from warehouse.lake_location import is_lake

PAGE_ARTICLES = 500
MIN_ARTICLES = 50  # fewer articles teach the word clusters almost nothing the shipped training text does not
DEFAULT_MAX_SENTENCES = 200_000  # of the user's articles: memory and cluster time stay bounded

ARTICLES_WITH_TEXT = "SELECT count(*) FROM articles WHERE text IS NOT NULL AND text <> ''"
# pages in article_id order: ids are hashes of URLs, so a capped read is a sample spread over the whole warehouse
ARTICLE_TEXTS_PAGE = """
SELECT article_id, text FROM articles
WHERE text IS NOT NULL AND text <> '' AND article_id > $after
ORDER BY article_id
LIMIT $limit
"""


def add_adapt_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=DEFAULT_DB_PATH,
                        help=f"the warehouse to learn from, a DuckDB file or ducklake:... (default: {DEFAULT_DB_PATH})")
    parser.add_argument("--allow-fewer-corpora", action="store_true",
                        help="adapt even when AQMAR or Wojood (not shipped) cannot be found: trains on what is "
                             "there, which is weaker than the shipped model on modern text")
    parser.add_argument("--reset", action="store_true",
                        help="remove the adapted model: crf and auto use the shipped model again")
    parser.add_argument("--min-articles", type=positive_int, default=MIN_ARTICLES, metavar="N",
                        help=f"refuse to adapt from fewer Arabic articles (default: {MIN_ARTICLES})")
    parser.add_argument("--max-sentences", type=positive_int, default=DEFAULT_MAX_SENTENCES, metavar="N",
                        help="read at most N sentences of the articles, a sample spread over the warehouse "
                             f"(default: {DEFAULT_MAX_SENTENCES:,})")
    parser.add_argument("--iterations", type=positive_int, default=None, metavar="N",
                        help="training iterations (default: the shipped model's); fewer for a quick, weaker trial")
    parser.add_argument("--train-sentences", type=positive_int, default=None, metavar="N",
                        help="train on the first N labelled sentences only (a quick, weaker trial)")


def _note(message: str) -> None:
    print(f"akhbar: {message}", file=sys.stderr)


def cmd_ner_adapt(args: argparse.Namespace) -> int:
    # imported here: they bring numpy and the CRF, which other `akhbar` commands do not pay for
    from extractors.entities.training.adapt import AdaptError

    try:
        return _reset() if args.reset else _adapt(args)
    except AdaptError as exc:
        _err(str(exc))
        return EXIT_USAGE


def _reset() -> int:
    from extractors.entities.training.adapt import reset

    previous = reset()
    if previous is None:
        print("no adapted model installed: crf uses the shipped model")
    else:
        print(f"removed the adapted model {previous}: crf uses the shipped model again")
    return EXIT_OK


def _checked_db(db: str) -> str | Path:
    from extractors.entities.training.adapt import AdaptError

    if is_lake(db):
        return db  # read through warehouse.connection.connect, like a file
    path = Path(db)
    if path.is_dir():
        raise AdaptError(f"--db {db} is a directory; give the path of a DuckDB file")
    if not path.is_file():
        raise AdaptError(f"no database at {db}: run `akhbar ingest` first, or pass --db")
    return path


def _adapt(args: argparse.Namespace) -> int:
    from extractors.entities.training.adapt import (
        AdaptError,
        adapt,
        check_train_extra,
        check_training_data,
        prepare_root,
    )

    db = _checked_db(str(args.db))
    check_train_extra()
    check_training_data(allow_fewer=args.allow_fewer_corpora)
    root = prepare_root()
    stored = count_articles(db)
    if stored < args.min_articles:
        raise AdaptError(f"{db} has {stored} article(s) with text; adapting needs at least {args.min_articles} "
                         "Arabic articles (ingest more news first)")
    params = {"max_iterations": args.iterations} if args.iterations else None
    _note(f"learning from the articles of {db}; the model goes to {root}")
    try:
        result = adapt(article_texts(db), source=str(db), params=params, max_train_sentences=args.train_sentences,
                       max_user_sentences=args.max_sentences, min_articles=args.min_articles, log=_note)
    except OSError as exc:  # a full disk, say: nothing was installed, the previous model stays in use
        _err(f"could not build the adapted model in {root}: {exc.strerror or exc}; the previous model stays in use")
        return EXIT_ERROR
    installed, text = result.installed, result.text
    print(f"adapted model installed in {installed.folder} ({installed.model_id}), learned from {text.articles:,} "
          f"articles ({len(text.sentences):,} sentences) in {result.seconds:.0f}s")
    print("the crf backend uses it now (auto too, unless the camel model is installed); re-tag stored articles "
          f"with `akhbar reprocess --backend crf --db {db}`; go back with `akhbar ner adapt --reset`")
    return EXIT_OK


def count_articles(db: str | Path) -> int:
    con = connect(db, read_only=True)
    try:
        return int(one_row(con, ARTICLES_WITH_TEXT)[0])
    except duckdb.CatalogException:
        from extractors.entities.training.adapt import AdaptError

        raise AdaptError(f"{db} is not an akhbar warehouse (it has no articles table)") from None
    finally:
        con.close()


def article_texts(db: str | Path, page: int = PAGE_ARTICLES) -> Iterator[str]:
    """The stored article texts, in pages of `page` articles, each page read on its own connection."""
    after = ""
    while True:
        con = connect(db, read_only=True)
        try:
            rows = con.execute(ARTICLE_TEXTS_PAGE, {"after": after, "limit": page}).fetchall()
        finally:
            con.close()
        if not rows:
            return
        after = rows[-1][0]
        yield from (text for _, text in rows)
