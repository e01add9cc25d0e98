#!/usr/bin/env bash
# `make pull`: `dvc pull` from the default DVC remote, or one line that says which remote is
# missing or failed and how to point at another. The repository publishes no storage of its
# own: a commit's outputs are wherever its author ran `dvc push` (docs/remote-storage.md).
# Arguments go to `dvc pull` (targets, -j, ...). Exit 2 on anything explained here.
set -uo pipefail

how="point at the storage that holds this commit's outputs with \`dvc remote add -d --local mystore /path/to/storage\` (or s3://bucket/prefix with AWS_* credentials; docs/remote-storage.md), or rebuild them without any remote: make repro"
name=$(dvc remote default 2>/dev/null || true)
if [ -z "$name" ]; then
  echo "gendiv: no default DVC remote is configured; $how" >&2
  exit 2
fi
url=$(dvc config "remote.$name.url" 2>/dev/null || true)
case "$url" in
  *://*) ;;  # s3, http, ssh...: only dvc can tell whether it answers
  *)
    case "$url" in /*) ;; *) url=$(realpath -m "$(dvc root)/.dvc/$url") ;; esac  # relative to .dvc/
    if [ ! -d "$url" ]; then
      echo "gendiv: the default DVC remote '$name' is the folder $url, which does not exist; mount or copy the storage there, or $how" >&2
      exit 2
    fi ;;
esac
if ! dvc pull "$@"; then
  echo "gendiv: \`dvc pull\` from the default remote '$name' ($url) failed (DVC's reason above): it is unreachable, lacks credentials, or does not hold this commit's outputs (nobody pushed them there); $how" >&2
  exit 2
fi
