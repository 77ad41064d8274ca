#!/usr/bin/env bash
# Installs the npm packages of a folder exactly as its package-lock.json pins them.
#   scripts/npm-ci-pinned.sh FOLDER LABEL
# --ignore-scripts skips install scripts, which may download from hosts other than the npm
# registry (playwright-core's would fetch browsers of its own). A stamp with the lock file's
# digest in node_modules skips the reinstall when nothing changed. LABEL prefixes the messages.
set -euo pipefail
folder="$1"
label="$2"
lock_digest="$(sha256sum "$folder/package-lock.json" | cut -d' ' -f1)"
stamp="$folder/node_modules/.tessera-lock-sha256"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_digest" ]; then
  echo "$label: npm packages already installed in $folder"
else
  echo "$label: installing the npm packages pinned in $folder/package-lock.json"
  (cd "$folder" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$lock_digest" > "$stamp"
fi
