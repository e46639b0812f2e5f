#!/usr/bin/env bash
# Every library crate packages for crates.io: complete metadata, a README, a trimmed `include`,
# path dependencies that carry versions, and (for the api crate) the generated code inside.
# One `cargo package` run over all of them, so the unpublished workspace crates resolve against
# each other. `--no-verify`: building each .crate again from its tarball is what the tests and
# clippy steps already do on the sources.
set -euo pipefail
cd "$(dirname "$0")/.."

crates=(imconnector-form imconnector-transport imconnector-api imconnector-emulator imconnector imconnector-redis)

args=()
for crate in "${crates[@]}"; do args+=(-p "$crate"); done
cargo package --locked --no-verify --allow-dirty "${args[@]}"

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
packages="${CARGO_TARGET_DIR:-target}/package"
fail() { echo "package check: $*" >&2; exit 1; }
for crate in "${crates[@]}"; do
  archive="$packages/$crate-$version.crate"
  [ -f "$archive" ] || fail "$archive was not produced"
  files=$(tar -tzf "$archive")
  manifest=$(tar -xzOf "$archive" "$crate-$version/Cargo.toml")
  for field in description license repository readme keywords categories; do
    grep -q "^$field = " <<<"$manifest" || fail "$crate: no \`$field\` in the packaged manifest"
  done
  grep -qx "$crate-$version/README.md" <<<"$files" || fail "$crate: README.md is not in the package"
  # Both licence texts, with their content (a dangling symlink would package as nothing).
  for licence in LICENSE-MIT LICENSE-APACHE; do
    grep -qx "$crate-$version/$licence" <<<"$files" || fail "$crate: $licence is not in the package"
    text=$(tar -xzOf "$archive" "$crate-$version/$licence")
    grep -q "Permission is hereby granted\|Apache License" <<<"$text" \
      || fail "$crate: $licence in the package is empty or not a licence"
  done
  # A published README speaks to users: no paths or words of this repository's workflow.
  readme=$(tar -xzOf "$archive" "$crate-$version/README.md")
  if grep -nE '\.ci/|shared/|reference/|the issue|tests/[a-z]+/' <<<"$readme"; then
    fail "$crate: README.md mentions repository-internal paths (above); move them to CONTRIBUTING.md"
  fi
  # Every dependency on a sibling crate must carry a version (crates.io has no paths).
  if grep -A3 '^\[dependencies\.imconnector' <<<"$manifest" | grep -q '^path = '; then
    fail "$crate: a path dependency without a version survived packaging"
  fi
  if grep -Eq "^$crate-$version/(target|fuzz)/" <<<"$files"; then
    fail "$crate: build output is packaged; trim \`include\`"
  fi
  if grep -Eq "^$crate-$version/tests/" <<<"$files"; then
    echo "note: $crate ships its tests/ (allowed, but not needed by users)"
  fi
  echo "$crate $version: $(wc -l <<<"$files") files, metadata and licences complete"
done
# The storage hooks sit on the transport alone: Redis users do not compile the generated API.
redis_manifest=$(tar -xzOf "$packages/imconnector-redis-$version.crate" "imconnector-redis-$version/Cargo.toml")
if grep -Eq '^\[dependencies\.imconnector(-api)?\]' <<<"$redis_manifest"; then
  fail "imconnector-redis depends on the facade or the generated API"
fi
api_files=$(tar -tzf "$packages/imconnector-api-$version.crate")
grep -q "/src/generated/mod.rs$" <<<"$api_files" \
  || fail "imconnector-api: the generated code is not in the package"
echo "all ${#crates[@]} library crates package"
