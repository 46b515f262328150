"""Query and search output: what a hostile headline cannot do to a terminal or a spreadsheet."""

import csv
import io

from warehouse.formatting import render

HOSTILE_TITLE = "\x1b[2J\x1b]0;pwned\x07عنوان\u202eفقرة\u2066x\u2069\x9b"


def test_table_output_shows_control_and_bidi_characters_as_escapes():
    out = render(["title", "n\x1b"], [(HOSTILE_TITLE, 1)], "table")
    assert not any(ch in out for ch in "\x1b\x07\x9b\u202e\u2066\u2069")
    assert "\\x1b[2J\\x1b]0;pwned\\x07عنوان\\u202eفقرة\\u2066x\\u2069\\x9b" in out
    assert out.splitlines()[0].endswith("| n\\x1b")


def test_table_output_keeps_ordinary_arabic_text_as_it_is():
    out = render(["title"], [("«مجلس الأمن» يجتمع، اليوم — ٣ آذار",)], "table")
    assert "«مجلس الأمن» يجتمع، اليوم — ٣ آذار" in out


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_text():
    out = render(["title", "n"], [('=HYPERLINK("http://x")', -3), ("+1", 2.5), ("-2", None), ("@SUM(A1)", 0),
                                  ("عنوان", 1)], "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "عنوان"]
    assert [r[1] for r in rows[1:]] == ["-3", "2.5", "", "0", "1"]  # numbers keep their sign
