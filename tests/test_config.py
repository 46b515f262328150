import pytest

from extractors.config import ConfigError, load_config

GOOD = """
[crawl]
user_agent = "test-agent/1"
timeout_seconds = 5

[[sources]]
name = "one"
homepage = "https://example.com/"
feeds = ["https://example.com/rss.xml"]
timezone = "Asia/Riyadh"

[[sources]]
name = "two"
sitemaps = ["https://example.org/sitemap.xml"]
requests_per_second = 0
"""


def write(tmp_path, text):
    p = tmp_path / "sources.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_config_with_defaults(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.crawl.user_agent == "test-agent/1"
    assert [s.name for s in cfg.sources] == ["one", "two"]
    assert cfg.sources[0].max_articles == 200 and cfg.sources[0].max_concurrency == 2
    assert cfg.sources[1].requests_per_second == 0 and cfg.sources[1].timezone == "UTC"


@pytest.mark.parametrize(
    "snippet, words",
    [
        ('[[sources]]\nname = "x"\nfeeds = ["https://e.com/f"]\nmax_artcles = 3\n', ["'x'", "max_artcles"]),
        ('[[sources]]\nname = "x"\nfeeds = ["https://e.com/f"]\nmax_articles = "many"\n', ["'x'", "max_articles"]),
        ('[[sources]]\nname = "x"\nfeeds = ["ftp://e.com/f"]\n', ["'x'", "feeds"]),
        ('[[sources]]\nname = "x"\nfeeds = ["https://e.com/f"]\ntimezone = "Mars/Base"\n', ["'x'", "timezone"]),
        ('[[sources]]\nname = "x"\nfeeds = ["https://e.com/f"]\nrequests_per_second = -1\n', ["'x'", "requests_per_second"]),
        ('[[sources]]\nname = "x"\n', ["'x'", "feeds"]),
        ('[[sources]]\nname = "x"\nfeeds = ["https://e.com/f"]\n[[sources]]\nname = "x"\nfeeds = ["https://e.com/g"]\n',
         ["'x'", "name"]),
        ('[crawl]\nspeed = 3\n[[sources]]\nname = "x"\nfeeds = ["https://e.com/f"]\n', ["crawl", "speed"]),
        ("[[sources]]\nname = \n", ["not valid TOML"]),
        ("", ["no [[sources]]"]),
    ],
)
def test_bad_config_names_source_and_key(tmp_path, snippet, words):
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, snippet))
    for w in words:
        assert w in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_shipped_starter_config_is_valid():
    from conftest import REPO

    cfg = load_config(REPO / "sources.toml")
    assert len(cfg.sources) >= 3
