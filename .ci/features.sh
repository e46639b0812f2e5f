#!/usr/bin/env bash
# Every feature combination of the `imconnector` facade compiles (cargo-hack is not installed,
# so the powerset of its four features is listed by hand). Examples and tests are left out on
# purpose: they enable `server` and `emulator` through the crate's dev-dependency on itself.
set -euo pipefail
cd "$(dirname "$0")/.."

combinations=(
  ""
  "rustls-webpki-roots"
  "rustls-native-roots"
  "server"
  "emulator"
  "rustls-webpki-roots,rustls-native-roots"
  "rustls-webpki-roots,server"
  "rustls-webpki-roots,emulator"
  "rustls-native-roots,server"
  "rustls-native-roots,emulator"
  "server,emulator"
  "rustls-webpki-roots,rustls-native-roots,server"
  "rustls-webpki-roots,rustls-native-roots,emulator"
  "rustls-webpki-roots,server,emulator"
  "rustls-native-roots,server,emulator"
  "rustls-webpki-roots,rustls-native-roots,server,emulator"
)

for features in "${combinations[@]}"; do
  printf '== imconnector --no-default-features --features "%s"\n' "$features"
  cargo check --locked --quiet -p imconnector --no-default-features --features "$features"
done
echo "all ${#combinations[@]} feature combinations of imconnector compile"

# The emulator's features: the library alone (what other crates' tests use), with HTTPS, and
# the binary (the default).
for features in "" "tls" "cli"; do
  printf '== imconnector-emulator --no-default-features --features "%s"\n' "$features"
  cargo check --locked --quiet -p imconnector-emulator --no-default-features --features "$features"
done

# The facade's docs with its default features (what `cargo doc` shows a user who enabled no
# feature): no link may point into a module that only a feature brings.
echo "== imconnector docs, default features"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --quiet --no-deps -p imconnector
