# One image for the API, the worker and the migrations; the command picks the role.

# The web app, built from its lock file; the API serves the files at /app.
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./
RUN npm run build

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY api api
COPY domain domain
COPY workflows workflows
COPY activities activities
COPY adapters adapters
COPY simulators simulators
COPY workers workers
COPY backtest backtest
COPY --from=web /web/dist web/dist
ENV WEB_DIST_DIR=/app/web/dist
# The candles the paper venue replays (data/README.md); read from here, not from site-packages.
COPY data data
ENV PAPER_DATA_DIR=/app/data/ohlcv
RUN pip install -c requirements.lock . && useradd --system --uid 10001 crypteras
USER crypteras
EXPOSE 8000
CMD ["crypteras", "api", "--host", "0.0.0.0"]
