#!/usr/bin/env bash
# HTTP load comparison on loopback (issue 6).
#
# For each implementation and each server worker count, starts
# `load_server serve --impl IMPL --workers W` on 127.0.0.1 and runs wrk twice against it:
#   repeated: the same valid token on every request (-H),
#   new:      a token never sent before on every request (wrk/new_token.lua, from a
#             pre-minted list; the run ends at DURATION or when the list runs out).
# Prints markdown tables of req/s, ratios to the bare server and the 1 -> 2 worker
# scaling, and writes them to $OUT. Every run is bounded (wrk -d, `timeout`, and the
# server's own --max-seconds); everything stays on 127.0.0.1.
#
#   bash bench-peers/load.sh
#   DURATION=5s IMPLS="bare ours" WORKERS="1 2" bash bench-peers/load.sh
#
# Settings (environment): DURATION (10s), WRK_THREADS (2), CONNECTIONS (50),
# WORKERS ("1 2"), IMPLS (below), TOKENS (300000 distinct tokens for the "new" runs),
# ALG (RS256), PORT (first port; each server gets the next one), CARGO_TARGET_DIR
# (/tmp/target-peers), FIXTURE (key + tokens dir; reused while younger than 2 h),
# OUT (results file).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=${DURATION:-10s}
WRK_THREADS=${WRK_THREADS:-2}
CONNECTIONS=${CONNECTIONS:-50}
WORKERS=${WORKERS:-"1 2"}
IMPLS=${IMPLS:-"bare ours jwt-authorizer jwt-authorizer-url axum-jwks tower-oauth2 tower-oauth2-aws-lc"}
TOKENS=${TOKENS:-300000}
ALG=${ALG:-RS256}
PORT=${PORT:-18080}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/target-peers}
FIXTURE=${FIXTURE:-$CARGO_TARGET_DIR/load-fixture-$ALG-$TOKENS}
OUT=${OUT:-$CARGO_TARGET_DIR/load-results.md}

started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

case "$DURATION" in
  *m) dur_s=$(( ${DURATION%m} * 60 )) ;;
  *s) dur_s=${DURATION%s} ;;
  *) dur_s=$DURATION ;;
esac
server_max=$(( 4 * dur_s + 120 ))

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet --manifest-path "$HERE/Cargo.toml" --bin load_server
BIN=$CARGO_TARGET_DIR/release/load_server

# Tokens live 4 h: reuse a fixture younger than 2 h.
if [ -f "$FIXTURE/tokens.txt" ] && [ -n "$(find "$FIXTURE/tokens.txt" -mmin -120)" ]; then
  echo "reusing $FIXTURE" >&2
else
  rm -rf "$FIXTURE"
  "$BIN" mint --alg "$ALG" --count "$TOKENS" --out "$FIXTURE"
fi
TOKEN=$(tr -d '\n' < "$FIXTURE/token.txt")

declare -A RPS SECS BAD SKIP
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

# run_wrk KEY URL [wrk args...]: records req/s, seconds run and non-2xx count under KEY.
run_wrk() {
  local key=$1 url=$2
  shift 2
  local out
  out=$(timeout $(( dur_s + 60 )) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" "$url" "$@" 2>&1) || true
  if grep -q '^new-token:' <<<"$out"; then
    # The script's own clock: right even when its tokens ran out before -d.
    RPS[$key]=$(awk '/^new-token:/ {printf "%.0f", $8}' <<<"$out")
    SECS[$key]=$(awk '/^new-token:/ {print $5}' <<<"$out")
  else
    RPS[$key]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    SECS[$key]=$(awk '/requests in/ {sub(/s,?$/, "", $4); print $4}' <<<"$out")
  fi
  BAD[$key]=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  local errs
  errs=$(grep 'Socket errors' <<<"$out" || true)
  if [ -z "${RPS[$key]}" ]; then
    echo "wrk failed for $key:" >&2
    echo "$out" >&2
    RPS[$key]=0
  fi
  echo "  $key: ${RPS[$key]} req/s over ${SECS[$key]:-?}s${BAD[$key]:+, ${BAD[$key]} non-2xx}${errs:+, $errs}" >&2
}

n=0
for w in $WORKERS; do
  for impl in $IMPLS; do
    port=$(( PORT + n ))
    n=$(( n + 1 ))
    log=$(mktemp)
    "$BIN" serve --impl "$impl" --workers "$w" --port "$port" --fixture "$FIXTURE" \
      --max-seconds "$server_max" >"$log" 2>&1 &
    server_pid=$!
    ready=
    for _ in $(seq 1 600); do
      if grep -q '^LISTENING' "$log"; then ready=1; break; fi
      if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
      sleep 0.1
    done
    if [ -z "$ready" ]; then
      reason=$(grep -m1 -E 'SKIP|error' "$log" || echo "did not start within 60 s")
      SKIP[$impl]=$reason
      echo "SKIP $impl ($w workers): $reason" >&2
      kill "$server_pid" 2>/dev/null || true
      wait "$server_pid" 2>/dev/null || true
      server_pid=
      rm -f "$log"
      continue
    fi
    echo "$impl, $w worker(s), port $port" >&2
    url="http://127.0.0.1:$port/"
    run_wrk "repeated,$impl,$w" "$url" -H "Authorization: Bearer $TOKEN"
    run_wrk "new,$impl,$w" "$url" -s "$HERE/wrk/new_token.lua" -- "$FIXTURE/tokens.txt" "$WRK_THREADS"
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    rm -f "$log"
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f×", a / b; else printf "–" }'; }

cell() {
  local key=$1
  local v=${RPS[$key]:-}
  if [ -z "$v" ]; then printf "skipped"; return; fi
  printf "%s" "$v"
  if [ -n "${BAD[$key]:-}" ]; then printf " (%s non-2xx!)" "${BAD[$key]}"; fi
  local s=${SECS[$key]:-}
  if [ -n "$s" ] && awk -v s="$s" -v d="$dur_s" 'BEGIN { exit !(s < d - 0.5) }'; then
    printf " (%ss)" "$s"
  fi
}

table() {
  local mode=$1
  local header="| implementation |" rule="|---|"
  for w in $WORKERS; do
    header+=" req/s, $w worker(s) | × bare |"
    rule+="---:|---:|"
  done
  local ws=($WORKERS)
  if [ "${#ws[@]}" -ge 2 ]; then
    header+=" ${ws[0]} → ${ws[-1]} workers |"
    rule+="---:|"
  fi
  echo "$header"
  echo "$rule"
  for impl in $IMPLS; do
    local row="| $impl |"
    for w in $WORKERS; do
      row+=" $(cell "$mode,$impl,$w") | $(ratio "${RPS[$mode,$impl,$w]:-0}" "${RPS[$mode,bare,$w]:-0}") |"
    done
    if [ "${#ws[@]}" -ge 2 ]; then
      row+=" $(ratio "${RPS[$mode,$impl,${ws[-1]}]:-0}" "${RPS[$mode,$impl,${ws[0]}]:-0}") |"
    fi
    echo "$row"
  done
}

elapsed=$(( $(date +%s) - started ))
{
  echo "wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION on 127.0.0.1, $ALG, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ); load.sh took ${elapsed}s; load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "Repeated token (the same valid token on every request):"
  echo
  table repeated
  echo
  echo "New token on every request ($TOKENS pre-minted distinct tokens; a run that used them up before ${DURATION} shows its length):"
  echo
  table new
  for impl in "${!SKIP[@]}"; do
    echo
    echo "Skipped $impl: ${SKIP[$impl]}"
  done
} | tee "$OUT"
echo "(written to $OUT)" >&2
