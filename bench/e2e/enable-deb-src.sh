#!/usr/bin/env bash
# Makes `apt-get source` work on a Debian machine: adds deb-src entries that mirror the
# configured Debian binary sources, in /etc/apt/sources.list.d/bunka-deb-src.{sources,list}.
# Only entries whose URI names a Debian archive are mirrored (third-party repositories often
# publish no sources and would make apt-get update fail). Idempotent: does nothing when any
# deb-src entry is already configured. Runs as root, or through sudo -n. Does not run
# apt-get update (the caller does, once).
set -euo pipefail
log() { printf '[enable-deb-src] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot write /etc/apt"
  sudo_cmd=(sudo -n)
fi

srcfile_deb822=/etc/apt/sources.list.d/bunka-deb-src.sources
srcfile_list=/etc/apt/sources.list.d/bunka-deb-src.list
have_deb_src() {
  grep -rqsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null && return 0
  grep -rqsiE '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources 2>/dev/null && return 0
  return 1
}
if ! have_deb_src; then
  log "adding deb-src entries mirroring the Debian binary sources"
  tmp822="$(mktemp)"; tmplist="$(mktemp)"
  # deb822 files: copy every stanza whose Types has "deb" and whose URIs look like a Debian
  # archive (third-party repositories often publish no sources and would break apt-get update).
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    [ "$f" = "$srcfile_deb822" ] && continue
    awk '
      function flush() {
        if (n > 0 && isdeb && isdebian) { for (i = 1; i <= n; i++) print lines[i]; print "" }
        n = 0; isdeb = 0; isdebian = 0
      }
      /^[[:space:]]*$/ { flush(); next }
      /^#/ { next }
      {
        line = $0
        if (tolower($1) == "types:") { if (line ~ /[[:space:]]deb([[:space:]]|$)/) isdeb = 1; line = "Types: deb-src" }
        if (tolower($1) == "uris:" && line ~ /debian/) isdebian = 1
        if (tolower($1) == "enabled:" && tolower($2) == "no") isdeb = 0
        lines[++n] = line
      }
      END { flush() }
    ' "$f" >>"$tmp822"
  done
  # One-line format: "deb [opts] uri suite comps" -> "deb-src [opts] uri suite comps".
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    [ "$f" = "$srcfile_list" ] && continue
    sed -nE 's/^[[:space:]]*deb([[:space:]]+.*debian.*)$/deb-src\1/p' "$f" >>"$tmplist"
  done
  [ -s "$tmp822" ] || [ -s "$tmplist" ] || die "found no Debian binary source to mirror as deb-src"
  if [ -s "$tmp822" ]; then "${sudo_cmd[@]}" install -m 0644 "$tmp822" "$srcfile_deb822"; fi
  if [ -s "$tmplist" ]; then "${sudo_cmd[@]}" install -m 0644 "$tmplist" "$srcfile_list"; fi
  rm -f "$tmp822" "$tmplist"
fi

