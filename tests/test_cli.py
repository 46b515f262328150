"""The `akhbar` command line, run as a user runs it (a subprocess of the installed console script)."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from conftest import REPO

AKHBAR = str(Path(sys.executable).parent / "akhbar")
GOLD = json.loads((REPO / "samples" / "expected.json").read_text(encoding="utf-8"))


def akhbar(*args, input=None, cwd=None, timeout=300):
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
    return subprocess.run([AKHBAR, *args], input=input, capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def test_bad_config_exits_2_naming_source_and_key(tmp_path):
    bad = tmp_path / "s.toml"
    bad.write_text('[[sources]]\nname = "x"\nfeeds = ["https://e.com/rss"]\nrequests_per_secnd = 1\n', encoding="utf-8")
    r = akhbar("ingest", "--sources", str(bad), "--db", str(tmp_path / "d.duckdb"))
    assert r.returncode == 2
    assert "'x'" in r.stderr and "requests_per_secnd" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "d.duckdb").exists()


def test_demo_runs_and_a_second_run_shows_the_same_result(tmp_path):
    db = tmp_path / "demo.duckdb"
    outs = []
    for _ in range(2):
        r = akhbar("demo", "--db", str(db), cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-2000:]
        outs.append(r.stdout)
        con = duckdb.connect(str(db), read_only=True)
        outs.append(con.execute("SELECT count(*) FROM articles").fetchone()[0])
        outs.append(con.execute("SELECT count(*) FROM mentions").fetchone()[0])
        con.close()
    n_articles = sum("expect" not in g for g in GOLD.values())
    assert outs[1] == outs[4] == n_articles and outs[2] == outs[5] > 0
    assert f"stored {n_articles}" in outs[0] and "top entities" in outs[0] and str(db) in outs[0]


def test_query_formats(tmp_path):
    from extractors.records import ExtractedArticle, Mention, ProcessedArticle
    from warehouse.store import Warehouse

    wh = Warehouse(tmp_path / "q.duckdb")
    wh.migrate()
    a = ExtractedArticle(url="https://e.com/1", title="عنوان", author=None,
                         published_at=datetime(2024, 3, 1, tzinfo=UTC), language="ar", text="في بغداد اليوم")
    wh.load([ProcessedArticle("id1", a.url, "s", a, "h", a.published_at, None, [Mention("LOC", "بغداد", "بغداد", 3, 8)], "crf")], [], "r")
    r = akhbar("query", "top-entities", "--param", "type=LOC", "--format", "json", "--db", str(tmp_path / "q.duckdb"))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert isinstance(data, list) and data[0]["entity"] == "بغداد" and data[0]["mentions"] == 1
    r = akhbar("query", "SELECT title FROM articles", "--format", "csv", "--db", str(tmp_path / "q.duckdb"))
    assert r.stdout.splitlines() == ["title", "عنوان"]
    r = akhbar("query", "top-entitis", "--db", str(tmp_path / "q.duckdb"))
    assert r.returncode == 2 and "no named query" in r.stderr and "top-entities" in r.stderr
    r = akhbar("query", "top-entities", "--db", str(tmp_path / "none.duckdb"))
    assert r.returncode == 1 and "akhbar ingest" in r.stderr


def test_extract_prints_contract_json():
    page = REPO / "samples" / "site" / "economy" / "german-car-industry.html"
    r = akhbar("extract", str(page), "--url", "https://example.com/economy/german-car-industry.html")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("url", "title", "author", "published_at", "language", "text", "credit"):
        assert key in out
    gold = GOLD["/economy/german-car-industry.html"]
    assert out["title"] == gold["title"] and out["language"] == "ar"
    assert datetime.fromisoformat(out["published_at"]) == datetime.fromisoformat(gold["published_at"])
    assert all(s in out["text"] for s in gold["with"]) and not any(s in out["text"] for s in gold["without"])


def test_ner_cli_reproduces_library_tags():
    from extractors.entities.mentions import get_backend

    sentences = [["قال", "الرئيس", "جورج", "بوش", "في", "واشنطن", "."], ["التقى", "كوفي", "أنان", "في", "بيروت", "."]]
    stdin = "\n\n".join("\n".join(f"{t} O" for t in s) for s in sentences) + "\n"
    r = akhbar("ner", "--backend", "crf", input=stdin)
    assert r.returncode == 0, r.stderr
    blocks = [b for b in r.stdout.strip("\n").split("\n\n")]
    got = [[line.split("\t") for line in b.splitlines()] for b in blocks]
    expected = get_backend("crf").tag(sentences)
    assert [[t for t, _ in s] for s in got] == sentences
    assert [[tag for _, tag in s] for s in got] == expected
    assert any(tag != "O" for s in expected for tag in s)


def test_reprocess_without_database_is_a_clear_error(tmp_path):
    for db in (str(tmp_path / "none.duckdb"), f"ducklake:sqlite:{tmp_path / 'none.sqlite'}"):
        r = akhbar("reprocess", "--db", db)
        assert r.returncode == 1 and "no database" in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_bad_setting_exits_2_with_one_line_naming_the_variable(tmp_path):
    for var, value in (("AKHBAR_TASK_RUNNER", "bogus"), ("AKHBAR_SHARED_POLITENESS", "maybe")):
        env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING", var: value}
        r = subprocess.run([AKHBAR, "query", "--list"], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 2, r.stderr
        assert r.stdout == "" and len(r.stderr.splitlines()) == 1
        assert r.stderr.startswith("akhbar: error: ") and var in r.stderr and value in r.stderr


def test_version_is_the_package_version():
    from importlib.metadata import version

    r = akhbar("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"akhbar {version('akhbar')}"


def test_bad_arguments_are_one_line_and_exit_2_before_anything_starts(tmp_path):
    """Each checked before Prefect or DuckDB starts: one line naming the option, exit 2, nothing created."""
    db = tmp_path / "d.duckdb"
    cases = [
        (("ingest", "--sources", str(REPO / "sources.toml"), "--limit", "-3", "--db", str(db)), "--limit"),
        (("ingest", "--sources", str(REPO / "sources.toml"), "--db", str(tmp_path)), "is a directory"),
        (("search", "x", "--limit", "-1", "--db", str(db)), "--limit"),
        (("ner", "--input", str(tmp_path / "nope.txt")), "--input"),
        (("export", "--format", "parquet", "/proc/nope/x", "--db", str(db)), "/proc/nope/x"),
        (("ingest-urls", "not a url", "--db", str(db)), "'not a url'"),
    ]
    for args, named in cases:
        r = akhbar(*args, timeout=60)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and named in r.stderr, (args, r.stderr)
    assert not db.exists()


def test_query_parameter_values_are_checked_with_a_hint(tmp_path):
    db = tmp_path / "q.duckdb"
    duckdb.connect(str(db)).close()
    r = akhbar("query", "top-entities", "--param", "type=PER", "--db", str(db))
    assert r.returncode == 2 and "did you mean PERS?" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = akhbar("query", "top-entities", "--param", "limit=-1", "--db", str(db))
    assert r.returncode == 2 and "--param limit=-1" in r.stderr and "LIMIT" not in r.stderr


def test_a_port_left_in_time_wait_by_a_stopped_server_counts_as_free():
    """Restarting `akhbar serve` right after stopping it: its old connections linger in TIME-WAIT."""
    import socket
    import threading

    from flows.serve import port_free

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    client = socket.create_connection(("127.0.0.1", port))
    while not accepted:
        pass
    accepted[0].close()  # the server side closes first: its end of the connection stays in TIME-WAIT
    client.close()
    server.close()
    assert port_free("127.0.0.1", port) is True  # free again at once
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    try:
        assert port_free("127.0.0.1", listening.getsockname()[1]) is False  # a real listener still counts
    finally:
        listening.close()


def test_a_run_that_fetched_nothing_because_everything_failed_is_a_failure(tmp_path):
    """Every source unreachable: exit 1, the causes one line each, `runs` and Prefect say failed."""
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    sources = tmp_path / "dead.toml"
    sources.write_text(f'[[sources]]\nname = "dead-a"\nfeeds = ["{dead}/rss.xml"]\n\n'
                       f'[[sources]]\nname = "dead-b"\nsitemaps = ["{dead}/sitemap.xml"]\n', encoding="utf-8")
    db = tmp_path / "d.duckdb"
    r = akhbar("ingest", "--sources", str(sources), "--db", str(db), "--allow-private-addresses")
    assert r.returncode == 1, r.stderr[-3000:]
    errors = [line for line in r.stderr.splitlines() if line.startswith("akhbar: error: ")]
    assert errors[0] == "akhbar: error: nothing was fetched; first causes:"
    assert [e.split(": ")[2] for e in errors[1:]] == ["dead-a", "dead-b"]
    assert all("robots.txt unreachable" in e and "Task run encountered" not in e for e in errors[1:])
    assert "Traceback" not in r.stderr
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT status, fetched FROM runs").fetchall() == [("failed", 0)]
    con.close()


def test_a_run_where_some_sources_fail_completes_with_true_counts(tmp_path):
    from flows.sample_site import StaticSite

    sources = tmp_path / "mixed.toml"
    db = tmp_path / "m.duckdb"
    with StaticSite() as site:
        sources.write_text(site.sources_toml() + '\n[[sources]]\nname = "dead"\nfeeds = ["http://127.0.0.1:9/rss"]\n',
                           encoding="utf-8")
        r = akhbar("ingest", "--sources", str(sources), "--db", str(db), "--allow-private-addresses")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "source dead: discovered 0, stored 0, failed 0  (nothing discovered: " in r.stdout
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT status, stored, failed FROM runs").fetchall() == [("completed", 16, 2)]
    con.close()


def test_every_option_has_help_and_help_lists_the_exit_codes():
    import argparse

    from flows.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {a.option_strings or a.dest}" for name, sp in sub.choices.items() for a in sp._actions
               if not isinstance(a, argparse._HelpAction) and not a.help]
    assert missing == []
    for args in (("--help",), ("ingest", "--help"), ("sources", "--help")):
        r = akhbar(*args, timeout=60)
        assert r.returncode == 0
        codes = r.stdout[r.stdout.index("exit codes:"):]
        assert all(f"  {code} " in codes for code in (0, 1, 2, 130, 143)), r.stdout


def test_a_bad_since_date_is_one_line_and_exit_2(tmp_path):
    for value, words in (("2024-13-01", "YYYY-MM-DD"), ("yesterday", "YYYY-MM-DD"), ("2999-01-01", "future")):
        r = akhbar("ingest", "--sources", str(REPO / "sources.toml"), "--since", value,
                   "--db", str(tmp_path / "d.duckdb"), timeout=60)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "--since" in r.stderr and words in r.stderr
    assert not (tmp_path / "d.duckdb").exists()


def test_the_nightly_deployment_description_names_its_schedule_and_time_zone(tmp_path):
    import yaml

    from flows.serve import build_deployments, deployment_specs

    declared = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    for dep in declared:  # what `prefect deploy` shows
        for schedule in dep.get("schedules") or []:
            assert schedule["timezone"] in dep["description"] and schedule["cron"] in dep["description"]
    for specs in (deployment_specs(), deployment_specs(tmp_path / "no-prefect.yaml")):  # what `akhbar serve` shows
        nightly = specs["nightly-ingest"]
        zone = nightly.schedules[0]["timezone"]
        assert zone == "Asia/Riyadh" and f"in {zone}" in nightly.description
    served = {d.name: d for d in build_deployments(tmp_path / "a.duckdb", tmp_path / "s.toml", deployment_specs())}
    assert "Asia/Riyadh" in served["nightly-ingest"].description


def test_the_sample_site_serves_on_its_own_with_its_links_filled_in():
    """`python -m flows.sample_site`: every page, feed and sitemap names the address the browser used."""
    import re
    import signal

    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "flows.sample_site", "--port", "0"], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()
        base = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        port = base.rsplit(":", 1)[1]
        pages = ["/", "/rss.xml", "/sitemap-news.xml", "/robots.txt", "/world/nepal-fuel-shortage.html"]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            for path in pages:
                r = httpx.get(base + path, headers={"Host": host})
                assert r.status_code == 200 and "{{BASE}}" not in r.text, (host, path)
            assert f"http://{host}/world/nepal-fuel-shortage.html" in httpx.get(
                base + "/world/nepal-fuel-shortage.html", headers={"Host": host}).text
        assert "{{BASE}}" in (REPO / "samples" / "site" / "rss.xml").read_text(encoding="utf-8")  # filled in when served
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0


def test_the_demo_suggests_the_duckdb_shell_only_when_it_is_installed(tmp_path):
    """A Python whose directory holds no `duckdb` (the duckdb-cli package not installed) gets no shell suggested."""
    import sysconfig

    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(Path(sys.executable).resolve())
    code = "import sys; from flows.cli import duckdb_shell; print(duckdb_shell())"
    env = {**os.environ, "PATH": "/usr/bin:/bin",
           "PYTHONPATH": os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]])}
    r = subprocess.run([str(bare / "python"), "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.stdout.strip() == "None", r.stderr
    (bare / "duckdb").write_text("#!/bin/sh\n")
    (bare / "duckdb").chmod(0o755)
    r = subprocess.run([str(bare / "python"), "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.stdout.strip() == str(bare / "duckdb"), r.stderr


def test_width_lets_whole_urls_be_copied_from_table_output(tmp_path):
    from extractors.records import ExtractedArticle, ProcessedArticle
    from warehouse.store import Warehouse

    db = tmp_path / "w.duckdb"
    wh = Warehouse(db)
    wh.migrate()
    url = "https://example.com/" + "/".join(["a-long-section-name"] * 6) + "/article.html"
    a = ExtractedArticle(url=url, title="عنوان", author=None, published_at=None, language="ar", text="نص")
    wh.load([ProcessedArticle("id1", url, "s", a, "h", None, None, [], "crf")], [], "r")
    cut = akhbar("query", "SELECT url FROM articles", "--db", str(db))
    assert cut.returncode == 0 and url not in cut.stdout and "…" in cut.stdout  # the default: 60 characters
    for width in ("0", "200"):
        r = akhbar("query", "SELECT url FROM articles", "--width", width, "--db", str(db))
        assert r.returncode == 0 and url in r.stdout.splitlines()[2], r.stdout
    r = akhbar("query", "SELECT url FROM articles", "--width", "-1", "--db", str(db))
    assert r.returncode == 2 and "--width" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_temporary_prefect_server_that_does_not_start_in_time_is_one_line(tmp_path):
    """No server and no time to start one: one line saying what to do, exit 1, no server left behind."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="0")
    r = subprocess.run([AKHBAR, "ingest-urls", "http://127.0.0.1:9/a.html", "--db", str(tmp_path / "d.duckdb")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 1, r.stderr[-3000:]
    assert r.stderr.strip().splitlines()[-1] == (
        "akhbar: error: the temporary Prefect server did not answer within 0 s; start one with `akhbar serve` in "
        "another terminal, or allow more time with PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
    assert "Traceback" not in r.stderr
    from prefect_procs import sweep

    assert not sweep(home), "a server process was left running"


def test_lake_usage_errors_are_one_line_and_exit_2_before_anything_starts(tmp_path):
    """--db ducklake:... with --data-path and --as-of: each misuse is one line naming what to fix, exit 2, and
    nothing is created (no catalog, no data folder)."""
    source = tmp_path / "source.duckdb"
    duckdb.connect(str(source)).close()
    file_db, sources = str(tmp_path / "d.duckdb"), str(REPO / "sources.toml")
    postgres = "ducklake:postgres:dbname=akhbar host=127.0.0.1"
    lake = f"ducklake:sqlite:{tmp_path / 'cat.sqlite'}"
    cases = [
        (("ingest", "--sources", sources, "--db", postgres), "--data-path"),
        (("ingest-urls", "https://example.com/a.html", "--db", postgres), "--data-path"),
        (("reprocess", "--db", postgres), "--data-path"),
        (("migrate-warehouse", "--from", str(source), "--to", postgres), "--data-path"),
        (("ingest", "--sources", sources, "--db", file_db, "--data-path", str(tmp_path / "files")), "--data-path"),
        (("query", "SELECT 1", "--as-of", "2026-01-01T00:00:00Z", "--db", str(source)),
         "--as-of needs a ducklake: warehouse"),
        (("query", "SELECT 1", "--as-of", "yesterday", "--db", lake), "--as-of"),
        (("query", "SELECT 1", "--as-of", "2026-02-30", "--db", lake), "ISO 8601"),
        (("demo", "--db", lake), "DuckDB file"),
        (("migrate-warehouse", "--from", str(tmp_path / "none.duckdb"), "--to", lake), "no such DuckDB file"),
        (("migrate-warehouse", "--from", str(source), "--to", file_db), "--to"),
    ]
    for args, named in cases:
        r = akhbar(*args, timeout=60)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and named in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.duckdb"]


def test_ingest_into_a_lake_then_query_it_now_and_as_of_before_the_next_run(tmp_path):
    """`akhbar ingest --db ducklake:sqlite:...` on the local sample site: the Parquet files go beside the catalog
    (no --data-path), queries read the lake, and --as-of reads it as it was before a later run."""
    from flows.sample_site import StaticSite

    catalog = tmp_path / "catalog.sqlite"
    lake = f"ducklake:sqlite:{catalog}"
    sources = tmp_path / "sources.toml"
    with StaticSite() as site:
        sources.write_text(site.sources_toml(), encoding="utf-8")
        r = akhbar("ingest", "--sources", str(sources), "--db", lake, "--allow-private-addresses", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"database: {lake}" in r.stdout and "stored 16" in r.stdout
    assert list((tmp_path / "catalog.sqlite.files").rglob("*.parquet")), "no Parquet files beside the catalog"
    between = datetime.now(UTC).isoformat()
    # a second run (it fails: nothing to fetch) adds a runs row after that moment
    r = akhbar("ingest-urls", "http://127.0.0.1:9/gone.html", "--db", lake, "--allow-private-addresses", cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-3000:]

    def query(*extra: str) -> list[str]:
        got = akhbar("query", "SELECT (SELECT count(*) FROM articles) || ' ' || (SELECT count(*) FROM runs)",
                     "--format", "csv", "--db", lake, *extra, cwd=tmp_path)
        assert got.returncode == 0, got.stderr
        return got.stdout.splitlines()[1:]

    assert query() == ["16 2"]
    assert query("--as-of", between) == ["16 1"]


def test_migrate_warehouse_copies_a_file_into_a_lake_once(tmp_path):
    from extractors.records import ExtractedArticle, Mention, ProcessedArticle
    from warehouse.store import Warehouse

    source = tmp_path / "file.duckdb"
    wh = Warehouse(source)
    wh.migrate()
    a = ExtractedArticle(url="https://e.com/1", title="عنوان", author=None,
                         published_at=datetime(2024, 3, 1, tzinfo=UTC), language="ar", text="في بغداد اليوم")
    wh.load([ProcessedArticle("id1", a.url, "s", a, "h", a.published_at, None,
                              [Mention("LOC", "بغداد", "بغداد", 3, 8)], "crf")], [], "r")
    lake = f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"
    r = akhbar("migrate-warehouse", "--from", str(source), "--to", lake, "--data-path", str(tmp_path / "files"))
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert "articles: 1 -> 1 rows" in lines and "mentions: 1 -> 1 rows" in lines, r.stdout
    assert list((tmp_path / "files").rglob("*.parquet"))
    got = akhbar("query", "SELECT title FROM articles", "--format", "csv", "--db", lake)
    assert got.returncode == 0 and got.stdout.splitlines() == ["title", "عنوان"], got.stderr
    again = akhbar("migrate-warehouse", "--from", str(source), "--to", lake)
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1, again.stderr
    assert "Traceback" not in again.stderr


def test_served_runs_keep_a_lake_and_its_data_path_under_the_project(tmp_path, monkeypatch):
    """A lake's catalog file and a local data path count as paths under the project directory; a catalog on a
    server and a data path on object storage need `akhbar serve --allow-any-path`."""
    import pytest

    from flows.served_policy import ServedRunRefused, check_served_run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AKHBAR_SERVE_PROJECT_DIR", str(tmp_path))
    check_served_run(db_path="ducklake:sqlite:data/cat.sqlite", data_path="data/files", allow_private_addresses=False)
    check_served_run(db_path="ducklake:data/cat.ducklake", allow_private_addresses=False)
    refused = [
        {"db_path": "ducklake:sqlite:/etc/cat.sqlite"},
        {"db_path": "ducklake:../cat.ducklake"},
        {"db_path": "ducklake:postgres:dbname=akhbar host=10.0.0.5"},
        {"db_path": "ducklake:sqlite:data/cat.sqlite", "data_path": "s3://bucket/akhbar"},
        {"db_path": "ducklake:sqlite:data/cat.sqlite", "data_path": "/var/lake"},
    ]
    for params in refused:
        with pytest.raises(ServedRunRefused, match="outside the project directory"):
            check_served_run(allow_private_addresses=False, **params)
    monkeypatch.setenv("AKHBAR_SERVE_ALLOW_ANY_PATH", "1")
    for params in refused:
        check_served_run(allow_private_addresses=False, **params)


def test_served_deployments_get_the_lake_with_absolute_local_paths(tmp_path, monkeypatch):
    from flows.serve import build_deployments, deployment_specs
    from flows.sinks import absolute_location

    monkeypatch.chdir(tmp_path)
    assert absolute_location("ducklake:sqlite:data/c.sqlite") == f"ducklake:sqlite:{tmp_path / 'data/c.sqlite'}"
    assert absolute_location("ducklake:c.ducklake") == f"ducklake:{tmp_path / 'c.ducklake'}"
    assert absolute_location("ducklake:postgres:dbname=a") == "ducklake:postgres:dbname=a"
    assert absolute_location("s3://bucket/p") == "s3://bucket/p"
    assert absolute_location("files") == str(tmp_path / "files")
    lake = absolute_location("ducklake:sqlite:c.sqlite")
    served = {d.name: d.parameters for d in build_deployments(lake, tmp_path / "s.toml", deployment_specs(),
                                                              "s3://bucket/p")}
    assert served["nightly-ingest"]["db_path"] == lake and served["nightly-ingest"]["data_path"] == "s3://bucket/p"
    assert served["ingest-urls"]["data_path"] == "s3://bucket/p"
    plain = {d.name: d.parameters for d in build_deployments(tmp_path / "a.duckdb", tmp_path / "s.toml",
                                                             deployment_specs())}
    assert "data_path" not in plain["nightly-ingest"] and "data_path" not in plain["ingest-urls"]


def test_a_password_in_db_is_refused_by_every_command_before_anything_starts(tmp_path):
    """A PostgreSQL catalog written with its password is refused, one line saying to use PGPASSWORD or
    ~/.pgpass, exit 2, by the commands that read as much as by those that write; nothing is connected to (no
    server listens there) and nothing is created."""
    source = tmp_path / "source.duckdb"
    duckdb.connect(str(source)).close()
    sources = str(REPO / "sources.toml")
    for secret_db in ("ducklake:postgres:host=127.0.0.1 port=9 dbname=news password=hunter2",
                      "ducklake:postgres:postgresql://news:hunter2@127.0.0.1:9/news"):
        lake = ("--db", secret_db)
        commands = [
            ("query", "SELECT 1", *lake), ("search", "العراق", *lake), ("export", str(tmp_path / "out"), *lake),
            ("report", "--out", str(tmp_path / "r.html"), *lake), ("entities", "alias", "--list", *lake),
            ("ner", "adapt", *lake),
            ("ingest", "--sources", sources, *lake, "--data-path", str(tmp_path / "files")),
            ("ingest-urls", "https://example.com/a.html", *lake, "--data-path", str(tmp_path / "files")),
            ("reprocess", *lake, "--data-path", str(tmp_path / "files")), ("serve", *lake, "--port", "9"),
            ("migrate-warehouse", "--from", str(source), "--to", secret_db, "--data-path", str(tmp_path / "files")),
        ]
        for args in commands:
            r = akhbar(*args, timeout=60)
            assert r.returncode == 2, (args, r.stdout, r.stderr)
            assert len(r.stderr.strip().splitlines()) == 1 and "PGPASSWORD" in r.stderr, (args, r.stderr)
            assert "hunter2" not in r.stderr + r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.duckdb"]


def test_a_lake_keeps_its_data_path_and_another_is_refused_naming_both(tmp_path, monkeypatch):
    """An existing lake's data path is in its catalog: another --data-path would fail inside the run, so the
    command refuses it first (one line naming both paths, exit 2); the same path, given relatively, is accepted."""
    from warehouse.store import Warehouse

    lake = f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"
    Warehouse(lake, data_path=str(tmp_path / "parquet")).migrate()
    other = str(tmp_path / "elsewhere")
    for args in (("ingest", "--sources", str(REPO / "sources.toml")), ("ingest-urls", "https://example.com/a.html"),
                 ("reprocess",)):
        r = akhbar(*args, "--db", lake, "--data-path", other, timeout=60)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert other in r.stderr and str(tmp_path / "parquet") in r.stderr
    from flows.cli import check_lake_data_path

    check_lake_data_path(lake, str(tmp_path / "parquet") + "/")
    monkeypatch.chdir(tmp_path)
    check_lake_data_path(lake, "parquet")  # DuckLake makes a relative path absolute the same way
    assert not (tmp_path / "elsewhere").exists()


def test_commands_that_only_read_take_no_data_path(tmp_path):
    """--data-path only matters when a lake is created: query, search and export refuse it (it used to be
    accepted and ignored)."""
    lake = f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"
    for args in (("query", "SELECT 1"), ("search", "العراق"), ("export", str(tmp_path / "out"))):
        r = akhbar(*args, "--db", lake, "--data-path", str(tmp_path / "files"), timeout=60)
        assert r.returncode == 2 and "--data-path" in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
