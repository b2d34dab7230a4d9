"""Per-connection rate limits, shared by every worker process and machine.

A connection's ``rate_limit`` ("5/s", "60/m", "1000/h") caps the requests sent on its behalf in
any window of that length (a sliding window, not fixed buckets: never more than 5 in any one
second). Calls over the limit wait their turn, bounded by their own timeout; one that cannot get
a slot in time fails with a retryable error. Counted in Redis when there is one
(RATE_LIMIT_REDIS_URL, by default the broker's), else in the database (a row per connection,
locked while a slot is taken), which works on the embedded SQLite default.

Every outbound call made as a connection goes through ``connection_request`` (HTTP) or
``connection_throttle`` (other protocols) in ``integrations.ratelimits.throttle``.
"""
