"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app` (what `make prod` runs).

Every setting can be overridden from the environment (GUNICORN_CMD_ARGS, or the variables below).
"""

import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# Sync workers: each request is short and database-bound; two per core and one more is gunicorn's advice.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Restart workers now and then, so a slow leak never grows into an outage.
max_requests = 10_000
max_requests_jitter = 1_000
# Behind a load balancer or reverse proxy that sets X-Forwarded-For/-Proto (see README).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None  # the app writes its own access lines, as JSON with the request id
errorlog = "-"

# Request metrics of all workers are summed through files in one directory (prometheus_client multiprocess).
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if not _metrics_dir:
    _metrics_dir = tempfile.mkdtemp(prefix="kundenpuls-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server):
    """Start with empty metric files: counts from an earlier run would be added again."""
    for name in os.listdir(_metrics_dir):
        os.unlink(os.path.join(_metrics_dir, name))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _metrics_dir.startswith(tempfile.gettempdir()) and "kundenpuls-metrics-" in _metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
