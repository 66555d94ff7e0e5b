#!/usr/bin/env bash
# Start (or stop) the PostgreSQL and Redis that the integration tests and benchmarks use, on
# loopback only, when they are not already running. Installs them with apt-get when missing.
# PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
set -euo pipefail
action=${1:-up}
pg_port=${2:-54329}
redis_port=${3:-6399}
state=${HERALD_SERVICES_DIR:-/tmp/herald-services-$pg_port}
mkdir -p "$state"

as_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  if as_root; then
    [ -f "$state/apt-updated" ] || { apt-get update -qq && touch "$state/apt-updated"; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "services.sh: $* missing and no root to install it" >&2; exit 1
  fi
}
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() { if as_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_up() {
  local bin; bin=$(pg_bin)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then apt_install postgresql; bin=$(pg_bin); fi
  if "$bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; then echo "postgresql: already running on 127.0.0.1:$pg_port"; return; fi
  if as_root && ! id postgres >/dev/null 2>&1; then useradd -r -M postgres; fi
  local dir="$state/pg"
  mkdir -p "$dir"
  if as_root; then chown postgres "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
      || { cat "$state/initdb.log" >&2; exit 1; }
  fi
  # Tuned for throwaway test data: durability off, which is what makes it fast.
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start -o \
    "-p $pg_port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB" >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "postgresql: started on 127.0.0.1:$pg_port (data in $dir/data)"
}

redis_up() {
  command -v redis-server >/dev/null || apt_install redis-server
  if redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG; then echo "redis: already running on 127.0.0.1:$redis_port"; return; fi
  mkdir -p "$state/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
    --dir "$state/redis" --pidfile "$state/redis/redis.pid" --logfile "$state/redis/redis.log"
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  echo "redis: started on 127.0.0.1:$redis_port"
}

case "$action" in
  up) pg_up; redis_up ;;
  down)
    bin=$(pg_bin)
    [ -n "$bin" ] && [ -f "$state/pg/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$state/pg/data" -m fast stop >/dev/null || true
    redis-cli -p "$redis_port" shutdown nosave 2>/dev/null || true
    echo "services stopped" ;;
  *) echo "usage: services.sh up|down [pg_port] [redis_port]" >&2; exit 2 ;;
esac
