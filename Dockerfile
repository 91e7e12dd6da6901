FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dsr dsr
COPY config config
COPY workers workers
COPY connectors connectors
COPY scheduler scheduler
RUN pip install --no-cache-dir .
ENV DSR_VAR_DIR=/var/lib/dsr
VOLUME ["/var/lib/dsr"]
ENTRYPOINT ["dsr"]
