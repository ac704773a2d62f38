#!/usr/bin/env bash
# Installs and starts the real servers sluice's tests talk to, on 127.0.0.1 only:
#   PostgreSQL 15 (port 5432), sshd serving bare git repos (port 2222, user `git`),
#   git's smart HTTP backend behind nginx + fcgiwrap with basic auth (port 8418, and
#   HTTPS on 8419 with a certificate from a private test CA). Installs Prometheus, which
#   each test that needs it starts itself.
# Idempotent: installs only what is missing, starts only what is not running.
# Writes what the tests need to know to target/test-services/env.json.
# Needs root (apt, a system user, sshd). Debian 12.
#
#   scripts/test-services.sh          install (if needed) and start
#   scripts/test-services.sh --stop   stop this checkout's sshd, nginx and fcgiwrap
#                                     (PostgreSQL is the system cluster; it stays)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD/target/test-services"
mkdir -p "$ROOT"
log() { printf 'test-services: %s\n' "$*" >&2; }

# Whether the process in pid file $1 is alive.
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "${1:-}" = "--stop" ]; then
    running "$ROOT/ssh/sshd.pid" && kill "$(cat "$ROOT/ssh/sshd.pid")" && log "stopping sshd"
    running "$ROOT/http/nginx.pid" && nginx -c "$ROOT/http/nginx.conf" -p "$ROOT/http" -s stop 2>/dev/null && log "stopping nginx"
    pkill -f "fcgiwrap.*$ROOT/http" && log "stopping fcgiwrap" || true
    # Return once the ports are free, so a start right after this finds them free.
    for _ in $(seq 50); do
        running "$ROOT/ssh/sshd.pid" || running "$ROOT/http/nginx.pid" || break
        sleep 0.1
    done
    log "stopped"
    exit 0
fi

# Fails unless nothing listens on 127.0.0.1:$1, naming what does: the tests would
# otherwise talk to that server and fail on keys or passwords, far from the cause.
port_free() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || return 0
    local holder=""
    if command -v ss >/dev/null; then
        holder=$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -1 |
            sed -E 's/users:\(\("([^"]*)",pid=([0-9]*)/\1 (pid \2)/')
    fi
    log "127.0.0.1:$1 is taken${holder:+ by $holder}, so $2 cannot start here and the tests would reach that server instead."
    log "If it is another checkout's test services, run \`scripts/test-services.sh --stop\` there; otherwise stop it. Then run this again."
    exit 1
}

