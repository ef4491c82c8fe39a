#!/usr/bin/env bash
# One script for the lent GPU machine (x86-64 Linux, NVIDIA GPU, no network):
#   bench  the bench (`deno run -A bench/main.ts`: matmul, conv2d, training
#          samples/s against TF.js 4.22 webgpu/wasm) → $OUT/bench.md, bench.json,
#          then its opt-in train-profile section (where a step's time goes) →
#          $OUT/profile.md
#   torch  bench/pytorch_ae.py: the same models in PyTorch (fp32, eager, batch
#          256) for reference → $OUT/pytorch.txt (skipped where torch is missing)
#   dec    the full-MNIST DEC study (`demos/mnist_dec.ts --full --seeds …
#          --stages kmeans,ae,dec,idec --out $OUT/dec`) → $OUT/dec/report.md,
#          dec_log.csv, pictures.tar
#   convdec  its conv-DEC stage (`--stages convdec`, DCEC's recipe: 200 conv
#          pretraining epochs) → $OUT/convdec/ (opt-in: name it)
# and $OUT/run.log with everything printed (environment, adapter, progress).
#
# ---------------------------------------------------------------- how to run
# Here, once (needs the npm registry and Debian's packages; ~4 min):
#     bash bench/gpu/prepare.sh          # fills .gl/ .deno-bin/ .gpu-carry/ (~42 MB)
#     bash bench/gpu/check_offline.sh    # this script, --tiny, offline, on lavapipe
# On the GPU, with the device tool (each call ≤ 600 s; the DEC study at full
# size takes longer than one call, so it is split by seeds):
#     run(carry: [".gl", ".deno-bin", ".gpu-carry"], timeout_s: 600,
#         command: "bash bench/gpu/run.sh bench")
#     run(carry: [".gl", ".deno-bin", ".gpu-carry"], timeout_s: 600,
#         command: "bash bench/gpu/run.sh --seeds 1 torch dec")
#     run(… same carry …, command: "bash bench/gpu/run.sh --seeds 2,3 dec")   # and so on
#     run(… same carry …, command: "bash bench/gpu/run.sh --seeds 1 convdec")
# Expected (unmeasured; lavapipe is no guide): the bench (--quick) 4-6 min
# (TF.js-wasm cells run on the CPU), PyTorch ~1 min, each full-MNIST seed a few minutes
# (82 200 pretraining steps + up to 20 000 DEC and IDEC steps each): read
# the first seed's stage times in run.log to size the next calls. A session
# has 30 min of device time: the bench plus 2-3 seeds fit, not 5.
# A call's parts stop 15 s before its limit (RUN_LIMIT_S, default 590) so
# what they wrote still comes back; the study prints each seed's rows to
# run.log as they finish. At most 8 files come back: run.log, bench.md,
# profile.md, bench.json, pytorch.txt, dec/{report.md,dec_log.csv,pictures.tar}.
#
# Options:
#   --tiny         a smoke run: --quick bench on a few cases, a 512-sample
#                  study with a few epochs, a few PyTorch steps (any adapter)
#   --seeds LIST   seeds of the DEC study (default 1,2,3,4,5)
#   PART...        any of bench, torch, dec, convdec (default: bench torch dec,
#                  in that order; with --tiny all four)
# Environment: OUT (default ./out/gpu), RUN_LIMIT_S (590), BENCH_ARGS
# (arguments for bench/main.ts; default --quick, so the whole bench fits one
# call; BENCH_ARGS= for full repetitions), DENO (a deno binary to use instead
# of the carried one).
#
# Offline: Deno runs with --cached-only and a fresh DENO_DIR; npm packages
# come from node_modules unpacked from .gpu-carry/npm.tar.xz (nothing is
# fetched), MNIST from .gpu-carry/mnist (LATENT_MNIST_DIR).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
START=$SECONDS
LIMIT=${RUN_LIMIT_S:-590}
TINY=0
SEEDS=1,2,3,4,5
PARTS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) TINY=1 ;;
    --seeds) SEEDS="$2"; shift ;;
    --seeds=*) SEEDS="${1#--seeds=}" ;;
    bench | torch | dec | convdec) PARTS+=("$1") ;;
    -h | --help) sed -n '2,51p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ ${#PARTS[@]} -eq 0 ]; then
  PARTS=(bench torch dec)
  [ $TINY -eq 1 ] && PARTS+=(convdec)
