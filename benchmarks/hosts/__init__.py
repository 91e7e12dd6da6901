"""Two worker hosts as network namespaces sharing only the servers (``benchmarks.hosts.run``)."""
