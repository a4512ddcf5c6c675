# syntax=docker/dockerfile:1
# Build stage: a wheel of the service and its dependencies, with the compilers it may need.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY app ./app
RUN python -m build --wheel --outdir /wheels . \
    && pip wheel --no-cache-dir --wheel-dir /wheels /wheels/*.whl

# Runtime stage: only the wheels, the migrations, and a non-root user.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1
RUN groupadd --system app && useradd --system --gid app --home-dir /srv/app --create-home app
WORKDIR /srv/app
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels gocardless-zoho && rm -rf /wheels
# `gocardless-zoho migrate` looks for migrations/ beside the installed package.
COPY migrations /usr/local/lib/python3.11/site-packages/migrations
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["gocardless-zoho", "serve", "--host", "0.0.0.0", "--port", "8000"]
