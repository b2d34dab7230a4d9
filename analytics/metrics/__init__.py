"""Prometheus metrics at ``/metrics``, read from the database when Prometheus scrapes.

Executions run on any number of worker processes and machines, and the database already holds
every outcome; reading it at scrape time gives the same numbers whichever web process answers,
with nothing to add up across processes and nothing lost when a process restarts. Each scrape
runs about a dozen aggregate queries on indexed columns. docs/deploy.md lists every metric.

Three kinds of number:

- counters that only grow: finishes by workflow and status (the workflow's own counters, which
  the engine moves in the same transaction as each finish, so retention never lowers them) and
  alert messages by channel and outcome;
- gauges of the present: queue depth, running executions, expired leases, pending alert
  deliveries, live workers (one broker broadcast per ``WORKERS_CACHE_S`` per process), and the age
  of Beat's last sweep;
- the recent window (``METRICS_WINDOW_S``, default 24 h, by execution creation time): executions
  by status, retries, re-claimed executions, outbound HTTP responses, and step and execution
  durations as gauge histograms (``histogram_quantile`` over their buckets as they are, no
  ``rate()``).
"""

from analytics.metrics.view import metrics_view

__all__ = ["metrics_view"]
