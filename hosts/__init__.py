"""The hosts harness: workers on many hosts (network namespaces) against one store, with
delay, partitions, store cuts and clock skew; ``python -m hosts`` (``make hosts``)."""
