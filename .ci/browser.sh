#!/usr/bin/env bash
# A headless Chromium and its WebDriver for the playground tests (`pytest -m browser`), from Debian.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium chromium-driver
