"""Writes docs/configuration.md from the Settings class: `python docs/gen_configuration.py`."""

from pathlib import Path

from paperfeed.config import Settings

HEAD = """# Configuration

Settings are read, the last one winning, from: built-in defaults; a TOML file (`--config FILE`,
`PAPERFEED_CONFIG`, or `paperfeed.toml` in the working directory; keys at the top level or in a
`[paperfeed]` table); `PAPERFEED_*` environment variables; command-line options.
`paperfeed config` prints the values in force.

Example `paperfeed.toml`:

```toml
database_url = "postgresql://paperfeed@localhost/paperfeed"
environment = "production"
base_url = "https://papers.example.org"
```

| setting | environment variable | default | meaning |
| --- | --- | --- | --- |
"""

TAIL = """
## Secrets

`secret_key` signs sessions and links. With `environment = "production"` paperfeed refuses to
start without one of at least 32 characters; make one with
`python -c 'import secrets; print(secrets.token_urlsafe(48))'`.
"""


def render() -> str:
    rows = [
        f"| `{name}` | `{env}` | `{default!r}` | {help_text} |"
        for name, env, default, help_text in Settings.describe()
    ]
    return HEAD + "\n".join(rows) + "\n" + TAIL


if __name__ == "__main__":
    (Path(__file__).parent / "configuration.md").write_text(render())
