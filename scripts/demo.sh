#!/usr/bin/env bash
# The main job: a module-less chain that takes a secret from env://, runs it in a container
# and prints scrubbed output.
set -euo pipefail
hush=${1:-target/release/hush}
export HUSH_HOME=${HUSH_HOME:-$(mktemp -d)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/busybox-rootfs.sh "$work/busybox.tar.gz"
"$hush" image import --tag busybox "$work/busybox.tar.gz"
export API_TOKEN="demo-token-$RANDOM$RANDOM"
echo "+ hush core container from --address=busybox with-secret-variable --name=MY_SECRET --secret=env://API_TOKEN with-exec --args=sh,-c,'echo this is the secret: \$MY_SECRET' stdout"
"$hush" core container from --address=busybox \
  with-secret-variable --name=MY_SECRET --secret=env://API_TOKEN \
  with-exec --args=sh,-c,'echo this is the secret: $MY_SECRET' stdout
echo "+ the container saw the real value: its length and checksum match the host's"
"$hush" core container from --address=busybox \
  with-secret-variable --name=MY_SECRET --secret=env://API_TOKEN \
  with-exec --args=sh,-c,'printf %s "$MY_SECRET" | wc -c; printf %s "$MY_SECRET" | sha256sum' stdout
printf '%s' "$API_TOKEN" | wc -c; printf '%s' "$API_TOKEN" | sha256sum
echo "+ hush secret get env://API_TOKEN"
"$hush" secret get env://API_TOKEN
