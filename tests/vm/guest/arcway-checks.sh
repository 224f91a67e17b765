# shellcheck shell=dash
# shellcheck disable=SC2034 # NOTE is read by check() in lib.sh
# The arcway scenario: arcway runs in gw with backend auto and must pick kernel WireGuard, bring
# the tunnel up, carry platform traffic over it, fail over to cellular on Wi-Fi carrier loss,
# return over Arc after a fresh handshake, and remove its device and rules when stopped.

ARCWAY=/usr/bin/arcway
ARCWAY_CONFIG=/etc/arcway/arcway.yaml
ARCWAY_LOG=/tmp/arcway.log
ARCWAY_PID=
HANDSHAKE_BEFORE=0
ARC_SEEN=
TUNNEL_ON_CELL_BEFORE=
STOP_GRACE=10

arcway_has_run() { $ARCWAY --help 2>&1 | grep -Eq '^[[:space:]]+run([[:space:]]|$)'; }

arcway_alive() { [ -n "$ARCWAY_PID" ] && [ -d "/proc/$ARCWAY_PID" ] && ! grep -q ') Z ' "/proc/$ARCWAY_PID/stat"; }

# apoll SECONDS CMD...: poll, but giving up at once when arcway has exited.
apoll() {
  local limit=$(($(now_cs) + $1 * 100))
  shift
  while :; do
    "$@" && return 0
    arcway_alive || return 1
    [ "$(now_cs)" -ge "$limit" ] && return 1
    sleep "$POLL_EVERY"
  done
}

# Prefix for failure reasons: an exited arcway explains every later symptom.
exited() { arcway_alive || printf 'arcway has exited; '; }

arcway_config() { $ARCWAY check-config --config $ARCWAY_CONFIG; }

# Not through the ns function: a backgrounded function is a subshell, and $! would be its PID
# rather than arcway's (ip netns exec execs arcway in place, so this $! is arcway's own).
arcway_start() {
  TUNNEL_ON_CELL_BEFORE=$(tunnel_on_cell)
  $IP netns exec gw $ARCWAY run --config $ARCWAY_CONFIG >$ARCWAY_LOG 2>&1 &
  ARCWAY_PID=$!
}

arc_is_kernel() { $IP -n gw -d link show arc0 2>/dev/null | grep -qw wireguard; }

arcway_kernel_backend() {
  # 14-15 s were seen from start to arc0 on a busy host (emulated, two guest CPUs).
  if apoll 30 arc_is_kernel; then
    ARC_SEEN=1
    return 0
  fi
  $IP -n gw -d link show arc0 2>&1 | head -n 3
  echo "$(exited)no kernel WireGuard device arc0 in gw"
  return 1
}

arc_has_handshake() { [ "$(wg_handshake arc0)" -gt 0 ]; }

arcway_handshake() {
  apoll 15 arc_has_handshake || { echo "$(exited)arc0 has no handshake with the arc server"; return 1; }
}

# What arcway wrote over generic netlink, as wg(8) reads it back from the kernel: the client's
# key, a fwmark, exactly one peer (the server) with its endpoint, AllowedIPs and keepalive.
arcway_device_config() {
  local dump line peer
  dump=$(ns gw wg show arc0 dump) || { echo "wg show arc0 dump failed"; return 1; }
  line=$(echo "$dump" | sed -n 1p)
  [ "$(echo "$line" | cut -f2)" = "$(cat /run/lab/client.pub)" ] || { echo "device key: $(echo "$line" | cut -f2)"; return 1; }
  [ "$(echo "$line" | cut -f4)" != off ] || { echo "no fwmark on arc0"; return 1; }
  [ "$(echo "$dump" | wc -l)" -eq 2 ] || { echo "$dump" | cut -f1,3,4; echo "not exactly one peer"; return 1; }
  peer=$(echo "$dump" | sed -n 2p | cut -f1,3,4,8)
  [ "$peer" = "$(printf '%s\t203.0.113.10:11010\t100.127.0.0/16\t5' "$(cat /run/lab/server.pub)")" ] ||
    { echo "peer: $peer"; return 1; }
}

route_is_arc() { [ "$(route_dev)" = arc0 ]; }

platform_via() { [ "$(route_dev)" = "$1" ] && platform_ping; }

arcway_ping_via_arc() {
  local rx0
  rx0=$(wg_rx arc0)
  # Under emulation on a busy host the first probe rounds and up_after take well over 10 s.
  apoll 30 platform_via arc0 || { echo "$(exited)platform route via '$(route_dev)', ping through arc0 failed"; return 1; }
  [ "$(wg_rx arc0)" -gt "$rx0" ] || { echo "arc0 received nothing while the ping was answered"; return 1; }
}

# arcway's own table is loaded (its counters need nft_objref, which only insmod brings here)
# and status reports no nftables problem.
arcway_table_present() { ns gw nft list table inet arcway 2>/dev/null | grep -q 'counter name "line.cellular.tx"'; }

