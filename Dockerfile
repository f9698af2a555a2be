# The shopstream image for docker-compose.yml (the broker is the official apache/kafka image).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY events events
COPY producers producers
COPY consumers consumers
COPY readmodels readmodels
COPY api api
COPY models models
COPY infra infra
COPY shopstream shopstream
RUN pip install --no-cache-dir -c constraints.txt .
# Installed as root, run as a user that owns nothing but its data folder.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /data shopstream \
    && mkdir -p /data && chown shopstream:shopstream /data
USER shopstream
ENV SHOPSTREAM_DATA_DIR=/data
VOLUME /data
ENTRYPOINT ["shopstream"]
