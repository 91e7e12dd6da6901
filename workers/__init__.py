"""dramatiq actors: thin wrappers that open a session, call one core function, then enqueue."""

# What a worker process imports (``dsr worker``, the benchmarks' pools): the pipeline's actors,
# the scheduler's, and the keeper thread (claims, heartbeat, leases, re-drive).
PROCESS_MODULES = ("workers.actors", "workers.maintenance", "workers.keeper_boot")
