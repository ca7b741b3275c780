# syntax=docker/dockerfile:1
# OpsGate: one image for the controller (`opsgate operator`) and the execution Jobs
# (`opsgate execute`: ansible-runner with ansible-core, kubectl, OpenTofu). Runs as a non-root
# user; the chart mounts a read-only root filesystem with writable /tmp and /var/lib/opsgate.
#   docker build -t ghcr.io/opsgate/opsgate:0.1.0 --build-arg TOFU_VERSION=1.10.6 .
# The tag is part of every plan digest (the executor image): build one tag per release.
# Bases are pinned by version; pin them by digest too (image@sha256:…) in your registry mirror.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG GO_IMAGE=golang:1.24.9-bookworm

# --- OpenTofu, built from its Go module exactly as hack/build-tofu.sh does for the tests -------
FROM ${GO_IMAGE} AS tofu
ARG TOFU_VERSION=1.10.6
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-minimal \
    && rm -rf /var/lib/apt/lists/*
COPY hack/build-tofu.sh /usr/local/bin/build-tofu.sh
RUN TOFU_VERSION="${TOFU_VERSION}" OPSGATE_CACHE=/out build-tofu.sh \
    && cp "/out/tofu-${TOFU_VERSION}/bin/tofu" /tofu \
    && /tofu version

# --- kubectl (the playbooks call it), the release binary checked against its published sha256 ----
FROM ${PYTHON_IMAGE} AS kubectl
ARG KUBECTL_VERSION=1.34.2
ARG TARGETARCH=amd64
RUN python - <<'EOF'
import hashlib, os, urllib.request
url = f"https://dl.k8s.io/release/v{os.environ['KUBECTL_VERSION']}/bin/linux/{os.environ['TARGETARCH']}/kubectl"
binary = urllib.request.urlopen(url, timeout=120).read()
expected = urllib.request.urlopen(url + ".sha256", timeout=60).read().decode().split()[0]
assert hashlib.sha256(binary).hexdigest() == expected, "kubectl checksum mismatch"
with open("/kubectl", "wb") as out:
    out.write(binary)
os.chmod("/kubectl", 0o755)
EOF

# --- the opsgate wheel --------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- the image -----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --gid 65532 opsgate \
    && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin opsgate
# opsgate with its dependencies, ansible-core and ansible-runner among them. The playbooks use
# only ansible.builtin modules, so no collection is installed (tests/unit/test_dockerfile.py).
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY --from=tofu /tofu /usr/local/bin/tofu
COPY --from=kubectl /kubectl /usr/local/bin/kubectl
COPY policies /opt/opsgate/policies
COPY playbooks /opt/opsgate/playbooks
COPY terraform /opt/opsgate/terraform
COPY docs /opt/opsgate/docs
ENV OPSGATE_HOME=/opt/opsgate \
    OPSGATE_CACHE_DIR=/opt/opsgate/cache \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The offline embedder's tokenizer (pinned, sha256-checked) is fetched and its int8 model derived
# once here, so no pod pays for them at start; onnx (opsgate[model]) is needed for that build only.
RUN pip install --no-cache-dir "onnx>=1.16,<2" \
    && python -m opsgate.rag.minilm \
    && pip uninstall --yes onnx \
    && chmod -R a+rX /opt/opsgate
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["opsgate"]
CMD ["operator"]
