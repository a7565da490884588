"""Staff passwords as NIST SP 800-63B asks: long enough, not common, not guessable from the account; no
composition rules (no forced digits or symbols), since those make passwords harder to remember, not to guess.

The check uses zxcvbn, which ships frequency lists of common passwords (the 30,000 most common of leaked
corpora), English words, names and keyboard patterns, and estimates how many guesses a password takes.
"""

from __future__ import annotations

from flask_babel import gettext
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128
# zxcvbn's score 3: about 10^8 guesses or more ("safely unguessable: moderate protection from offline attacks").
MIN_SCORE = 3


def password_problem(password: str, email: str = "") -> str | None:
    """Why `password` may not be used for the account `email`, or None if it may."""
    if len(password) < MIN_LENGTH:
        return gettext("the password must have at least %(n)s characters", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return gettext("the password may have at most %(n)s characters", n=MAX_LENGTH)
    local, _, domain = email.lower().partition("@")
    result = zxcvbn(password, user_inputs=[part for part in (local, domain, email.lower(), "kundenpuls") if part])
    if result["score"] < MIN_SCORE:
        # zxcvbn's own hint (English only) goes in brackets.
        warning = result["feedback"].get("warning") or "it is too easy to guess"
        return gettext(
            "the password is too common or too easy to guess (%(why)s); try a few unrelated words",
            why=warning.rstrip("."),
        )
    return None
