#!/usr/bin/env bash
# Install what the test suite needs when it is missing: PostgreSQL (server-database mode),
# Kamailio (a real trunk peer), PJSIP's Python binding (a real SIP peer), pytest, promtool. Safe to run again; installs only what is absent.
set -euo pipefail

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
[ -x /usr/sbin/kamailio ] || need_apt+=(kamailio)        # a real SIP trunk that challenges (407)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # the agent and supervisor pages, headless
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)   # playwright-core drives Chromium
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus) # promtool lints /metrics and the rules
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

py_missing=()
python3 -c 'import pjsua2' 2>/dev/null || py_missing+=(pjsua2-python)
python3 -c 'import pytest' 2>/dev/null || py_missing+=(pytest)
python3 -c 'import numpy' 2>/dev/null || py_missing+=(numpy)     # audio checks (correlation, tones)
python3 -c 'import websockets' 2>/dev/null || py_missing+=(websockets)  # a second agent-socket client
if [ ${#py_missing[@]} -gt 0 ]; then
  echo "install-deps: pip install ${py_missing[*]}"
  python3 -m pip install -q --disable-pip-version-check "${py_missing[@]}"
fi

# playwright-core for tests/e2e/agent_browser.mjs (pinned in tests/e2e/package.json).
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -d "$here/e2e/node_modules/playwright-core" ]; then
  echo "install-deps: npm install playwright-core"
  npm install --prefix "$here/e2e" --no-package-lock --no-audit --no-fund --silent
fi
