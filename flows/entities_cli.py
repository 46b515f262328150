"""Command-line handlers for entities: `akhbar ner` (CoNLL tokens, or raw text with --plain / --text) and
`akhbar entities alias` (spelling variants merged into one entity).

Each `add_*_arguments(parser)` adds a command's options to an argparse parser; each `cmd_*(args)` runs it and
returns the exit code: 0 done, 1 failed (a backend that cannot load, a database problem), 2 bad usage (printed
as one line, `akhbar: error: ...`). flows/cli.py wires them in (`add_ner_parser`, `add_entities_parser`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from extractors.entities.base import BACKENDS
from flows.cli_common import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from flows.cli_common import error as _err
from warehouse.connection import DEFAULT_DB_PATH, WarehouseError

NER_DESCRIPTION = """\
Tag Arabic text with PERS, LOC, ORG and MISC entities.

CoNLL mode (the default): one token per line, optionally followed by a space or tab and anything (tags, other
columns: ignored); a blank line ends a sentence. Output: token<TAB>tag per line in strict IOB2, with the same
sentence breaks. A line of running text (several Arabic words before a tab, or three or more space-separated
fields that are all Arabic words) is not a token: it is an error (exit 2) naming the line; use --plain for such
input.

Plain mode (--plain, or --text "..."): raw text is tokenised and split into sentences as articles are, and each
entity is printed on one line as start<TAB>end<TAB>type<TAB>text, where start and end are 0-based character
offsets (Unicode code points, end exclusive) into the input exactly as read (text[start:end] is the entity; a tab
or line break inside it is printed as a space).
"""


# ------------------------------------------------------------------------------------------------ akhbar ner


def add_ner_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `akhbar ner`."""
    parser.add_argument("--backend", default="auto", choices=BACKENDS,
                        help="entity recogniser (default: auto = camel when its model is installed, else crf)")
    parser.add_argument("--input", default=None, metavar="FILE",
                        help="read this UTF-8 file instead of standard input")
    parser.add_argument("--plain", action="store_true",
                        help="the input is raw text, not CoNLL tokens: print start<TAB>end<TAB>type<TAB>text per "
                             "entity (character offsets into the input)")
    parser.add_argument("--text", default=None, metavar="TEXT",
                        help="tag this text (implies --plain; no --input)")