need=()
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v nginx >/dev/null || need+=(nginx-light)
command -v fcgiwrap >/dev/null || need+=(fcgiwrap)
[ -x /usr/lib/git-core/git-http-backend ] || need+=(git)
command -v openssl >/dev/null || need+=(openssl)
# Prometheus: each test that needs one starts its own server on a free loopback port
# (scraping an exporter inside the test); only the binary is needed here.
command -v prometheus >/dev/null || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages' init scripts from starting system services (the Debian
    # prometheus package would listen on all interfaces): this script starts what the
    # tests need itself, on 127.0.0.1.
    created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    [ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
fi

# --- PostgreSQL -------------------------------------------------------------
PG_VERSION=$(pg_lsclusters -h | awk 'NR==1 {print $1}')
if [ -z "$PG_VERSION" ]; then
    log "creating a PostgreSQL cluster"
    pg_createcluster 15 main >/dev/null
    PG_VERSION=15
fi
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    log "starting PostgreSQL $PG_VERSION"
    pg_ctlcluster "$PG_VERSION" main start
fi
for _ in $(seq 50); do
    su postgres -c "psql -qtAc 'SELECT 1'" >/dev/null 2>&1 && break
    sleep 0.1
done
su postgres -c "psql -qtAc \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sluice_test') THEN CREATE ROLE sluice_test LOGIN SUPERUSER PASSWORD 'sluice_test'; END IF; END \\\$\\\$;\"" >/dev/null
PG_URL="postgres://sluice_test:sluice_test@127.0.0.1:5432/postgres"

# --- sshd serving bare repos as user git ---------------------------------------
SSH="$ROOT/ssh"
mkdir -p "$SSH/repos" /run/sshd
if ! id git >/dev/null 2>&1; then
    log "creating the system user git"
    useradd --system --home-dir "$SSH/home" --create-home --shell /usr/bin/git-shell git
fi
usermod -p '*' git
mkdir -p "$SSH/home"
chown git "$SSH/home" "$SSH/repos"
chmod 755 "$SSH/home"
[ -f "$SSH/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH/host_ed25519"
[ -f "$SSH/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH/client_ed25519"
[ -f "$SSH/other_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH/other_ed25519"
cp "$SSH/client_ed25519.pub" "$SSH/authorized_keys"
chmod 644 "$SSH/authorized_keys"
echo "[127.0.0.1]:2222 $(cut -d' ' -f1,2 "$SSH/host_ed25519.pub")" >"$SSH/known_hosts"
echo "[127.0.0.1]:2222 $(cut -d' ' -f1,2 "$SSH/other_ed25519.pub")" >"$SSH/wrong_known_hosts"
cat >"$SSH/sshd_config" <<EOF
Port 2222
ListenAddress 127.0.0.1
HostKey $SSH/host_ed25519
PidFile $SSH/sshd.pid
AuthorizedKeysFile $SSH/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers git
StrictModes no
EOF
if ! running "$SSH/sshd.pid"; then
    port_free 2222 sshd
    log "starting sshd on 127.0.0.1:2222"
    /usr/sbin/sshd -f "$SSH/sshd_config" -E "$SSH/sshd.log"
fi

# --- git smart HTTP with basic auth ---------------------------------------------
HTTP="$ROOT/http"
mkdir -p "$HTTP/repos" "$HTTP/tmp"
TOKEN=sluice-test-token
# A private CA and a server certificate for 127.0.0.1 (and a second, unrelated CA).
if [ ! -f "$HTTP/server.crt" ]; then
    for ca in ca other-ca; do
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sluice test $ca" \
            -keyout "$HTTP/$ca.key" -out "$HTTP/$ca.crt" 2>/dev/null
    done
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$HTTP/server.key" -out "$HTTP/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$HTTP/server.ext"
    openssl x509 -req -in "$HTTP/server.csr" -CA "$HTTP/ca.crt" -CAkey "$HTTP/ca.key" \
        -CAcreateserial -days 3650 -extfile "$HTTP/server.ext" -out "$HTTP/server.crt" 2>/dev/null
fi
printf 'sluice:%s\n' "$(openssl passwd -apr1 "$TOKEN")" >"$HTTP/htpasswd"
# Workers run as root so they can reach fcgiwrap's socket (test-only, loopback).
cat >"$HTTP/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $HTTP/nginx.pid;
error_log $HTTP/error.log;
events { worker_connections 64; }
http {
    access_log $HTTP/access.log;
    client_body_temp_path $HTTP/tmp;
    fastcgi_temp_path $HTTP/tmp;
    proxy_temp_path $HTTP/tmp;
    uwsgi_temp_path $HTTP/tmp;
    scgi_temp_path $HTTP/tmp;
    server {
        listen 127.0.0.1:8418;
        listen 127.0.0.1:8419 ssl;
        ssl_certificate $HTTP/server.crt;
        ssl_certificate_key $HTTP/server.key;
        client_max_body_size 0;
        location / {
            auth_basic "git";
            auth_basic_user_file $HTTP/htpasswd;
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:$HTTP/fcgiwrap.sock;
            fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT $HTTP/repos;
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO \$uri;
            fastcgi_param REMOTE_USER \$remote_user;
        }
    }
}
EOF
if ! [ -S "$HTTP/fcgiwrap.sock" ] || ! pgrep -f "fcgiwrap.*$HTTP" >/dev/null; then
    rm -f "$HTTP/fcgiwrap.sock"
    log "starting fcgiwrap"
    nohup fcgiwrap -c 2 -s "unix:$HTTP/fcgiwrap.sock" >"$HTTP/fcgiwrap.log" 2>&1 &
    for _ in $(seq 50); do [ -S "$HTTP/fcgiwrap.sock" ] && break; sleep 0.1; done
fi
if running "$HTTP/nginx.pid"; then
    nginx -c "$HTTP/nginx.conf" -p "$HTTP" -s reload
else
    port_free 8418 nginx
    port_free 8419 nginx
    log "starting nginx on 127.0.0.1:8418"
    nginx -c "$HTTP/nginx.conf" -p "$HTTP"
fi

for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/2222) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/8419) 2>/dev/null && break
    sleep 0.1
done

cat >"$ROOT/env.json" <<EOF
{
  "postgres_url": "$PG_URL",
  "ssh_repos": "$SSH/repos",
  "ssh_url_prefix": "ssh://git@127.0.0.1:2222$SSH/repos",
  "ssh_key": "$SSH/client_ed25519",
  "ssh_wrong_key": "$SSH/other_ed25519",
  "known_hosts": "$SSH/known_hosts",
  "wrong_known_hosts": "$SSH/wrong_known_hosts",
  "http_repos": "$HTTP/repos",
  "http_url_prefix": "http://127.0.0.1:8418",
  "http_token": "$TOKEN",
  "https_url_prefix": "https://127.0.0.1:8419",
  "https_ca": "$HTTP/ca.crt",
  "https_other_ca": "$HTTP/other-ca.crt"
}
EOF
log "ready ($ROOT/env.json)"
