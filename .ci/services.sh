#!/usr/bin/env bash
# Make sure the services the tests talk to are up on 127.0.0.1 (they are on this machine kind;
# this starts any that stopped, with the kind's own commands).
set -uo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! up 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! up 6379; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
for port in 5432 6379; do
  for _ in $(seq 1 30); do up "$port" && break; sleep 1; done
  up "$port" || { echo "service on 127.0.0.1:$port is not reachable" >&2; exit 1; }
done
