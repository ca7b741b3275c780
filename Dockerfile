# OpsGate: one image for the controller (`opsgate operator`) and the execution Jobs
# (`opsgate execute`). Runs as a non-root user with a read-only root filesystem.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin opsgate
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY policies /opt/opsgate/policies
COPY playbooks /opt/opsgate/playbooks
COPY terraform /opt/opsgate/terraform
COPY docs /opt/opsgate/docs
ENV OPSGATE_HOME=/opt/opsgate \
    OPSGATE_CACHE_DIR=/opt/opsgate/cache \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The offline embedder's tokenizer (pinned, sha256-checked) is fetched and its int8 model derived
# once here, so no pod pays for them at start; onnx is needed for that build only.
RUN pip install --no-cache-dir "onnx>=1.16,<2" && python -m opsgate.rag.minilm && pip uninstall --yes onnx
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["opsgate"]
CMD ["operator"]
