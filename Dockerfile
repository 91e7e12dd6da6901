# The production image: the wheel only (no demo extra), run as an unprivileged user.
# `--build-arg EXTRAS=demo` adds the demo extra (dsr seed, dsr demo): docker-compose.yml does,
# so its one-shot `seed` service can create the demo stores the default connectors.yaml names.
FROM python:3.11-slim
ARG EXTRAS=""
WORKDIR /src
# Everything the wheel is built from: each folder is a package of its own.
COPY pyproject.toml README.md ./
COPY dsr dsr
COPY api api
COPY cli cli
COPY config config
COPY connectors connectors
COPY demo demo
COPY scheduler scheduler
COPY workers workers
RUN pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}" && rm -rf /src
RUN useradd --system --home-dir /var/lib/dsr --create-home dsr
USER dsr
WORKDIR /var/lib/dsr
ENV DSR_VAR_DIR=/var/lib/dsr
VOLUME ["/var/lib/dsr"]
ENTRYPOINT ["dsr"]
