"""Static files under content-hashed names, cached by browsers for a year, compressed once per version.

`url_for("static", filename="app.css")` gives `/static/app.<hash>.css`, where the hash is the first 12 hex digits
of the file's SHA-256. That URL is served with `Cache-Control: public, max-age=31536000, immutable`: a browser
asks for the stylesheet once, not on every page view, and a deploy that changes the file changes its name.
A name with an old hash (a page cached before a deploy) still gets the current file, revalidated each time;
plain names are served as before (no-cache with an ETag).

The files are small (tens of KB), so each is read once per modification time and kept with its Brotli and gzip
forms at the highest levels: compressing app.css on every request, as a generic response compressor does, is work
done again and again for the same bytes (and flask-compress streams file responses without closing the file).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path

import brotli
from flask import Flask, Response, abort, current_app, request
from werkzeug.security import safe_join

YEAR = 365 * 24 * 3600
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<suffix>\.[A-Za-z0-9]+)$")
COMPRESSIBLE = ("text/", "application/javascript", "image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon")


@dataclass
class StaticFile:
    data: bytes
    digest: str
    mimetype: str
    encoded: dict[str, bytes] = field(default_factory=dict)

    def body(self, encoding: str | None) -> bytes:
        if encoding is None:
            return self.data
        if encoding not in self.encoded:
            if encoding == "br":
                self.encoded[encoding] = brotli.compress(self.data, quality=11)
            else:
                self.encoded[encoding] = gzip.compress(self.data, compresslevel=9, mtime=0)
        return self.encoded[encoding]


_files: dict[tuple[str, float], StaticFile] = {}


def _path(folder: str, filename: str) -> Path | None:
    joined = safe_join(folder, filename)
    return Path(joined) if joined is not None and Path(joined).is_file() else None


def load(path: Path) -> StaticFile:
    """The file's bytes and hash, read once per modification time (edits show at once under `make run`)."""
    key = (str(path), path.stat().st_mtime)
    found = _files.get(key)
    if found is None:
        data = path.read_bytes()
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        found = _files[key] = StaticFile(data, hashlib.sha256(data).hexdigest()[:12], mimetype)
    return found


def hashed_name(folder: str, filename: str) -> str:
    """`app.css` -> `app.<hash>.css`; a name that is not a file in the folder stays as it is."""
    path = _path(folder, filename)
    stem, dot, suffix = filename.rpartition(".")
    if path is None or not dot or not stem or "/" in suffix:
        return filename
    return f"{stem}.{load(path).digest}.{suffix}"


def init_app(app: Flask) -> None:
    """Hash the names `url_for` builds, serve static files from memory, and answer /favicon.ico."""

    @app.url_defaults
    def hash_static_names(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and app.static_folder:
            values["filename"] = hashed_name(app.static_folder, values["filename"])

    app.view_functions["static"] = serve
    app.add_url_rule("/favicon.ico", "favicon", favicon)


def _encoding(mimetype: str) -> str | None:
    if not mimetype.startswith(COMPRESSIBLE):
        return None
    accepted = request.accept_encodings
    return "br" if accepted["br"] else "gzip" if accepted["gzip"] else None


def _send(file: StaticFile, max_age: int, immutable: bool = False) -> Response:
    encoding = _encoding(file.mimetype)
    response = current_app.response_class(file.body(encoding), mimetype=file.mimetype)
    response.vary.add("Accept-Encoding")
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response.set_etag(f"{file.digest}-{encoding or 'identity'}")
    if max_age:
        response.cache_control.public = True
        response.cache_control.max_age = max_age
        response.cache_control.immutable = immutable or None
    else:
        response.cache_control.no_cache = True
    return response.make_conditional(request)


def serve(filename: str) -> Response:
    folder = current_app.static_folder or ""
    found = _HASHED.match(filename)
    if found is not None and (path := _path(folder, f"{found['stem']}{found['suffix']}")) is not None:
        file = load(path)
        if file.digest == found["digest"]:
            return _send(file, YEAR, immutable=True)
        return _send(file, 0)
    path = _path(folder, filename)
    if path is None:
        abort(404)
    return _send(load(path), 0)


def favicon() -> Response:
    """Browsers and feed readers ask for /favicon.ico whatever the page links: a day of caching at a fixed URL."""
    return _send(load(Path(current_app.static_folder or "") / "favicon.ico"), 24 * 3600)