arcway_nft_table() {
  local listing problems
  apoll 10 arcway_table_present || { echo "$(exited)no table inet arcway with its counters in gw"; tail -n 5 $ARCWAY_LOG; return 1; }
  listing=$(ns gw nft list table inet arcway)
  echo "$listing" | grep -q 'oifname "wwan0" fib saddr type != local masquerade' ||
    { echo "no masquerade on wwan0 in table inet arcway"; return 1; }
  echo "$listing" | grep -q 'oifname "arc0" fib saddr type != local meta nfproto ipv4 snat ip to 100.127.201.2' ||
    { echo "no snat to the Arc address in table inet arcway"; return 1; }
  problems=$($ARCWAY status --json --socket /run/arcway/arcway.sock | grep -c '"object": "nftables"')
  [ "$problems" -eq 0 ] || { echo "arcway status reports an nftables problem"; return 1; }
}

arcway_wifi_loss() {
  local t0
  $IP -n ap link set wifi0 down || return 1
  t0=$(now_cs)
  # With the AP's end down the cellular link is the only way to the platform.
  apoll 10 platform_via wwan0 || { echo "$(exited)platform route via '$(route_dev)' 10 s after Wi-Fi carrier loss"; return 1; }
  NOTE="moved within $(since "$t0") s"
}

arcway_wifi_restore() {
  local t0 handshake
  # Wi-Fi back within up_after (1 s here) would be a quick reassociation, after which the
  # tunnel returns on its session without a new handshake (health.wifi.reassoc_up_after, on by
  # default): this check is about the return after an outage, which needs one.
  sleep 2
  HANDSHAKE_BEFORE=$(wg_handshake arc0)
  $IP -n ap link set wifi0 up || return 1
  t0=$(now_cs)
  apoll 25 route_is_arc || { echo "$(exited)platform route via '$(route_dev)' 25 s after Wi-Fi returned"; return 1; }
  NOTE="back within $(since "$t0") s"
  handshake=$(wg_handshake arc0)
  [ "$handshake" -gt "$HANDSHAKE_BEFORE" ] ||
    { echo "moved back to arc0 without a fresh handshake (latest $handshake, before $HANDSHAKE_BEFORE)"; return 1; }
  apoll 5 platform_ping || { echo "$(exited)no reply from $PLATFORM through arc0 after returning"; return 1; }
}

tunnel_on_cell() { # WireGuard packets the cell core has seen so far
  ns cell nft list chain inet vmlab watch | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

arcway_tunnel_not_on_cell() {
  local seen
  seen=$(tunnel_on_cell)
  [ "${seen:-x}" = "$TUNNEL_ON_CELL_BEFORE" ] ||
    { echo "$((seen - TUNNEL_ON_CELL_BEFORE)) WireGuard packets reached the cell core"; return 1; }
}

arcway_stop() {
  local watchdog rc
  arcway_alive || { wait "$ARCWAY_PID"; echo "arcway had already exited with status $?"; return 1; }
  kill -TERM "$ARCWAY_PID"
  (sleep "$STOP_GRACE" && kill -KILL "$ARCWAY_PID") 2>/dev/null &
  watchdog=$!
  wait "$ARCWAY_PID"
  rc=$?
  kill "$watchdog" 2>/dev/null
  ARCWAY_PID=
  [ "$rc" -eq 0 ] && return 0
  [ "$rc" -eq 137 ] && { echo "arcway did not stop within $STOP_GRACE s of SIGTERM"; return 1; }
  echo "arcway exited with status $rc after SIGTERM"
  return 1
}

arcway_removed_device() {
  ! $IP -n gw link show arc0 >/dev/null 2>&1 || { echo "arc0 is still there"; return 1; }
}

# arcway's rules live in priorities 7100-7199 and its routes in tables 7101-7199 (the config's
# defaults); on_stop: remove must leave none of either.
arcway_removed_rules() {
  local left
  left=$( ($IP -n gw -4 rule show; $IP -n gw -6 rule show) | awk -F: '$1 >= 7100 && $1 <= 7199')
  [ -z "$left" ] || { echo "$left"; echo "rules left in 7100-7199"; return 1; }
  left=$( ($IP -n gw -4 route show table all; $IP -n gw -6 route show table all) | grep -E 'table 71[0-9][0-9]( |$)')
  [ -z "$left" ] || { echo "$left"; echo "routes left in arcway's tables"; return 1; }
  ! ns gw nft list table inet arcway >/dev/null 2>&1 || { echo "table inet arcway left in gw"; return 1; }
}

# Shown when an arcway check failed, so the console alone explains it.
arcway_dump() {
  echo "---- arcway log (last 40 lines)"
  tail -n 40 $ARCWAY_LOG 2>/dev/null | sed 's/^/  arcway| /'
  echo "---- gw state"
  { $IP -n gw rule show; $IP -n gw route show table all; ns gw wg show; } 2>&1 | grep -v '^ff00::\|^fe80::\|^local ' | sed 's/^/  gw| /'
}
