"""The hostile-input corpus: values an attacker (or a broken feed) can put in any text field.

Used by tests/test_hostile_corpus.py, which pushes every one through ingest and checks every way
out (pages, the API, feeds, digest mail, the command line). Add to it whenever a new kind of
payload turns up; the tests pick it up unchanged.
"""

from __future__ import annotations

# The payloads issue 11 reported, as they were sent.
REPORTED = [
    "javascript:alert(document.domain)",
    "=?utf-8?q?victim=40victim.example?=,attacker@evil.example",
    "alice@example.org(1)",
    "<alice@example.org",
    "bob@exa\u00admple.org",
    "g:a,b;@evil.org",
    "2608.00020v99999999999999999999999",
    "\ud800",
    "\x00",
    "\x01x",
    "\ufffe",
]

XSS = [
    "<script>alert(1)</script>",
    "</script><script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "<a href=javascript:alert(1)>click</a>",
    "<iframe src=javascript:alert(1)></iframe>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "<style>*{display:none}</style>",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    "<base href=https://evil.example/>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    "[click](javascript:alert(1))",
    "data:text/html,<script>alert(1)</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "{{ 7*7 }}{% raw %}",
    "<!-- x",
    "]]><x>",
    "<![CDATA[<script>alert(1)</script>]]>",
    "\u2028\u2029alert(1)",
    '" onfocus=alert(1) autofocus="',
    'https://github.com/a/b" onmouseover="alert(1)',
]

TERMINAL = [
    "\x1b[31mred\x1b[0m",
    "\x1b]8;;https://evil.example\x07click me\x1b]8;;\x07",
    "\x1b]52;c;ZXZpbA==\x07",  # writes the clipboard
    "\x1b]0;new window title\x1b\\",
    "\x1b[2J\x1b[H",  # clears the screen
    "\x1bP+q544e\x1b\\",  # DCS
    "\x9b31mC1 CSI",
    "\x9d0;title\x9c",
    "visible\roverwritten",
    "back\x08\x08\x08space",
    "bell\x07",
    "\u202eevil.exe\u202c",
    "[bold red]markup[/]",
    "[/]",
    "[link=https://evil.example]x[/link]",
]

XML_ILLEGAL = ["\x00", "\x08", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff", "\ud800", "\udfff"]

ENCODED = [
    "=?utf-8?b?PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==?=",
    "=?iso-8859-1?q?=3Cscript=3E?=",
    "x\r\nBcc: evil@evil.example",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "\\u003cscript\\u003e",
]

OTHER = [
    "'; DROP TABLE papers; --",
    "%_\\",
    "\U0001d54f astral \U0001f600",
    "e\u0301 combining",
    "zero\u200bwidth\ufeffbom",
    "A" * 5000,  # over the title bound: that record is rejected, the rest land
]

TEXT = REPORTED + XSS + TERMINAL + XML_ILLEGAL + ENCODED + OTHER

# Numbers for upvotes, versions and comment counts.
NUMBERS = [2**63, 2**64, 2**31, -1, 10**30, 1.5, 1e400, True, "12", None]

CORPUS_SIZE = len(TEXT) + len(NUMBERS)
