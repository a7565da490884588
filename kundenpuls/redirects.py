"""Where a `next` or `back` parameter may send the browser: a path on this site, nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (the caller falls back to its own page).

    Browsers read `//host`, `/\\host`, `\\\\host` and the same with tabs or newlines between the slashes as another
    site, so the path must start with one slash followed by neither slash nor backslash, and carry no backslash and
    no control character anywhere.
    """
    if not target or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return None
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None
