#!/usr/bin/env bash
# Writes a small root filesystem tarball from Debian's busybox-static: /bin/busybox with an
# applet symlink for each command, /etc/passwd and /etc/group with root, nobody and a `ci`
# user (1000:1000), /tmp. Extra host programs (e.g. /usr/bin/ssh-add for the SSH agent tests)
# are copied in with the shared libraries `ldd` lists for them.
# Usage: busybox-rootfs.sh OUT.tar.gz [PROGRAM...]
set -euo pipefail
out=$1
shift
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,etc,tmp,root,home/ci,run,var}
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
ci:x:1000:1000:ci:/home/ci:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
ci:x:1000:
nogroup:x:65534:
GROUP
chown 1000:1000 "$root/home/ci"
for program in "$@"; do
  for file in "$program" $(ldd "$program" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$file")"
    cp -L "$file" "$root$file"
  done
done
tar -C "$root" -czf "$out" .
