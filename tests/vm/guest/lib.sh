# shellcheck shell=dash
# Check functions for the guest scenario (busybox ash). Results go to the serial console as
# "PASS name (t=...)" and "FAIL name: reason"; the host parses exactly these prefixes.

IP=/bin/ip
PASSED=0
FAILED=0
BLOCKED=
NOTE=
# Seconds between two tries of poll and apoll. Waits whose timing is read from logs afterwards
# poll less often: each try forks tools that start slowly under emulation.
POLL_EVERY=0.2

# Centiseconds since boot, from /proc/uptime ("12.34 ..."); "1$frac - 100" avoids octal parsing.
now_cs() {
  local up
  read -r up _ </proc/uptime
  echo $((${up%.*} * 100 + 1${up#*.} - 100))
}

since() { # centiseconds -> "1.23"
  local d=$(($(now_cs) - $1))
  printf '%d.%02d' $((d / 100)) $((d % 100))
}

ns() { # ns NAME CMD...: run CMD inside the lab namespace NAME
  local name=$1
  shift
  $IP netns exec "$name" "$@"
}

# poll SECONDS CMD...: retries CMD every $POLL_EVERY s until it succeeds; fails once SECONDS have passed.
poll() {
  local limit=$(($(now_cs) + $1 * 100))
  shift
  while :; do
    "$@" && return 0
    [ "$(now_cs)" -ge "$limit" ] && return 1
    sleep "$POLL_EVERY"
  done
}

pass() {
  PASSED=$((PASSED + 1))
  echo "PASS $1 (t=$(since 0)s)${NOTE:+ $NOTE}"
}

fail() {
  FAILED=$((FAILED + 1))
  echo "FAIL $1: $2"
}

# check NAME FUNC [ARGS]: runs FUNC in this shell (it may set state for later checks); FUNC
# returns non-zero on failure and its last output line is the reason. While BLOCKED is set, the
# check fails at once with that text: a check that could not run is not a pass.
check() {
  local name=$1 out=/tmp/check.out reason
  shift
  NOTE=
  if [ -n "$BLOCKED" ]; then
    fail "$name" "not run: $BLOCKED"
    return 1
  fi
  if "$@" >"$out" 2>&1; then
    pass "$name"
    return 0
  fi
  reason=$(grep -v '^[[:space:]]*$' "$out" | tail -n 1)
  fail "$name" "${reason:-failed without output}"
  grep -v '^[[:space:]]*$' "$out" | tail -n 8 | sed 's/^/  | /'
  return 1
}