fi
OUT=${OUT:-$ROOT/out/gpu}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/latent-gpu.XXXXXX)
LOG=$OUT/run.log
exec > >(tee -a "$LOG") 2>&1
say() { echo "run.sh [$((SECONDS - START)) s]: $*"; }
left() { echo $((LIMIT - (SECONDS - START) - 15)); }

say "parts: ${PARTS[*]}; tiny=$TINY; out=$OUT; $(date -u +%FT%TZ); $(uname -m) $(nproc) CPUs"

# ------------------------------------------------------------------ setup
# Vulkan loader: only on the GPU machine, and only where none is installed
# (never over a system's own; --tiny never touches /).
PATH=$PATH:/usr/sbin:/sbin
have_vulkan() {
  if command -v ldconfig >/dev/null; then ldconfig -p | grep 'libvulkan\.so\.1' >/dev/null; else
    ls /usr/lib/*/libvulkan.so.1 /usr/lib64/libvulkan.so.1 /usr/lib/libvulkan.so.1 >/dev/null 2>&1
  fi
}
if ! have_vulkan; then
  if [ $TINY -eq 1 ]; then
    say "no libvulkan.so.1 (install libvulkan1 and mesa-vulkan-drivers for lavapipe); --tiny leaves / alone"
  elif ls .gl/*.deb >/dev/null 2>&1; then
    say "no libvulkan.so.1: unpacking the carried loader from .gl/"
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  else
    say "no libvulkan.so.1 and no .gl/*.deb: WebGPU will find no adapter"
  fi
fi
# Deno: the carried binary (or $DENO).
if [ -z "${DENO:-}" ]; then
  if [ -s .deno-bin/deno.xz ]; then
    xz -dc .deno-bin/deno.xz > "$WORK/deno" && chmod +x "$WORK/deno"
    DENO=$WORK/deno
  elif command -v deno >/dev/null; then
    DENO=$(command -v deno)
  else
    say "no Deno: run bench/gpu/prepare.sh here and carry .deno-bin"; exit 1
  fi
fi
export DENO_DIR=$WORK/deno_dir DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1 NO_COLOR=1
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$WORK}
say "deno: $("$DENO" --version | head -1)"

# npm packages: node_modules as Deno made it here (pruned), unpacked once.
if [ ! -d node_modules/.deno ]; then
  if [ -s .gpu-carry/npm.tar.xz ]; then
    tar -xJf .gpu-carry/npm.tar.xz
    say "unpacked node_modules from .gpu-carry/npm.tar.xz ($(du -sh node_modules | cut -f1))"
  else
    say "no node_modules and no .gpu-carry/npm.tar.xz: TF.js rows and the demo will fail"
  fi
fi
if [ -d .gpu-carry/mnist ]; then export LATENT_MNIST_DIR=$ROOT/.gpu-carry/mnist; fi
RUN=("$DENO" run --cached-only --node-modules-dir=manual -A)

if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /'
fi
probe() { "${RUN[@]}" bench/gpu/adapter.ts 2>/dev/null; }
ADAPTER=$(probe) || ADAPTER=""
NV_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ $TINY -eq 0 ] && [[ $ADAPTER != *'"isFallback":false'* ]] && [ -f "$NV_ICD" ]; then
  # The device notes: NVIDIA's Vulkan driver is there but may not be registered.
  say "no GPU adapter (${ADAPTER:-none}); retrying with VK_DRIVER_FILES=$NV_ICD"
  export VK_DRIVER_FILES=$NV_ICD
  ADAPTER=$(probe) || ADAPTER=""
fi
[ -n "$ADAPTER" ] || { say "no WebGPU adapter; stopping"; "${RUN[@]}" bench/gpu/adapter.ts; exit 1; }
say "adapter: $ADAPTER"
if [ $TINY -eq 0 ] && [[ $ADAPTER == *'"isFallback":true'* ]]; then
  say "warning: a fallback (CPU) adapter, not the GPU: numbers will not be GPU numbers"
fi

# ------------------------------------------------------------------ parts
status=0
part_bench() {
  # --quick by default: 3 repetitions fit the whole bench into one call (the TF.js-wasm cells
  # run on the CPU and take most of it); BENCH_ARGS= (empty) runs the full repetitions.
  # shellcheck disable=SC2206
  local args=(${BENCH_ARGS---quick})
  if [ $TINY -eq 1 ]; then args=(--quick --filter "/256x2000x10 A·B|deep AE/"); fi
  say "bench: deno run -A bench/main.ts ${args[*]}"
  timeout -s INT "$(left)" "${RUN[@]}" bench/main.ts "${args[@]}" > "$OUT/bench.md" || status=1
  cat "$OUT/bench.md"
  # Where a step's time goes (opt-in section): per layer, update, host recording per dispatch.
  local prof=(--quick --filter train-profile)
  [ $TINY -eq 1 ] && prof=(--quick --filter "train-profile/deep")
  if [ "$(left)" -gt 60 ]; then
    say "bench: deno run -A bench/main.ts ${prof[*]}"
    timeout -s INT "$(left)" "${RUN[@]}" bench/main.ts "${prof[@]}" > "$OUT/profile.md" || status=1
    cat "$OUT/profile.md"
  fi
  # The JSON main.ts just wrote (bench/results/<adapter>.json, the newest; both runs' rows).
  local json
  json=$(ls -t bench/results/*.json 2>/dev/null | head -1)
  [ -n "$json" ] && cp "$json" "$OUT/bench.json"
}
part_torch() {
  local py
  py=$(command -v python3 || true)
  if [ -z "$py" ]; then say "torch: no python3: skipped"; return; fi
  say "torch: python3 bench/pytorch_ae.py"
  PYTHONUNBUFFERED=1 timeout -s INT "$(left)" "$py" bench/pytorch_ae.py \
    $([ $TINY -eq 1 ] && echo --tiny) | tee "$OUT/pytorch.txt" || status=1
}
# The MNIST study (demos/mnist_dec.ts) for the given stages, into $OUT/$1.
study() {
  local dir=$1 stages=$2
  local args=(--full --seeds "$SEEDS" --stages "$stages")
  if [ $TINY -eq 1 ]; then
    args=(--samples 512 --seeds "${SEEDS%%,*}" --stages "$stages" --pretrain-epochs 2
      --conv-pretrain-epochs 6 --maxiter 10 --update-interval 5)
  fi
  say "$dir: deno run -A demos/mnist_dec.ts ${args[*]} --out $OUT/$dir"
  timeout -s INT "$(left)" "${RUN[@]}" demos/mnist_dec.ts "${args[@]}" --out "$OUT/$dir" || status=1
  # At most 8 files come back from $OUT: the pictures travel as one tar.
  if ls "$OUT/$dir"/*.png >/dev/null 2>&1; then
    (cd "$OUT/$dir" && tar -cf pictures.tar ./*.png && rm -f ./*.png)
  fi
}
part_dec() { study dec kmeans,ae,dec,idec; }
# conv-DEC on its own call: 200 conv pretraining epochs (54 800 steps) plus
# fine-tuning would crowd the DEC and IDEC rows out of a 600 s call.
part_convdec() { study convdec convdec; }
for p in "${PARTS[@]}"; do
  if [ "$(left)" -lt 30 ]; then say "$p: skipped, under 30 s left"; status=1; continue; fi
  "part_$p"
done
say "done (status $status); files in $OUT: $(cd "$OUT" && find . -type f | sort | tr '\n' ' ')"
rm -rf "$WORK"
exit $status
