"""``make bench``: throughput, lookup scaling, purge rate and export memory against targets.

Entry point: ``python -m benchmarks.run`` (see ``benchmarks/README.md``). Every speed is also
given as a ratio to a baseline measured in the same run, because the machines are noisy.
"""
