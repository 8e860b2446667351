"""Settings: precedence, types, unsafe production values, and docs that list every knob."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from paperfeed.config import Settings
from paperfeed.errors import ConfigError


def test_defaults_are_the_embedded_sqlite_development_setup():
    s = Settings.load(env={})
    assert s.database_url == "sqlite:///paperfeed.db" and s.environment == "development"
    assert s.signing_key  # development has a fixed key so `paperfeed serve` just works


def test_precedence_toml_then_env_then_overrides(tmp_path):
    f = tmp_path / "paperfeed.toml"
    f.write_text('[paperfeed]\nport = 9000\nsite_name = "lab papers"\nworkers = 3\n')
    s = Settings.load(f, env={"PAPERFEED_PORT": "9100", "PAPERFEED_WORKERS": "2"}, workers=5)
    assert (s.site_name, s.port, s.workers) == ("lab papers", 9100, 5)


def test_env_config_path_is_read(tmp_path):
    f = tmp_path / "x.toml"
    f.write_text('base_url = "https://papers.example.org"\n')
    s = Settings.load(env={"PAPERFEED_CONFIG": str(f)})
    assert s.base_url == "https://papers.example.org"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"PAPERFEED_PORT": "eighty"}, "PAPERFEED_PORT .*valid integer.*'eighty'"),
        (
            {"PAPERFEED_ENVIRONMENT": "staging"},
            "PAPERFEED_ENVIRONMENT.*development' or 'production",
        ),
        ({"PAPERFEED_METRICS_ENABLED": "maybe"}, "PAPERFEED_METRICS_ENABLED.*boolean"),
        ({"PAPERFEED_WORKERS": "0"}, "PAPERFEED_WORKERS.*greater than or equal to 1"),
        ({"PAPERFEED_HTTP_TIMEOUT": "-1"}, "PAPERFEED_HTTP_TIMEOUT"),
        ({"PAPERFEED_MAIL_BACKEND": "sendmail"}, "PAPERFEED_MAIL_BACKEND.*'console' or 'smtp'"),
        ({"PAPERFEED_ENVIRONMENT": "production"}, "PAPERFEED_SECRET_KEY"),
        ({"PAPERFEED_ENVIRONMENT": "production", "PAPERFEED_SECRET_KEY": "short"}, "32"),
        ({"PAPERFEED_PAGE_SIZE_DEFAULT": "500"}, "page_size_default"),
    ],
)
def test_bad_values_are_refused_with_a_reason(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.load(env=env)


def test_production_with_a_real_secret_starts():
    s = Settings.load(env={"PAPERFEED_ENVIRONMENT": "production", "PAPERFEED_SECRET_KEY": "k" * 40})
    assert s.signing_key == "k" * 40


def test_unknown_setting_in_toml_is_named(tmp_path):
    f = tmp_path / "paperfeed.toml"
    f.write_text("databse_url = 'typo'\n")
    with pytest.raises(ConfigError, match="databse_url"):
        Settings.load(f, env={})


def test_configuration_doc_lists_every_setting():
    doc = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    missing = [env for _n, env, _d, _h in Settings.describe() if f"`{env}`" not in doc]
    assert not missing, (
        f"regenerate docs/configuration.md (python docs/gen_configuration.py): {missing}"
    )


@pytest.mark.parametrize(
    "raw, expected",
    [("false", False), ("False", False), ("0", False), ("no", False), ("off", False)]
    + [("true", True), ("1", True), ("yes", True), ("on", True)],
)
def test_booleans_from_the_environment_mean_what_they_say(raw, expected):
    """Finding 12: "false" became a truthy string."""
    s = Settings.load(env={"PAPERFEED_METRICS_ENABLED": raw})
    assert s.metrics_enabled is expected


def test_values_are_typed_from_every_source(tmp_path):
    f = tmp_path / "paperfeed.toml"
    f.write_text("metrics_enabled = true\nhttp_timeout = 5\nport = 9000\n")
    s = Settings.load(f, env={"PAPERFEED_HTTP_TIMEOUT": "2.5"})
    assert s.metrics_enabled is True and s.port == 9000 and s.http_timeout == 2.5
    assert isinstance(Settings.load(env={}, workers="3").workers, int)


def test_a_bad_toml_value_names_the_setting(tmp_path):
    f = tmp_path / "paperfeed.toml"
    f.write_text('port = "eighty"\n')
    with pytest.raises(ConfigError, match="PAPERFEED_PORT \\(setting port\\)"):
        Settings.load(f, env={})


def test_unknown_variables_with_the_prefix_are_ignored():
    """PAPERFEED_CONFIG and PAPERFEED_TEST_DATABASE_URL are not settings."""
    s = Settings.load(env={"PAPERFEED_TEST_DATABASE_URL": "x", "PAPERFEED_SITE_NAME": "lab"})
    assert s.site_name == "lab"


def test_replace_checks_types_too():
    s = Settings.load(env={})
    with pytest.raises(ValueError):
        dataclasses.replace(s, port="eighty")
    assert dataclasses.replace(s, port=9001).port == 9001


def test_base_url_follows_host_and_port_unless_set():
    from paperfeed.config import local_url

    assert Settings.load(env={}).base_url == "http://127.0.0.1:8000"
    assert Settings.load(env={"PAPERFEED_PORT": "8810"}).base_url == "http://127.0.0.1:8810"
    assert Settings.load(env={}, host="0.0.0.0", port=9000).base_url == "http://127.0.0.1:9000"
    given = {"PAPERFEED_BASE_URL": "https://papers.example.org", "PAPERFEED_PORT": "8810"}
    assert Settings.load(env=given).base_url == "https://papers.example.org"
    assert local_url("::1", 80) == "http://[::1]:80" and local_url("lab.local", 1) == (
        "http://lab.local:1"
    )
