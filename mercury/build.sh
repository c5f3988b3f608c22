#!/usr/bin/env bash
# Builds Mercury's site directory: the browser's wasm (the crate with feature `hydrate`, through the wasm-bindgen
# CLI, then wasm-opt from npm binaryen) into $MERCURY_SITE_ROOT/pkg, Leaflet and Chart.js from `npm ci` into
# vendor/, and style.css. The server binary is an ordinary cargo build. One step for the tests, `make up` and
# the Dockerfile alike (issue 7).
#
#   MERCURY_SITE_ROOT     where the site goes (default: $CARGO_TARGET_DIR/site, or target/site)
#   MERCURY_WASM_PROFILE  cargo profile of the wasm build (default: wasm-release: size-optimised, LTO)
#   MERCURY_WASM_OPT      run wasm-opt -Oz on the wasm (default: 1, 0 for the dev profile)
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
site=${MERCURY_SITE_ROOT:-$target_dir/site}
profile=${MERCURY_WASM_PROFILE:-wasm-release}

# The CLI must be the exact version of the wasm-bindgen crate in Cargo.lock (install.sh installs it).
locked=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p;}' Cargo.lock)
installed=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$installed" != "$locked" ]; then
    echo "mercury/build.sh: wasm-bindgen CLI $locked is needed (found '${installed:-none}'):" \
        "run bash infrastructure/local/install.sh" >&2
    exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "mercury/build.sh: the wasm32-unknown-unknown target is missing: run bash infrastructure/local/install.sh" >&2
    exit 1
fi

# Leptos reads LEPTOS_OUTPUT_NAME at compile time to name the wasm file the page asks for: keep it unset so the
# page asks for wasm-bindgen's own file names (mercury.js, mercury_bg.wasm).
env -u LEPTOS_OUTPUT_NAME cargo build --locked -p mercury --lib --target wasm32-unknown-unknown \
    --no-default-features --features hydrate --profile "$profile"
profile_dir=$profile
[ "$profile" = dev ] && profile_dir=debug
mkdir -p "$site/pkg"
wasm-bindgen --target web --out-dir "$site/pkg" --out-name mercury \
    "$target_dir/wasm32-unknown-unknown/$profile_dir/mercury.wasm"
# npm ci only when the lockfile changed since the last install (a copy of it marks the install). The npm project
# lives in mercury/npm, not the crate root: wasm-bindgen records the absolute path of a package.json next to
# Cargo.toml in the wasm, which breaks the CLI step for a checkout at another path sharing the target dir.
npm_dir=mercury/npm
if ! cmp -s "$npm_dir/package-lock.json" "$npm_dir/node_modules/.installed-lock.json" 2>/dev/null; then
    npm ci --prefix "$npm_dir" --no-audit --no-fund
    cp "$npm_dir/package-lock.json" "$npm_dir/node_modules/.installed-lock.json"
fi
optimise=1
[ "$profile" = dev ] && optimise=0
if [ "${MERCURY_WASM_OPT:-$optimise}" = 1 ]; then
    # Rust's wasm uses these features by default; wasm-opt must be told so (binaryen's defaults are older).
    "$npm_dir"/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
        --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
        "$site/pkg/mercury_bg.wasm" -o "$site/pkg/mercury_bg.wasm"
fi
# Served precompressed to browsers that accept gzip (leptos_axum's file handler looks for .gz next to the file).
gzip -9kf "$site/pkg/mercury_bg.wasm" "$site/pkg/mercury.js"
rm -rf "$site/vendor"
mkdir -p "$site/vendor/leaflet" "$site/vendor/chart.js" "$site/vendor/leaflet-geoman"
cp -r "$npm_dir"/node_modules/leaflet/dist/leaflet.js "$npm_dir"/node_modules/leaflet/dist/leaflet.css \
    "$npm_dir"/node_modules/leaflet/dist/images "$site/vendor/leaflet/"
cp "$npm_dir"/node_modules/chart.js/dist/chart.umd.min.js "$site/vendor/chart.js/"
# The geofence editor's drawing tools, loaded by that page only.
cp "$npm_dir"/node_modules/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js \
    "$npm_dir"/node_modules/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css "$site/vendor/leaflet-geoman/"
cp mercury/assets/style.css "$site/style.css"
echo "mercury/build.sh: site in $site ($(du -sh "$site/pkg" | cut -f1) of pkg)"
