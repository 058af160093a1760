# syntax=docker/dockerfile:1
# upload-signer production image: gunicorn serving the API, configured entirely by environment
# variables (docs/operations.md). Build: `docker build -t upload-signer .`
#
# Its start command is exactly what tests/test_dockerfile.py runs against a real Swift.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: a virtualenv holding the package and its runtime dependencies, nothing else ---------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# The package alone: neither the `embedded` Swift server (development and tests only) nor the
# test tools end up in the image. Optional provider extras by name only, e.g.
# `docker build --build-arg EXTRAS=keystone .`
ARG EXTRAS=""
RUN /opt/venv/bin/pip install ".${EXTRAS:+[$EXTRAS]}" \
    && /opt/venv/bin/pip uninstall --yes pip setuptools wheel

# -- runtime: the same slim base, the virtualenv and the two entry files, as a non-root user -----
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000
RUN groupadd --system --gid 10001 upload-signer \
    && useradd --system --uid 10001 --gid upload-signer --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin upload-signer
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/upload-signer
COPY gunicorn.conf.py wsgi.py ./
USER 10001:10001
EXPOSE 8000
# Liveness only: /readyz (storage reachable) is for the load balancer, which should stop sending
# traffic without the container being restarted while storage is down.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
