#!/usr/bin/env bash
# Print the URL of a PostgreSQL the test suite can use, starting one if needed.
#
#   url=$(scripts/ensure-postgres.sh) && export WARDEN_TEST_PG_URL=$url
#
# 1. If PostgreSQL answers on 127.0.0.1:${WARDEN_PG_PORT:-5432} and a role
#    (postgres, then root, then $USER) can reach database "test" (created when
#    missing), print postgresql+psycopg://ROLE@127.0.0.1:PORT/test and exit 0.
# 2. Otherwise run a throwaway cluster in ${WARDEN_PG_DIR:-$TMPDIR/warden-pg-UID}:
#    install the server from Debian packages when its binaries are missing
#    (apt-get install -y postgresql), initdb with trust auth, start it on a
#    free port on 127.0.0.1, create database "test" and print its URL. A later
#    run reuses that cluster. Stop it with: pg_ctl -D DIR stop
#
# Only the URL goes to stdout; progress goes to stderr.
set -euo pipefail

HOST=127.0.0.1
PORT=${WARDEN_PG_PORT:-5432}
DIR=${WARDEN_PG_DIR:-${TMPDIR:-/tmp}/warden-pg-$(id -u)}

log() { echo "ensure-postgres: $*" >&2; }

pg_bin() {
    # The directory holding initdb/pg_ctl: on PATH, else Debian's versioned dir.
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [[ -n "$found" && -x "$found/initdb" ]] || return 1
    echo "$found"
}

# try_url PORT: print a URL for the first role that can open database "test".
try_url() {
    local port=$1 role
    command -v psql >/dev/null 2>&1 || return 1
    for role in postgres root "${USER:-}"; do
        [[ -n "$role" ]] || continue
        if psql -h "$HOST" -p "$port" -U "$role" -d test -Atqc 'select 1' >/dev/null 2>&1; then
            echo "postgresql+psycopg://$role@$HOST:$port/test"
            return 0
        fi
        if psql -h "$HOST" -p "$port" -U "$role" -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
            log "creating database test on port $port as $role"
            psql -h "$HOST" -p "$port" -U "$role" -d postgres -qc 'CREATE DATABASE test' >&2
            echo "postgresql+psycopg://$role@$HOST:$port/test"
            return 0
        fi
    done
    return 1
}

install_client_if_missing() {
    command -v psql >/dev/null 2>&1 && pg_bin >/dev/null && return 0
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    log "installing PostgreSQL from Debian packages"
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2; then
        $sudo apt-get update >&2
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# as_owner CMD...: initdb and postgres refuse to run as root.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if url=$(try_url "$PORT"); then
    echo "$url"
    exit 0
fi
log "no usable PostgreSQL on $HOST:$PORT; using a throwaway cluster in $DIR"

install_client_if_missing
BIN=$(pg_bin) || { log "PostgreSQL server binaries not found"; exit 1; }

if [[ -f "$DIR/port" ]] && url=$(try_url "$(cat "$DIR/port")"); then
    echo "$url"
    exit 0
fi

if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir "$DIR" --no-create-home postgres
fi
mkdir -p "$DIR"
[[ $(id -u) -ne 0 ]] || chown postgres "$DIR"
chmod 700 "$DIR"

if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
    log "initdb $DIR/data"
    as_owner "$BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-locale >&2
fi

port=$(free_port)
echo "$port" >"$DIR/port"
log "starting PostgreSQL on $HOST:$port"
as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $port -k $DIR -c listen_addresses=$HOST -c fsync=off" start >&2

url=$(try_url "$port") || { log "the cluster started but does not answer; see $DIR/server.log"; exit 1; }
log "stop it with: $([[ $(id -u) -eq 0 ]] && echo 'runuser -u postgres -- ')$BIN/pg_ctl -D $DIR/data stop"
echo "$url"
