"""`make bench`: throughput and latency of every backend, as a table and as JSON."""
