# syntax=docker/dockerfile:1
# The kubesat operator image: `make image` (docker build -t kubesat:<version> .).
#
# Two stages on the same pinned base: the first builds a virtualenv with kubesat and its
# operator extras (Kopf, the Kubernetes client, prometheus-client) and traces the AP8
# radiation grids once; the second copies only that virtualenv and cache, and runs as an
# unprivileged user. The Helm chart runs it with a read-only root filesystem.
#
# The base is pinned to an exact Python patch release and Debian release. To pin by
# digest too, pass the digest of the tag you pulled:
#   docker build --build-arg PYTHON_IMAGE=python:3.11.15-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/kubesat/venv
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so that editing the code does not
# reinstall numpy, scipy, astropy and Kopf. Every dependency ships manylinux wheels
# (aep8 included): no compiler is needed.
COPY pyproject.toml README.md ./
RUN mkdir -p operator/kubesat \
    && touch operator/kubesat/__init__.py \
    && /opt/kubesat/venv/bin/pip install '.[operator]' \
    && /opt/kubesat/venv/bin/pip uninstall -y kubesat
COPY operator ./operator
RUN /opt/kubesat/venv/bin/pip install --no-deps '.[operator]' \
    && /opt/kubesat/venv/bin/kubesat --help >/dev/null
# The AP8 trapped-proton grids (solar minimum and maximum) take ~30-45 s each to trace,
# and their belt masks ~9 s each: do it once here. The chart's init container copies
# them into its writable cache.
RUN KUBESAT_CACHE=/opt/kubesat/cache /opt/kubesat/venv/bin/python -c \
    "from kubesat.core.radiation import ProtonFluxGrid; [ProtonFluxGrid.load_or_build(s).belt_cells() for s in ('min', 'max')]" \
    && chmod -R a+rX /opt/kubesat/cache

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="kubesat" \
      org.opencontainers.image.description="Orbital AI data center as a Kubernetes cluster: the kubesat operator" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric uid/gid (the chart's runAsUser/runAsGroup), no login shell, no home.
RUN groupadd --system --gid 10001 kubesat \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin kubesat
COPY --from=build /opt/kubesat/venv /opt/kubesat/venv
COPY --from=build --chown=10001:10001 /opt/kubesat/cache /opt/kubesat/cache
# HOME and the XDG dirs point at /tmp (an emptyDir in the chart) because the root
# filesystem is read-only there; bytecode was compiled at install time.
ENV PATH=/opt/kubesat/venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_CONFIG_HOME=/tmp/.config \
    MPLCONFIGDIR=/tmp/matplotlib \
    KUBESAT_CACHE=/opt/kubesat/cache
USER 10001:10001
WORKDIR /tmp
# 8080: liveness (/healthz); 9090: Prometheus metrics (/metrics).
EXPOSE 8080 9090
ENTRYPOINT ["kubesat"]
CMD ["operator", "--all-namespaces", "--liveness-port", "8080", "--metrics-port", "9090"]
