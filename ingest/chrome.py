"""Site chrome that survives in saved pages and copied text: the U.S. government banner
("An official website of the United States government / Here's how you know"), skip links and
cookie notices. Whole lines or blocks only: a sentence that mentions a website stays."""

from __future__ import annotations

import re

_CHROME = re.compile(
    r"^(?:"
    r"an official website of the (?:united states|u\.\s?s\.) government\.?"
    r"|here['’]s how you know\.?"
    r"|official websites use \.(?:gov|mil)\b.*"
    r"|a \.(?:gov|mil) website belongs to an official .*"
    r"|secure \.(?:gov|mil) websites use https\b.*"
    r"|a lock \(.{0,40}\) or https:// means .*"
    r"|un sitio oficial del gobierno de (?:los )?estados unidos\.?"
    r"|así es como usted puede verificarlo\.?"
    r"|skip to (?:main )?content\.?|ir al contenido(?: principal)?\.?"
    r"|(?:this|our) (?:web)?site uses cookies\b.*|we use cookies\b.*"
    r"|este sitio (?:web )?utiliza cookies\b.*|utilizamos cookies\b.*"
    r"|(?:accept|reject|decline)(?: all)? cookies\.?|cookie (?:settings|preferences)\.?"
    r")$",
    re.IGNORECASE,
)
_MAX_CHROME_CHARS = 400


def is_chrome(text: str) -> bool:
    """Whether a line or block is site chrome, not content."""
    text = " ".join(text.split())
    return len(text) <= _MAX_CHROME_CHARS and bool(_CHROME.match(text))


def drop_chrome_lines(text: str) -> str:
    """Plain text without its chrome lines (kept as blank lines, so paragraphs stay apart)."""
    if not any(
        word in text[:200_000].lower()
        for word in ("website", "cookie", "skip to", "sitio", "contenido")
    ):
        return text  # the common case: nothing to look at line by line
    return "\n".join("" if is_chrome(line) else line for line in text.split("\n"))
