"""What every `akhbar` command handler shares: the exit codes, the one-line error, argument types.

flows/cli.py builds the parser; the handlers of flows/entities_cli.py and flows/ner_adapt.py use these too, so
a user error looks and exits the same whichever command met it. Nothing heavy is imported here.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def error(message: str) -> None:
    """A problem for the user, on one line of standard error."""
    print(f"akhbar: error: {message}", file=sys.stderr)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
