"""gunicorn settings for Landdesk.

    gunicorn -c deploy/gunicorn.conf.py 'booking:create_app()'

Environment: LANDDESK_BIND (default 127.0.0.1:$PORT or 127.0.0.1:8000),
LANDDESK_WORKERS (default 2 per CPU + 1), PROMETHEUS_MULTIPROC_DIR (systemd
sets /run/landdesk/metrics; default: a fresh temporary directory).
"""

import os
import shutil
import tempfile

bind = os.environ.get("LANDDESK_BIND") or f"127.0.0.1:{os.environ.get('PORT', 8000)}"
workers = int(os.environ.get("LANDDESK_WORKERS", 2 * (os.cpu_count() or 1) + 1))
# Behind the TLS proxy on the same host: trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("LANDDESK_FORWARDED_ALLOW_IPS", "127.0.0.1")
timeout = 30
graceful_timeout = 20
accesslog = "-"
# The request id joins these lines to the application's (docs/operations.md).
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" rid=%({x-request-id}o)s'

# Metrics of all workers are added up from files in one directory
# (prometheus-client multiprocess mode). It is chosen here, when gunicorn
# reads this file, because the app (with --preload in the master) must not
# import prometheus_client before it is set; and it must not hold the files
# of an earlier run.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, mode=0o700)
else:
    _metrics_dir = tempfile.mkdtemp(prefix="landdesk-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)
