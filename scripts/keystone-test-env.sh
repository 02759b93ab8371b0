#!/usr/bin/env bash
# A real OpenStack Keystone for the tests of `nminus discover` (tests/it/discover.rs), made from
# ../shared/recipes/keystone-up.sh: installed from the Python package index into a virtualenv,
# SQLite-backed, fernet tokens, bootstrapped (admin / $KS_PASSWORD, RegionOne), served by gunicorn
# on 127.0.0.1.
#
#   scripts/keystone-test-env.sh install          virtualenv in $KS_VENV (default target/keystone/venv);
#                                                 reused when it already has keystone-manage
#   scripts/keystone-test-env.sh up DIR PORT      configure, bootstrap and start; DIR/gunicorn.pid
#   scripts/keystone-test-env.sh down DIR         stop what `up` started (by its PID file)
#
# KS_TLS_CERT / KS_TLS_KEY: serve HTTPS with this certificate and key (PEM); the catalog's
# identity URLs are then https://.
# KS_TOKEN_EXPIRATION: token lifetime in seconds (default 3600; the expired-token tests use a few).
# KS_PIP_ARGS: extra pip arguments (e.g. "-c .../upper-constraints.txt keystone==29.0.2").
# Pitfalls handled (see ../shared/recipes/README.md): keystone parses sys.argv with oslo.config,
# so gunicorn gets no arguments and reads ./gunicorn.conf.py; keystone 29.x on SQLite needs WAL;
# fernet_setup / credential_setup run as the current user.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${KS_VENV:-$PWD/target/keystone/venv}
PW=${KS_PASSWORD:-secret}

install() {
  if [ -x "$VENV/bin/keystone-manage" ] && [ -x "$VENV/bin/gunicorn" ]; then
    return 0
  fi
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --disable-pip-version-check keystone gunicorn ${KS_PIP_ARGS:-}
}

up() {
  local D=$1 PORT=$2 URL SCHEME=http TLS=
  if [ -n "${KS_TLS_CERT:-}" ]; then
    SCHEME=https
    TLS="certfile = \"$KS_TLS_CERT\"
keyfile = \"$KS_TLS_KEY\""
  fi
  URL=$SCHEME://127.0.0.1:$PORT
  [ -x "$VENV/bin/keystone-manage" ] || { echo "no Keystone in $VENV: run $0 install" >&2; exit 1; }
  mkdir -p "$D"
  D=$(cd "$D" && pwd)
  cat > "$D/keystone.conf" <<EOF
[DEFAULT]
log_file = $D/keystone.log
[database]
connection = sqlite:///$D/keystone.db
[token]
provider = fernet
expiration = ${KS_TOKEN_EXPIRATION:-3600}
[fernet_tokens]
key_repository = $D/fernet-keys
[fernet_receipts]
key_repository = $D/fernet-keys
[credential]
key_repository = $D/credential-keys
EOF
  KM() { "$VENV/bin/keystone-manage" --config-file "$D/keystone.conf" "$@" 2>>"$D/keystone-manage.err"; }
  KM db_sync
  KM fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
  KM credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
  KM bootstrap --bootstrap-password "$PW" \
    --bootstrap-admin-url "$URL/v3" --bootstrap-internal-url "$URL/v3" --bootstrap-public-url "$URL/v3" \
    --bootstrap-region-id RegionOne
  "$VENV/bin/python" -c 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' "$D/keystone.db"
  cat > "$D/gunicorn.conf.py" <<EOF
wsgi_app = "keystone.wsgi.api:application"
bind = "127.0.0.1:$PORT"
workers = 1
pidfile = "$D/gunicorn.pid"
accesslog = "$D/access.log"
errorlog = "$D/gunicorn.log"
control_socket_disable = True
$TLS
EOF
  # exec: no shell stays behind holding the caller's stdout and stderr open.
  (cd "$D" && OS_KEYSTONE_CONFIG_DIR="$D" exec setsid "$VENV/bin/gunicorn") </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 300); do
    # -k: only "is it up"; the tests check certificates themselves.
    curl -ksf -m 5 -o /dev/null "$URL/v3" && return 0
    sleep 0.2
  done
  echo "Keystone did not come up on $URL; $D/gunicorn.log says:" >&2
  tail -n 20 "$D/gunicorn.log" >&2 || true
  exit 1
}

down() {
  local pid
  pid=$(cat "$1/gunicorn.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
}

case "${1:-}" in
  install) install ;;
  up) [ $# -eq 3 ] || { echo "usage: $0 up DIR PORT" >&2; exit 2; }; up "$2" "$3" ;;
  down) [ $# -eq 2 ] || { echo "usage: $0 down DIR" >&2; exit 2; }; down "$2" ;;
  *) echo "usage: $0 install | up DIR PORT | down DIR" >&2; exit 2 ;;
esac
