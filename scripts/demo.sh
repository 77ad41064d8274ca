#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install dependencies, build, ingest the fashion
# catalogue, train the joint text-photo space and the LambdaMART ranker (once; later runs reuse
# them) and serve the API and storefront.
#   TESSERA_DATA_DIR  folder holding fashion/ (default: ../shared/data beside the repository)
#   TESSERA_VAR       store folder (default: var/)
#   TESSERA_PORT      port on 127.0.0.1 (default: 8080)
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir="${TESSERA_DATA_DIR:-$PWD/../shared/data}"
var_dir="${TESSERA_VAR:-var}"
port="${TESSERA_PORT:-8080}"

./scripts/setup.sh
./scripts/build.sh
tessera=build/src/cli/tessera

if [ ! -f "$data_dir/fashion/styles.csv" ]; then
  echo "demo: $data_dir/fashion/styles.csv not found; set TESSERA_DATA_DIR to the folder holding fashion/" >&2
  exit 2
fi
if [ ! -f "$var_dir/.ingested" ]; then
  "$tessera" --data-dir "$var_dir" ingest --fashion "$data_dir/fashion"
  touch "$var_dir/.ingested"
fi
if [ ! -f "$var_dir/models/joint-space.model" ]; then
  "$tessera" --data-dir "$var_dir" train-encoders > /dev/null
fi
# The ranker reads joint-space features, so it is trained after the joint space. A model this
# build cannot load (one trained on an older feature schema) is trained again.
"$tessera" --data-dir "$var_dir" --synonyms config/synonyms/fashion.txt train-ranker --if-unusable > /dev/null
echo "demo: open http://127.0.0.1:$port/ (Ctrl-C stops the server)"
exec "$tessera" --data-dir "$var_dir" --synonyms config/synonyms/fashion.txt serve --host 127.0.0.1 --port "$port"
