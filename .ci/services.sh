#!/usr/bin/env bash
# Make sure the services the tests talk to are up on 127.0.0.1 (Redis: the shared tool cache and the Redis store; PostgreSQL: the Postgres store).
# They run on this machine kind; this starts one that stopped, with the kind's own command.
set -uo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! up 6379; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
for _ in $(seq 1 30); do up 6379 && break; sleep 1; done
up 6379 || { echo "Redis is not reachable on 127.0.0.1:6379 (the tool-cache tests need it)" >&2; exit 1; }

# PostgreSQL 15 for the session stores (trust auth, db `test`), with pgvector built into it.
if ! up 5432; then
  pg_ctlcluster 15 main start || true
fi
for _ in $(seq 1 30); do up 5432 && break; sleep 1; done
up 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432 (the store tests need it)" >&2; exit 1; }
bash "$(dirname "$0")/pgvector.sh"
