#!/usr/bin/env bash
# Rolling table update (SPEC §14, docs/deploy.md): installs a new routing table on every
# replica, one at a time, and goes on only when that replica serves it — its /health
# table_hash equals the new table's content hash. Requests keep flowing: a replica swaps
# tables atomically (in-flight requests finish on the table they started with), so the
# update costs no failed request. It stops at the first replica that does not take the
# table (corrupt file, admin changes that no longer compile against it: that replica keeps
# its previous table and logs why) and leaves the others untouched.
#
# usage: deploy/rolling-update.sh NEW_TABLE HEALTH_URL=TABLE_PATH...
#   NEW_TABLE     the table built by `vmc build` (table.vmct)
#   HEALTH_URL    the replica's base URL, e.g. http://10.0.0.5:8080 (its /health is read)
#   TABLE_PATH    where that replica's --table lives
#
# environment:
#   VMC_INSTALL   how to put the file in place, run as `$VMC_INSTALL NEW_TABLE TABLE_PATH HEALTH_URL`
#                 (default: a copy beside TABLE_PATH, then a rename over it — atomic, and seen
#                 by the replica's file watcher). For remote hosts, e.g. a script doing
#                 `scp "$1" "$host:$2.tmp" && ssh "$host" mv "$2.tmp" "$2"`.
#   VMC_RELOAD    watch (default: the replica's watcher reloads) | admin (also POST /admin/reload
#                 with $VMC_ADMIN_TOKEN, for replicas started with --no-watch)
#   VMC_UPDATE_TIMEOUT  seconds to wait for each replica (default 30)
#
# exit: 0 every replica serves the new table; 1 a replica did not take it; 2 usage.
set -euo pipefail

die() {
  echo "rolling-update: $*" >&2
  exit "${2:-1}"
}
(($# >= 2)) || die "usage: $0 NEW_TABLE HEALTH_URL=TABLE_PATH..." 2
new=$1
shift
[[ -r $new ]] || die "cannot read $new" 2
[[ $(head -c 4 "$new") == VMCT ]] || die "$new is not a vmc routing table (no VMCT magic)" 2
# the content hash: bytes 8..39 of the header (runtime/table/format.ts), what /health reports
want=$(od -An -tx1 -j8 -N32 "$new" | tr -d ' \n')
[[ $want =~ ^[0-9a-f]{64}$ ]] || die "$new is truncated" 2
timeout=${VMC_UPDATE_TIMEOUT:-30}
reload=${VMC_RELOAD:-watch}

install_local() {
  local src=$1 dst=$2
  local tmp
  tmp="$(dirname "$dst")/.$(basename "$dst").$$.tmp"
  cp "$src" "$tmp"
  mv -f "$tmp" "$dst"
}

served_hash() {
  curl -fsS --max-time 2 "$1/health" 2>/dev/null | grep -o '"table_hash":"[0-9a-f]*"' | cut -d'"' -f4 || true
}

for replica in "$@"; do
  [[ $replica == *=* ]] || die "replica $replica: expected HEALTH_URL=TABLE_PATH" 2
  url=${replica%%=*}
  path=${replica#*=}
  url=${url%/}
  before=$(served_hash "$url")
  [[ -n $before ]] || die "$url: /health does not answer; not touching it or any replica after it"
  if [[ $before == "$want" ]]; then
    echo "rolling-update: $url already serves ${want:0:12}"
    continue
  fi
  t0=$(date +%s%N)
  if [[ -n ${VMC_INSTALL:-} ]]; then
    $VMC_INSTALL "$new" "$path" "$url"
  else
    install_local "$new" "$path"
  fi
  if [[ $reload == admin ]]; then
    curl -fsS --max-time 10 -X POST -H "Authorization: Bearer ${VMC_ADMIN_TOKEN:?VMC_RELOAD=admin needs VMC_ADMIN_TOKEN}" "$url/admin/reload" >/dev/null ||
      die "$url: POST /admin/reload refused the table (it keeps ${before:0:12}; see its log)"
  fi
  deadline=$((SECONDS + timeout))
  while :; do
    now=$(served_hash "$url")
    [[ $now == "$want" ]] && break
    ((SECONDS < deadline)) || die "$url still serves ${now:-nothing} ${timeout}s after the install (rejected table? see its log); stopping here"
    sleep 0.1
  done
  ms=$((($(date +%s%N) - t0) / 1000000))
  echo "rolling-update: $url ${before:0:12} -> ${want:0:12} in ${ms} ms"
done
echo "rolling-update: every replica serves ${want:0:12}"
