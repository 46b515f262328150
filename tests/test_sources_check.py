"""`akhbar sources check FILE`, run as a user runs it (a subprocess) against local HTTP sites on 127.0.0.1: the
file is validated, every robots.txt, feed and sitemap probed, no article fetched and nothing written."""

import json
import os
import subprocess
import sys
from pathlib import Path

from localsite import xml

from flows.sample_site import StaticSite

AKHBAR = str(Path(sys.executable).parent / "akhbar")


def akhbar(*args, cwd):
    return subprocess.run([AKHBAR, *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"})


def dead_origin():
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_check_reports_each_source_without_ingesting_and_strict_exit_says_whether_all_are_healthy(site, tmp_path):
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /closed/\n")
    site.routes["/closed/rss.xml"] = xml("<rss version='2.0'><channel></channel></rss>")
    site.routes["/broken.xml"] = xml("<urlset><url><loc>")
    dead = dead_origin()
    with StaticSite() as sample:
        sources = tmp_path / "sources.toml"
        sources.write_text(sample.sources_toml("sample") + f"""
[[sources]]
name = "closed"
feeds = ["{site.base}/closed/rss.xml"]
sitemaps = ["{site.base}/broken.xml"]
requests_per_second = 0

[[sources]]
name = "dead"
feeds = ["{dead}/rss.xml"]
""", encoding="utf-8")
        r = akhbar("sources", "check", str(sources), "--allow-private-addresses", cwd=tmp_path)
        strict = akhbar("sources", "check", str(sources), "--allow-private-addresses", "--strict", cwd=tmp_path)
        as_json = akhbar("sources", "check", str(sources), "--allow-private-addresses", "--format", "json",
                         cwd=tmp_path)
        served = list(sample.requests)
    assert r.returncode == 0, r.stderr  # a valid file: unreachable sources are reported, not fatal
    assert strict.returncode == 1 and strict.stdout == r.stdout
    out = r.stdout
    assert "sample: healthy, 18 article URLs, newest 2024-03-14 07:30 UTC" in out
    assert f"robots.txt    200  {sample.base_url}/robots.txt  allows the feeds and sitemaps; names 1 sitemap(s)" in out
    assert f"feed          200  {sample.base_url}/rss.xml  9 items, newest 2024-03-14 05:00 UTC" in out
    assert f"sitemap       200  {sample.base_url}/sitemap-news.xml  12 items" in out
    assert "closed: UNHEALTHY" in out and f"disallows {site.base}/closed/rss.xml" in out
    assert f"{site.base}/broken.xml  unreadable sitemap: not a readable sitemap" in out
    assert "dead: UNHEALTHY, 0 article URLs" in out and "robots.txt unreachable" in out
    assert out.rstrip().endswith("1 of 3 sources healthy (a check: nothing was fetched beyond robots.txt, feeds "
                                 "and sitemaps, nothing stored)")
    # nothing but robots.txt, feeds and sitemaps was asked for, and nothing was written
    assert sorted(set(served)) == ["/robots.txt", "/rss.xml", "/sitemap-news.xml"]
    assert "/closed/rss.xml" not in site.paths()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources.toml"]
    checks = {c["name"]: c for c in json.loads(as_json.stdout)}
    assert [checks[n]["healthy"] for n in ("sample", "closed", "dead")] == [True, False, False]
    assert checks["sample"]["newest"] == "2024-03-14T07:30:00+00:00"
    assert {d["kind"]: d["items"] for d in checks["sample"]["documents"]} == {"feed": 9, "sitemap": 12}


def test_every_source_healthy_exits_0_even_with_strict(tmp_path):
    with StaticSite() as sample:
        sources = tmp_path / "sources.toml"
        sources.write_text(sample.sources_toml(), encoding="utf-8")
        r = akhbar("sources", "check", str(sources), "--allow-private-addresses", "--strict", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 of 1 sources healthy" in r.stdout


def test_an_invalid_file_is_one_line_and_exit_2_before_any_request(site, tmp_path):
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[sources]]\nname = "x"\nfeeds = ["{site.base}/rss.xml"]\nmax_artcles = 3\n', encoding="utf-8")
    r = akhbar("sources", "check", str(sources), cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "'x'" in r.stderr and "max_artcles" in r.stderr and r.stdout == ""
    assert site.requests == []
    r = akhbar("sources", "check", str(tmp_path / "none.toml"), cwd=tmp_path)
    assert r.returncode == 2 and "sources file not found" in r.stderr


def test_private_addresses_are_refused_unless_allowed(tmp_path):
    with StaticSite() as sample:
        sources = tmp_path / "sources.toml"
        sources.write_text(sample.sources_toml(), encoding="utf-8")
        r = akhbar("sources", "check", str(sources), cwd=tmp_path)
        served = list(sample.requests)
    assert r.returncode == 0 and "UNHEALTHY" in r.stdout and "--allow-private-addresses" in r.stdout and served == []
