FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY etl ./etl
COPY schema ./schema
COPY flows ./flows
COPY migrations ./migrations
RUN pip install -c constraints.txt .
VOLUME ["/data"]
ENTRYPOINT []
CMD ["ctmirror", "--help"]
