#!/usr/bin/env bash
# The main job: a secret taken from env:// and cmd://, described without its value.
set -euo pipefail
hush=${1:-target/release/hush}
export HUSH_HOME=${HUSH_HOME:-$(mktemp -d)}
export API_TOKEN="demo-token-$RANDOM$RANDOM"
set -x
"$hush" secret get env://API_TOKEN
"$hush" secret get --json 'cmd://printf %s "$API_TOKEN" | rev'
