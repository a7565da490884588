"""Staff passwords as NIST SP 800-63B asks: long enough, not common, not guessable from the account; no
composition rules (no forced digits or symbols), since those make passwords harder to remember, not to guess.

The check uses zxcvbn, which ships frequency lists of common passwords (the 30,000 most common of leaked
corpora), English words, names and keyboard patterns, and estimates how many guesses a password takes.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128
# zxcvbn's score 3: about 10^8 guesses or more ("safely unguessable: moderate protection from offline attacks").
MIN_SCORE = 3


def password_problem(password: str, email: str = "") -> str | None:
    """Why `password` may not be used for the account `email`, or None if it may."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password may have at most {MAX_LENGTH} characters"
    local, _, domain = email.lower().partition("@")
    result = zxcvbn(password, user_inputs=[part for part in (local, domain, email.lower(), "kundenpuls") if part])
    if result["score"] < MIN_SCORE:
        warning = result["feedback"].get("warning") or "it is too easy to guess"
        return f"the password is too common or too easy to guess ({warning.rstrip('.')}); try a few unrelated words"
    return None
