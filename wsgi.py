"""Entry point for gunicorn ("wsgi:app") and the flask CLI ("flask --app wsgi")."""

import gc

from app import create_app

app = create_app()
# What the app built at start (modules, models, routes, templates' caches: about 200,000 objects) lives as long as
# the process: keep the collector from walking it. A full collection over it paused a worker for 117-134 ms about
# every 5,000 requests (the widget check, measured in-process); frozen, none was needed in 5,000 requests.
gc.freeze()