def _read_text(path: str | None, stdin: TextIO) -> str:
    """The whole input as a string, line endings as they are (offsets count every character read)."""
    if path is None:
        raw = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read()
    else:
        raw = Path(path).read_bytes()
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"--input {path}" if path else "standard input"
        raise ValueError(f"{where} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None


def _check_ner_args(args: argparse.Namespace) -> str | None:
    """The one-line usage error of these arguments, or None."""
    if args.text is not None and args.input:
        return "give either --text or --input, not both"
    if args.input and not Path(args.input).is_file():
        return f"--input {args.input}: no such file"
    return None


def cmd_ner(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """`akhbar ner`: CoNLL tokens in, token<TAB>tag out; or raw text in (--plain, --text), entities out."""
    from extractors.entities.mentions import (
        ConllLineError,
        EntityError,
        entity_line,
        get_backend,
        plain_entities,
        tag_conll,
    )

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    problem = _check_ner_args(args)
    if problem:
        _err(problem)
        return EXIT_USAGE
    plain = args.plain or args.text is not None
    try:
        text = args.text if args.text is not None else (_read_text(args.input, stdin) if plain else None)
    except (ValueError, OSError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    try:
        backend = get_backend(args.backend)
    except EntityError as exc:
        _err(str(exc))
        return EXIT_ERROR
    if text is not None:
        for mention in plain_entities(text, backend):
            stdout.write(entity_line(mention) + "\n")
        return EXIT_OK
    try:
        if args.input:
            with open(args.input, encoding="utf-8") as stream:
                _write_conll(tag_conll(stream, backend), stdout)
        else:
            _write_conll(tag_conll(stdin, backend), stdout)
    except ConllLineError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except UnicodeDecodeError as exc:
        _err(f"{'--input ' + args.input if args.input else 'standard input'} is not UTF-8 text ({exc.reason})")
        return EXIT_USAGE
    return EXIT_OK


def _write_conll(lines, stdout: TextIO) -> None:
    for line in lines:
        stdout.write(line + "\n")


# ------------------------------------------------------------------------------------------------ akhbar entities


ALIAS_DESCRIPTION = """\
Merge spelling variants into one entity («ترمب» into «ترامب»): `akhbar entities alias VARIANT CANONICAL`.
Names are written as in the news; akhbar makes their keys with its own normalisation, so «أوباما» and «اوباما»
need no alias. An alias applies to every entity type, to articles already stored and to those to come. A starter
list of common variants ships with akhbar; `--list` shows every alias, `--remove VARIANT` removes one (a starter
one too). Queries, the report and the entities table group by the merged entity and show it as most often
written.
"""


def add_entities_alias_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `akhbar entities alias`."""
    parser.add_argument("variant", nargs="?", metavar="VARIANT", help="the spelling to merge, as written")
    parser.add_argument("canonical", nargs="?", metavar="CANONICAL",
                        help="the entity to merge it into, as written")
    parser.add_argument("--list", action="store_true", help="list every alias (starter and yours)")
    parser.add_argument("--remove", default=None, metavar="VARIANT", help="remove the alias of this spelling")
    parser.add_argument("--db", default=DEFAULT_DB_PATH, help=f"DuckDB file (default: {DEFAULT_DB_PATH})")
    parser.add_argument("--format", default="table", choices=["table", "csv", "json"],
                        help="output of --list (default: table)")


def add_entities_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `entities` (with its subcommand `alias`) to an argparse subcommand set; `func` is `cmd_entities_alias`."""
    entities = sub.add_parser("entities", help="manage entities: merge spelling variants (alias)",
                              description="Manage entities.")
    actions = entities.add_subparsers(dest="entities_command", required=True, metavar="ACTION",
                                      help="alias: merge spelling variants of an entity")
    alias = actions.add_parser("alias", help="merge a spelling variant into an entity; --list, --remove",
                               description=ALIAS_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_entities_alias_arguments(alias)
    alias.set_defaults(func=cmd_entities_alias)
    return entities


def _alias_usage_problem(args: argparse.Namespace) -> str | None:
    given = [name for name, on in (("--list", args.list), ("--remove", args.remove is not None),
                                   ("VARIANT CANONICAL", args.variant is not None)) if on]
    if len(given) != 1:
        return ("give VARIANT CANONICAL, --list or --remove VARIANT (exactly one)" if not given
                else f"give only one of {', '.join(given)}")
    if args.variant is not None and args.canonical is None:
        return "give the entity to merge into: akhbar entities alias VARIANT CANONICAL"
    return None


def cmd_entities_alias(args: argparse.Namespace) -> int:
    """`akhbar entities alias`: add (VARIANT CANONICAL), list (--list) or remove (--remove VARIANT) an alias."""
    from warehouse.aliases import AliasError, add_alias, list_aliases, remove_alias
    from warehouse.formatting import render

    problem = _alias_usage_problem(args)
    if problem:
        _err(problem)
        return EXIT_USAGE
    try:
        if args.list:
            cols, rows = list_aliases(args.db)
            out = render(cols, rows, args.format)
            sys.stdout.write(out if out.endswith("\n") else out + "\n")
        elif args.remove is not None:
            change = remove_alias(args.db, args.remove)
            print(f"removed: {change.variant} is its own entity again (was merged into {change.canonical})")
        else:
            change = add_alias(args.db, args.variant, args.canonical)
            if change.unchanged:
                print(f"already merged: {change.variant} -> {change.canonical}")
                return EXIT_OK
            note = f"; it was merged into {change.replaced} before" if change.replaced else ""
            moved = f"; its own variants ({', '.join(change.moved)}) follow it" if change.moved else ""
            print(f"merged: {change.variant} -> {change.canonical} ({change.mentions} stored mentions){note}{moved}")
    except AliasError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except WarehouseError as exc:
        _err(str(exc))
        return EXIT_ERROR
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ wiring


def add_ner_parser(sub: argparse._SubParsersAction, epilog: str) -> argparse.ArgumentParser:
    """Add `ner` (func `cmd_ner`) to an argparse subcommand set; flows/cli.py adds `ner adapt` under it."""
    ner = sub.add_parser("ner", help="tag CoNLL tokens, or raw text with --plain / --text (entities with offsets)",
                         description=NER_DESCRIPTION, epilog=epilog,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    add_ner_arguments(ner)
    ner.set_defaults(func=cmd_ner)
    return ner
