#!/usr/bin/env bash
# System packages the tests need, installed only when missing (Debian; CI runs as root).
set -euo pipefail
need=()
command -v aws >/dev/null 2>&1 || need+=(awscli)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-test-deps: missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "ensure-test-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
