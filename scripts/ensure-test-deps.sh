#!/usr/bin/env bash
# System packages the tests need, installed only when missing (Debian; CI runs as root).
#   awscli      CLI tests of the server
#   postgresql  the consumer's PostgreSQL lease store: tests run their own server with initdb and
#               pg_ctl (from /usr/lib/postgresql/<version>/bin) in a temp dir, as the `postgres`
#               user the package creates when they run as root
set -euo pipefail
need=()
# The Debian CLI (v2) is the one the tests prefer; another `aws` on PATH may be v1.
[ -x /usr/bin/aws ] || need+=(awscli)
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  need+=(postgresql)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-test-deps: missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "ensure-test-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The package starts a cluster of its own; the tests do not use it.
  if [[ " ${need[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
    for v in /usr/lib/postgresql/*; do pg_ctlcluster "$(basename "$v")" main stop >/dev/null 2>&1 || true; done
  fi
fi
