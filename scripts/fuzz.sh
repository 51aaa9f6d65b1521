#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the module for FUZZTIME each (default
# 10m), one after the other, and prints each target's final exec count.
#
#   scripts/fuzz.sh                 # all targets, 10m each
#   FUZZTIME=30s scripts/fuzz.sh    # a smoke run
#   scripts/fuzz.sh FuzzParse       # only targets whose name matches
#
# FUZZPARALLEL sets the workers per target (default 1: CI machines are
# shared). New interesting inputs land in the Go build cache
# ($(go env GOCACHE)/fuzz); a crasher is written to the package's
# testdata/fuzz/<target>/ and fails the run; commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10m}
FUZZPARALLEL=${FUZZPARALLEL:-1}
filter=${1:-}

targets=(
	"./token FuzzParse"
	"./token FuzzClaimsJSON"
	"./keys FuzzOpen"
	"./revocation FuzzRefreshToken"
	"./auth FuzzLoginBody"
	"./auth FuzzRefreshBody"
	"./auth FuzzVerifyHeaders"
	"./auth FuzzPayload"
)

status=0
summary=()
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	if [[ -n $filter && $name != *$filter* ]]; then
		continue
	fi
	echo "== $pkg $name ($FUZZTIME)"
	log=$(mktemp)
	if go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel "$FUZZPARALLEL" 2>&1 | tee "$log"; then
		result=ok
	else
		result=FAIL
		status=1
	fi
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | awk '{print $2}')
	summary+=("$(printf '%-8s %-12s %-20s %s execs' "$result" "$pkg" "$name" "${execs:-?}")")
	rm -f "$log"
done

echo
printf '%s\n' "${summary[@]}"
exit $status
