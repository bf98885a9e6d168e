#!/usr/bin/env bash
# Build and install pgvector into the machine's PostgreSQL 15 (it is not packaged for bookworm).
# Debian's own source package of a newer release (trixie), fetched through a private sources list
# so the machine's own apt configuration is untouched. Idempotent: does nothing once installed.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-pg_config}
if ! command -v "$PG_CONFIG" >/dev/null || [ ! -d "$($PG_CONFIG --includedir-server 2>/dev/null || echo /nonexistent)" ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y postgresql-server-dev-15 dpkg-dev >/dev/null
fi
sharedir=$($PG_CONFIG --sharedir)
if [ -f "$sharedir/extension/vector.control" ] && [ -f "$($PG_CONFIG --pkglibdir)/vector.so" ]; then
  echo "pgvector: already installed ($(grep default_version "$sharedir/extension/vector.control"))"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/etc/sources.list.d" "$work/lists/partial" "$work/cache/archives/partial"
cat > "$work/etc/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
SRC
apt_opts=(-o Dir::Etc::SourceList="$work/etc/sources.list" -o Dir::Etc::SourceParts="$work/etc/sources.list.d"
  -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -qq
cd "$work"
apt-get "${apt_opts[@]}" source --download-only pgvector
dpkg-source -x --no-check ./*.dsc src >/dev/null
cd src
make OPTFLAGS="" PG_CONFIG="$PG_CONFIG" >/dev/null
make install PG_CONFIG="$PG_CONFIG" >/dev/null
echo "pgvector: installed ($(grep default_version "$sharedir/extension/vector.control"))"
