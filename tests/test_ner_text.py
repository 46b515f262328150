"""Free text in: `akhbar ner --text` and `--plain`, and running text in CoNLL mode refused with the line number.

The handler is flows/entities_cli.cmd_ner (flows/cli.py wires it in as `akhbar ner`); the process tests run it
as `python -m flows.cli ner`, with the shipped CRF model."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys

import pytest
from conftest import REPO

from extractors.entities.mentions import ConllLineError, entity_line, plain_entities, tag_conll
from extractors.records import Mention
from flows.entities_cli import add_ner_arguments, cmd_ner

SENTENCE = "قال الرئيس الأمريكي جو بايدن في واشنطن إن الأمم المتحدة ستجتمع في جنيف."


class FakeBackend:
    name = "fake"

    def __init__(self, names: dict[str, str]):
        self.names = names

    def tag(self, sentences):
        return [[self.names.get(tok, "O") for tok in sent] for sent in sentences]


NAMES = {"بايدن": "B-PERS", "واشنطن": "B-LOC", "بيروت": "B-LOC", "الأمم": "B-ORG", "المتحدة": "I-ORG", "جنيف": "B-LOC"}


def ner(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", "ner", *argv], input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), "AKHBAR_CAMEL_MODEL": ""})


def ner_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_ner_arguments(parser)
    return parser.parse_args(list(argv))


def test_plain_entities_have_exact_offsets_and_one_line_each():
    text = "  " + SENTENCE + "\r\nوفي\tجنيف\nقال ..."
    found = plain_entities(text, FakeBackend(NAMES))
    assert [(m.entity_type, m.text) for m in found] == [
        ("PERS", "بايدن"), ("LOC", "واشنطن"), ("ORG", "الأمم المتحدة"), ("LOC", "جنيف"), ("LOC", "جنيف")]
    assert all(text[m.start:m.end] == m.text for m in found)
    assert entity_line(found[2]) == f"{found[2].start}\t{found[2].end}\tORG\tالأمم المتحدة"
    # a tab or line break inside an entity stays on its line
    assert entity_line(Mention("ORG", "الأمم\tالمتحدة", "x", 3, 16)) == "3\t16\tORG\tالأمم المتحدة"


def test_text_option_prints_entities_with_offsets_from_a_real_process():
    r = ner("--backend", "crf", "--text", SENTENCE)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines, "the CRF finds something in this sentence"
    for line in lines:
        start, end, etype, text = line.split("\t")
        assert SENTENCE[int(start):int(end)] == text and etype in {"PERS", "LOC", "ORG", "MISC"}
    assert any(line.endswith("\tواشنطن") for line in lines)
    # the same text on standard input with --plain gives the same lines
    assert ner("--backend", "crf", "--plain", stdin=SENTENCE).stdout == r.stdout


def test_plain_input_file_offsets_count_every_character(tmp_path):
    path = tmp_path / "news.txt"
    text = "\ufeff" + SENTENCE + "\r\n\r\n" + SENTENCE
    path.write_bytes(text.encode("utf-8"))
    out = io.StringIO()
    assert cmd_ner(ner_args("--backend", "crf", "--plain", "--input", str(path)), stdout=out) == 0
    rows = [line.split("\t") for line in out.getvalue().splitlines()]
    assert rows and all(text[int(s):int(e)] == t for s, e, _, t in rows)
    assert len({t for *_, t in rows if int(rows[0][0]) < len(SENTENCE) + 1}) >= 1
    assert any(int(s) > len(SENTENCE) for s, *_ in rows)  # the second copy, offsets past the CRLFs


def test_running_text_in_conll_mode_is_an_error_naming_the_line():
    lines = ["قال O\n", "بيروت\tB-LOC\n", "الأمم anything else\n", "\n", SENTENCE + "\n"]
    with pytest.raises(ConllLineError) as caught:
        list(tag_conll(lines, FakeBackend(NAMES)))
    assert caught.value.line_number == 5
    assert "line 5" in str(caught.value) and "--plain" in str(caught.value)
    # tags and other columns after the token are still fine
    assert list(tag_conll(lines[:4], FakeBackend(NAMES))) == ["قال\tO", "بيروت\tB-LOC", "الأمم\tB-ORG", ""]
    with pytest.raises(ConllLineError, match="line 1 "):
        list(tag_conll(["توني بلير\tB-PERS\n"], FakeBackend(NAMES)))  # two words before the tab
    # a token with its lemma and part of speech, space-separated, is CoNLL, not running text
    columns = ["كتب كَتَبَ VERB\n", "في في PREP\n", "بيروت بيروت\n"]
    assert [line.split("\t")[0] for line in tag_conll(columns, FakeBackend(NAMES))] == ["كتب", "في", "بيروت"]


def test_conll_mode_process_exits_2_with_one_line_and_no_output():
    r = ner("--backend", "crf", stdin="قال\nالرئيس\n\n" + SENTENCE + "\n")
    assert r.returncode == 2
    assert r.stdout == ""  # nothing half-tagged: every sentence is read before any is written
    assert r.stderr.count("\n") == 1 and "line 4" in r.stderr and "--plain" in r.stderr
    ok = ner("--backend", "crf", stdin="قال\nالرئيس\n\nفي\nبيروت B-LOC\n")
    assert ok.returncode == 0 and ok.stdout.splitlines()[:2] == ["قال\tO", "الرئيس\tO"]
    assert ok.stdout.splitlines()[3].startswith("في\t")


def test_bad_ner_arguments_are_one_line_usage_errors(tmp_path, capsys):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café".encode("latin-1"))
    for argv in (["--text", "x", "--input", str(path)], ["--input", str(tmp_path / "none.txt")],
                 ["--plain", "--input", str(path)], ["--input", str(path)]):
        assert cmd_ner(ner_args("--backend", "crf", *argv), stdout=io.StringIO()) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("akhbar: error:"), (argv, err)
    assert cmd_ner(ner_args("--text", "", "--backend", "crf"), stdout=io.StringIO()) == 0
