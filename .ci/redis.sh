#!/usr/bin/env bash
# Starts throwaway redis-servers (Debian's package) on free loopback ports for the Redis tests:
# one plain, one serving TLS only with a certificate of a CA made here for the run.
#
#   eval "$(bash .ci/redis.sh start)"   # installs if needed, starts, exports
#                                       #   IMCONNECTOR_REDIS_URL   redis://127.0.0.1:PORT/
#                                       #   IMCONNECTOR_REDISS_URL  rediss://localhost:PORT/
#                                       #   IMCONNECTOR_REDIS_TLS_CA the CA's PEM file (trust it)
#   bash .ci/redis.sh stop              # stops the servers started by `start`
#
# Nothing is persisted (no RDB, no AOF). Progress goes to stderr; stdout carries only the exports.
set -euo pipefail

state_dir="${TMPDIR:-/tmp}/imconnector-redis"
port_file="$state_dir/port"
tls_dir="$state_dir/tls"
tls_port_file="$state_dir/tls-port"

log() { printf 'redis.sh: %s\n' "$*" >&2; }

install() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    return
  fi
  log "installing redis-server from Debian"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >&2
}

port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  for _ in $(seq 1 50); do
    local candidate=$((20000 + RANDOM % 20000))
    if port_is_free "$candidate"; then echo "$candidate"; return; fi
  done
  log "no free port found"; exit 1
}

tls_ping() {
  redis-cli --tls --cacert "$tls_dir/ca.pem" -h localhost -p "$1" ping >/dev/null 2>&1
}

# A CA and a server certificate for localhost and 127.0.0.1, valid two days, made for this run:
# the tests trust the CA through configuration, never by turning verification off.
make_certificates() {
  mkdir -p "$tls_dir"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$tls_dir/ca.key" -out "$tls_dir/ca.pem" -days 2 \
    -subj "/CN=imconnector test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" >&2 2>/dev/null
  openssl req "${ec[@]}" -keyout "$tls_dir/server.key" -out "$tls_dir/server.csr" \
    -subj "/CN=localhost" >&2 2>/dev/null
  printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$tls_dir/server.ext"
  openssl x509 -req -in "$tls_dir/server.csr" -CA "$tls_dir/ca.pem" -CAkey "$tls_dir/ca.key" \
    -CAcreateserial -out "$tls_dir/server.pem" -days 2 -extfile "$tls_dir/server.ext" >&2 2>/dev/null
  chmod 600 "$tls_dir"/*.key
}

start_tls() {
  if [ -f "$tls_port_file" ] && tls_ping "$(cat "$tls_port_file")"; then
    log "TLS already running on port $(cat "$tls_port_file")"
    return
  fi
  if ! command -v openssl >/dev/null 2>&1; then
    log "openssl is missing: no TLS redis-server (IMCONNECTOR_REDISS_URL stays unset)"; return
  fi
  make_certificates
  local port
  port=$(free_port)
  # TLS only (`--port 0`): a test that reaches it has spoken TLS.
  if ! redis-server --bind 127.0.0.1 --port 0 --tls-port "$port" \
    --tls-cert-file "$tls_dir/server.pem" --tls-key-file "$tls_dir/server.key" \
    --tls-ca-cert-file "$tls_dir/ca.pem" --tls-auth-clients no \
    --save '' --appendonly no --daemonize yes --dir "$state_dir" \
    --pidfile "$state_dir/redis-tls.pid" --logfile "$state_dir/redis-tls.log" >&2; then
    log "this redis-server cannot serve TLS (IMCONNECTOR_REDISS_URL stays unset)"; return
  fi
  for _ in $(seq 1 100); do
    if tls_ping "$port"; then break; fi
    sleep 0.1
  done
  if ! tls_ping "$port"; then
    log "the TLS redis-server did not answer on port $port"; cat "$state_dir/redis-tls.log" >&2 || true
    return
  fi
  echo "$port" >"$tls_port_file"
  log "TLS redis-server listening on 127.0.0.1:$port (CA $tls_dir/ca.pem)"
}

start() {
  install
  mkdir -p "$state_dir"
  if [ -f "$port_file" ] && redis-cli -p "$(cat "$port_file")" ping >/dev/null 2>&1; then
    log "already running on port $(cat "$port_file")"
  else
    local port
    port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
      --dir "$state_dir" --pidfile "$state_dir/redis.pid" --logfile "$state_dir/redis.log" >&2
    for _ in $(seq 1 100); do
      if redis-cli -p "$port" ping >/dev/null 2>&1; then break; fi
      sleep 0.1
    done
    if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
      log "redis-server did not answer on port $port"; cat "$state_dir/redis.log" >&2 || true; exit 1
    fi
    echo "$port" >"$port_file"
    log "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') listening on 127.0.0.1:$port"
  fi
  echo "export IMCONNECTOR_REDIS_URL=redis://127.0.0.1:$(cat "$port_file")/"
  start_tls
  if [ -f "$tls_port_file" ]; then
    echo "export IMCONNECTOR_REDISS_URL=rediss://localhost:$(cat "$tls_port_file")/"
    echo "export IMCONNECTOR_REDIS_TLS_CA=$tls_dir/ca.pem"
  fi
}

stop() {
  if [ -f "$tls_port_file" ]; then
    redis-cli --tls --cacert "$tls_dir/ca.pem" -h localhost -p "$(cat "$tls_port_file")" \
      shutdown nosave >/dev/null 2>&1 || true
    rm -f "$tls_port_file"
  fi
  if [ -f "$port_file" ]; then
    redis-cli -p "$(cat "$port_file")" shutdown nosave >/dev/null 2>&1 || true
    rm -f "$port_file"
    log "stopped"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) log "usage: $0 [start|stop]"; exit 2 ;;
esac
