#!/usr/bin/env bash
# Lays out what a fresh clone of this checkout would hold (tracked files plus new, not
# ignored ones: the tree as it would be committed) in DEST/bunka, with nothing beside it —
# in particular no ../shared — and prints that path. Then, with --run-tests, runs the
# README's set-up and test commands there as a new user would:
#   bash scripts/fresh-clone.sh DEST [--run-tests [bun test args...]]
# Used by test/cli/newcomer.test.ts (a few test files) and by hand for the whole suite:
#   bash scripts/fresh-clone.sh "$(mktemp -d)" --run-tests
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DEST [--run-tests [bun test args...]]" >&2; exit 2; }
src="$(cd "$(dirname "$0")/.." && pwd)"
dest="$1/bunka"
shift
[ ! -e "$dest" ] || { echo "fresh-clone: $dest exists" >&2; exit 2; }
mkdir -p "$dest"
(cd "$src" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf -) | tar -xf - -C "$dest"
(cd "$dest" && git init -q && git add -A && git -c user.name=newcomer -c user.email=newcomer@localhost commit -qm "fresh clone")
echo "$dest"
if [ "${1:-}" = "--run-tests" ]; then
  shift
  cd "$dest"
  bun install
  bun run test "$@"
fi
