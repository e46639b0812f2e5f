#!/usr/bin/env bash
# Starts a throwaway redis-server (Debian's package) on a free loopback port for the Redis tests.
#
#   eval "$(bash .ci/redis.sh start)"   # installs if needed, starts, exports IMCONNECTOR_REDIS_URL
#   bash .ci/redis.sh stop              # stops the server started by `start`
#
# Nothing is persisted (no RDB, no AOF). Progress goes to stderr; stdout carries only the export.
set -euo pipefail

state_dir="${TMPDIR:-/tmp}/imconnector-redis"
port_file="$state_dir/port"

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

start() {
  install
  mkdir -p "$state_dir"
  if [ -f "$port_file" ] && redis-cli -p "$(cat "$port_file")" ping >/dev/null 2>&1; then
    log "already running on port $(cat "$port_file")"
  else
    local port=""
    for _ in $(seq 1 50); do
      local candidate=$((20000 + RANDOM % 20000))
      if port_is_free "$candidate"; then port=$candidate; break; fi
    done
    if [ -z "$port" ]; then log "no free port found"; exit 1; fi
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
}

stop() {
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
