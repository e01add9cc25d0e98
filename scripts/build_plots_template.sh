#!/usr/bin/env bash
# Build reports/templates/dvc_plots_offline.html: DVC's plot page with vega, vega-lite and
# vega-embed inlined (the versions dvc-render asks its CDN for), so `dvc plots show` and
# `dvc plots diff` render with no network. Needs npm once; the result is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent vega@5.20.2 vega-lite@5.2.0 vega-embed@6.18.2 >/dev/null \
  && for f in *.tgz; do mkdir "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done)
out=reports/templates/dvc_plots_offline.html
{
  echo '<!DOCTYPE html>'
  echo '<html><head><meta charset="utf-8"><title>gendiv plots</title>{refresh_tag}'
  echo '<!-- vega 5.20.2, vega-lite 5.2.0, vega-embed 6.18.2 (BSD-3-Clause, UW Interactive Data Lab), inlined for offline use -->'
  for lib in vega-5.20.2/package/build/vega.min.js vega-lite-5.2.0/package/build/vega-lite.min.js \
             vega-embed-6.18.2/package/build/vega-embed.min.js; do
    echo '<script type="text/javascript">'
    cat "$work/$lib"
    echo '</script>'
  done
  echo '<style>table{border-spacing:15px}</style></head><body>'
  echo '{plot_divs}'
  echo '</body></html>'
} > "$out"
echo "wrote $out ($(wc -c < "$out") bytes)"
