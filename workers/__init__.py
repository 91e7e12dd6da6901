"""dramatiq actors: thin wrappers that open a session, call one core function, then enqueue."""
