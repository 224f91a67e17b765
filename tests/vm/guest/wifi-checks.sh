# shellcheck shell=dash
# shellcheck disable=SC2034 # NOTE is read by check() in lib.sh
# arcway on a real 802.11 link (mac80211_hwsim, hostapd, wpa_supplicant): Wi-Fi faults as an
# access point makes them, each under a 100-per-second echo stream from the LAN host to the
# platform, with the path of every reply; then the figures as one JSON line ("FIGURES {...}").
#
# Times come from three listeners started once in gw: `ip -ts monitor link route` (carrier and
# operstate messages, arcway's class routes), `iw event -t` (nl80211 MLME and CQM events), and
# iputils ping -D in lan (each reply stamped, TTL 98 when it came over cellular, 62 over Arc). All
# of them stamp with the wall clock, which busybox's adjtimex reads to the microsecond.

W=/run/lab/wifi
WIFI_CONFIG=/etc/arcway/arcway-wifi.yaml
WIFI_CONFIG_RTNL=/etc/arcway/arcway-wifi-rtnl.yaml
WIFI_LOG=/tmp/arcway-wifi.log
HWSIM_AP=/sys/kernel/debug/ieee80211/phy0/hwsim
PING=/usr/lib/iputils/ping
STA_MAC=
WIFI_MON_PIDS=
ECHO_PID=
ECHO_LOG=
T_FAULT=
T_CMD=
# Per-figure samples, space-separated milliseconds.
F_DEAUTH=
F_EVENT=
F_BEACON=
F_APSTOP=
F_DEAUTH_OFF=
MBB_LOST=null
AP_MAC=
F_FLAP=
FLAP_DETECTED=false

# Each trial's account goes straight to the console: check() keeps only a failing check's output.
trial_note() { echo "NOTE wifi $*" >/dev/console; }

# What explains a failed Wi-Fi check, straight to the console: arcway's log since the fault (but
# probe rounds), what nl80211 and route netlink said, the tunnel and arcway's view of the paths.
wifi_explain() {
  {
    echo "---- $1: arcway log (last 40 lines but probe rounds)"
    grep -v 'probe round' $WIFI_LOG 2>/dev/null | tail -n 40 | sed 's/^/  arcway| /'
    echo "---- nl80211 events (last 12)"
    tail -n 12 /tmp/wifi/iw.log 2>/dev/null | sed 's/^/  iw| /'
    echo "---- route-netlink (last 12)"
    tail -n 12 /tmp/wifi/mon.log 2>/dev/null | sed 's/^/  mon| /'
    echo "---- wpa_supplicant (last 6), wg, status"
    tail -n 6 $W/wpa_supplicant.log 2>/dev/null | sed 's/^/  wpa| /'
    ns gw wg show arc0 2>&1 | sed 's/^/  wg| /'
    arcway_status 2>&1 | tr -d ' \n' | cut -c1-1500 | sed 's/^/  status| /'
    echo
  } >/dev/console
}

hostapd_cli() { command hostapd_cli -p $W/hostapd -i wifi0 "$@"; }
wpa_cli() { command wpa_cli -p $W/wpa_supplicant -i wlan0 "$@"; }

wifi_topology() {
  insmod /lib/modules/mac80211_hwsim.ko radios=2 || return 1
  mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug || return 1
  sh -ex /lab/wifi-topology.sh || return 1
  STA_MAC=$($IP -n gw link show wlan0 | awk '/link\/ether/ { print $2 }')
  AP_MAC=$($IP -n ap link show wifi0 | awk '/link\/ether/ { print $2 }')
  if [ -z "$STA_MAC" ] || [ -z "$AP_MAC" ]; then
    echo "wlan0 or wifi0 has no MAC address"
    return 1
  fi
}

wpa_completed() { wpa_cli status 2>/dev/null | grep -qx 'wpa_state=COMPLETED'; }

wifi_associated() {
  local t0
  t0=$(now_cs)
  poll 20 wpa_completed || { tail -n 8 $W/wpa_supplicant.log; echo "wlan0 not associated 20 s after wpa_supplicant started"; return 1; }
  NOTE="associated within $(since "$t0") s"
  $IP -n gw link show wlan0 | grep -q 'LOWER_UP' || { echo "wlan0 associated but without LOWER_UP"; return 1; }
  poll 5 ns gw ping -c 1 -W 1 -I wlan0 203.0.113.100 >/dev/null || { echo "no reply from 203.0.113.100 over 802.11"; return 1; }
}

# Listeners for the whole scenario; their logs are read per trial, windowed by the fault time.
wifi_monitors_start() {
  mkdir -p /tmp/wifi
  $IP -n gw -ts monitor link route >/tmp/wifi/mon.log 2>&1 &
  WIFI_MON_PIDS=$!
  $IP netns exec gw iw event -t >/tmp/wifi/iw.log 2>&1 &
  WIFI_MON_PIDS="$WIFI_MON_PIDS $!"
  # The access point's side: when it dropped the station is when a deauthentication happened.
  $IP netns exec ap iw event -t >/tmp/wifi/iw-ap.log 2>&1 &
  WIFI_MON_PIDS="$WIFI_MON_PIDS $!"
}

wifi_monitors_stop() {
  # shellcheck disable=SC2086 # a list of PIDs
  [ -n "$WIFI_MON_PIDS" ] && kill $WIFI_MON_PIDS 2>/dev/null
  WIFI_MON_PIDS=
}

wifi_arcway_start() {
  TUNNEL_ON_CELL_BEFORE=$(tunnel_on_cell)
  $IP netns exec gw "$ARCWAY" run --config "$1" >$WIFI_LOG 2>&1 &
  ARCWAY_PID=$!
  ARCWAY_LOG=$WIFI_LOG
}

# Wall clock as seconds of the day (UTC, microseconds), the unit every log is converted to.
wall_raw() { adjtimex; }
wall_sod() { awk '/tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf "%d.%06d\n", s % 86400, u }'; }

# The echo stream: 100 a second from lan to the platform, one stamped line per reply.
echo_start() {
  ECHO_LOG=/tmp/wifi/echo-$1.log
  $IP netns exec lan $PING -D -n -i 0.01 -W 1 "$PLATFORM" >"$ECHO_LOG" 2>&1 &
  ECHO_PID=$!
}

echo_stop() {
  [ -n "$ECHO_PID" ] && kill -INT "$ECHO_PID" 2>/dev/null && wait "$ECHO_PID" 2>/dev/null
  ECHO_PID=
}

# The awk helpers every reader shares: times to seconds of the day, the TTL of a ping line.
AWK_LIB='
function epoch_sod(s,  a) { sub(/^\[/, "", s); sub(/[]:]$/, "", s); split(s, a, "."); return (a[1] % 86400) + ("0." a[2]) }
function iso_sod(s) { return substr(s, 13, 2) * 3600 + substr(s, 16, 2) * 60 + substr(s, 19, 9) }
function ms(d) { if (d < -43200) d += 86400; return int(d * 1000 + 0.5) }
function ttl(line,  t) { if (!match(line, /ttl=[0-9]+/)) return 0; return substr(line, RSTART + 4, RLENGTH - 4) + 0 }
function seq(line) { if (!match(line, /icmp_seq=[0-9]+/)) return -1; return substr(line, RSTART + 9, RLENGTH - 9) + 0 }
'

# echo_after T PATH: time (s of day) of the first reply over PATH (arc|cell) after T, or nothing.
echo_after() {
  awk -v t="$1" -v want="$2" "$AWK_LIB"'
    /bytes from/ { ts = epoch_sod($1); if (ts <= t) next; c = ttl($0) >= 90 ? "cell" : "arc"
      if (c == want) { printf "%.6f\n", ts; exit } }' "$ECHO_LOG"
}

# The echo stream's account since T: replies over Arc, over cellular, and echoes never answered
# (sequence numbers missing between the first and the last reply).
echo_summary() {
  awk -v t="$1" "$AWK_LIB"'
    /bytes from/ { if (epoch_sod($1) <= t) next; s = seq($0); if (ttl($0) >= 90) cell++; else arc++
      if (!(s in seen)) { seen[s] = 1; n++ } if (lo == "" || s < lo) lo = s; if (s > hi) hi = s }
    END { printf "%d %d %d\n", arc, cell, (hi == "" ? 0 : hi - lo + 1 - n) }' "$ECHO_LOG"
}

# Where the unanswered echoes since T were: "+MS:BEFORE>AFTER" for up to 4 of them, MS after T
# of the last reply before the gap, and which way the replies around it came.
echo_gaps() {
  awk -v t="$1" "$AWK_LIB"'
    /bytes from/ { ts = epoch_sod($1); if (ts <= t) next; s = seq($0); at[s] = ts; way[s] = ttl($0) >= 90 ? "cell" : "arc"
      if (lo == "" || s < lo) lo = s; if (s > hi) hi = s }
    END { n = 0; for (s = lo; s <= hi && n < 4; s++) if (!(s in at)) { p = s - 1; while (!(p in at)) p--
        q = s + 1; while (!(q in at)) q++; printf " +%d:%s>%s", ms(at[p] - t), way[p], way[q]; n++; s = q } }' "$ECHO_LOG"
}

# ap_dropped_since T: when the access point's kernel dropped the station after T (its nl80211
# "del station"), if it did, becomes T_FAULT: the fault itself rather than the command's start.
ap_dropped_since() {
  local t
  poll 2 ap_dropped_after "$1" || return 0
  t=$(ap_dropped_after "$1")
  [ -n "$t" ] && T_FAULT=$t
  return 0
}

ap_dropped_after() {
  awk -v t="$1" "$AWK_LIB"'
    / wifi0: del station / { ts = epoch_sod($1); if (ts > t) { found = 1; printf "%.6f\n", ts; exit } }
    END { exit !found }' /tmp/wifi/iw-ap.log
}

# First kernel loss notification for wlan0 after T: an nl80211 MLME/CQM event, or a
# route-netlink message without LOWER_UP (or operstate DORMANT/DOWN).
first_loss_event() {
  {
    awk -v t="$1" "$AWK_LIB"'
      / wlan0 / && /deauth|disassoc|disconnected|beacon loss|didn.t ACK|del station/ { ts = epoch_sod($1); if (ts > t) { printf "%.6f nl80211\n", ts; exit } }' /tmp/wifi/iw.log
    awk -v t="$1" "$AWK_LIB"'
      / wlan0: / && (!/LOWER_UP/ || /state DORMANT|state DOWN/) { ts = iso_sod($1); if (ts > t) { printf "%.6f rtnl\n", ts; exit } }' /tmp/wifi/mon.log
  } | sort -n | head -n 1
}

# route_switch T DEV: time of the first route in the platform class's table (7110) via DEV after T.
route_switch() {
  awk -v t="$1" -v dev="$2" "$AWK_LIB"'
    / table 7110 / && !/Deleted/ && index($0, " dev " dev " ") { ts = iso_sod($1); if (ts > t) { printf "%.6f\n", ts; exit } }' /tmp/wifi/mon.log
}

diff_ms() { awk -v a="$1" -v b="$2" "$AWK_LIB"'BEGIN { print ms(b - a) }'; }

# Steady state before a trial: associated, the platform class over Arc, the echo stream over Arc.
wifi_steady() { wpa_completed && route_is_arc; }

# A fault under the echo stream. wifi_trial NAME FAULT RESTORE: FAULT runs right after the wall
# clock is read; the platform must move to cellular within 10 s; RESTORE (may be :) undoes the
# fault and the platform must come back over Arc within 40 s. Sets TRIAL_FAILOVER and TRIAL_EVENT
# (ms) and prints the stream's account.
wifi_trial() {
  local name=$1 fault=$2 restore=$3 t_cell loss t_route t0 acct
  TRIAL_FAILOVER=
  TRIAL_EVENT=
  apoll 30 wifi_steady || { echo "$(exited)not steady before $name: wpa $(wpa_cli status 2>/dev/null | grep wpa_state), platform via '$(route_dev)'"; return 1; }
  echo_start "$name"
  apoll 5 echo_over_arc || { echo_stop; echo "no echo reply over Arc before $name"; return 1; }
  wall_raw >/tmp/wifi/t_fault
  $fault || { echo_stop; echo "fault $fault failed"; return 1; }
  T_CMD=$(wall_sod </tmp/wifi/t_fault)
  T_FAULT=$T_CMD
  t0=$(now_cs)
  ap_dropped_since "$T_CMD"
  apoll 10 echo_cell_since "$T_FAULT" || { echo_stop; wifi_explain "$name"; echo "$(exited)$name: no echo reply over cellular 10 s after the fault, platform via '$(route_dev)'"; return 1; }
  t_cell=$(echo_after "$T_FAULT" cell)
  TRIAL_FAILOVER=$(diff_ms "$T_FAULT" "$t_cell")
  loss=$(first_loss_event "$T_CMD")
  t_route=$(route_switch "$T_CMD" wwan0)
  [ -n "$loss" ] && [ -n "$t_route" ] && TRIAL_EVENT=$(diff_ms "${loss% *}" "$t_route")
  $restore || { echo_stop; echo "restore $restore failed"; return 1; }
  apoll 40 echo_arc_after_cell || { echo_stop; wifi_explain "$name"; echo "$(exited)$name: platform not back over Arc 40 s after the restore, via '$(route_dev)'"; return 1; }
  echo_stop
  acct=$(echo_summary "$T_FAULT")
  trial_note "$name: over cellular after ${TRIAL_FAILOVER} ms, first loss ${loss:-none} (route $((TRIAL_EVENT + 0)) ms later), back over Arc in $(since "$t0") s; replies arc/cell/lost: $acct$(echo_gaps "$T_FAULT")"
}

# While waiting, only the stream's latest replies are read; the whole log once per trial.
recent_echoes() { tail -n "${2:-20}" "$ECHO_LOG" | awk -v want="$1" "$AWK_LIB"'
  /bytes from/ { n++; if ((ttl($0) >= 90 ? "cell" : "arc") == want) m++ } END { print n + 0, m + 0 }'; }
echo_over_arc() { [ "$(recent_echoes arc)" = "20 20" ]; }
echo_cell_since() { tail -n 20 "$ECHO_LOG" | grep -q 'ttl=9[0-9]'; }
echo_arc_after_cell() { echo_over_arc && route_is_arc; }

# The access point deauthenticates the station and refuses it (its deny list) until the restore.
fault_deauth() {
  hostapd_cli deny_acl ADD_MAC "$STA_MAC" >/dev/null || return 1
  # Adding to the deny list deauthenticates an associated station; in case it did not:
  hostapd_cli deauthenticate "$STA_MAC" >/dev/null
}
restore_deauth() {
  hostapd_cli deny_acl DEL_MAC "$STA_MAC" >/dev/null || return 1
  wpa_cli reassociate >/dev/null
}
fault_ap_stop() { kill "$(cat $W/hostapd.pid)"; }
restore_ap() { $IP netns exec ap hostapd -B -P $W/hostapd.pid $W/hostapd.conf >>$W/hostapd.log; }
fault_beacon_loss() { echo 2 >$HWSIM_AP/group; }
restore_beacons() { echo 1 >$HWSIM_AP/group; }

# wifi_trials N NAME FAULT RESTORE VAR: N trials; the failover times are appended to VAR, the
# event-to-switch times to F_EVENT.
wifi_trials() {
  local n=$1 name=$2 fault=$3 restore=$4 var=$5 i=1 notes=
  while [ "$i" -le "$n" ]; do
    wifi_trial "$name-$i" "$fault" "$restore" || return 1
    eval "$var=\"\$$var $TRIAL_FAILOVER\""
    # The event-to-switch figure is arcway's with nl80211 on.
    # A switch before any loss notification was the probes' doing (a starved guest), not the event's.
    [ -n "$TRIAL_EVENT" ] && [ "$TRIAL_EVENT" -ge 0 ] && [ "$var" != F_DEAUTH_OFF ] && F_EVENT="$F_EVENT $TRIAL_EVENT"
    notes="$notes ${TRIAL_FAILOVER}"
    i=$((i + 1))
  done
  NOTE="failover ms:$notes"
}

# wifi_arcway [CONFIG]: arcway up on 802.11, the platform over Arc, the LAN's echoes answered.
wifi_arcway() {
  local config=${1:-$WIFI_CONFIG}
  $ARCWAY check-config --config "$config" || { echo "arcway rejects $config"; return 1; }
  [ -n "$WIFI_MON_PIDS" ] || wifi_monitors_start
  wifi_arcway_start "$config"
  apoll 30 arc_has_handshake || { echo "$(exited)arc0 has no handshake over 802.11"; return 1; }
  apoll 40 route_is_arc || { echo "$(exited)platform route via '$(route_dev)', not arc0"; return 1; }
  echo_start start
  apoll 10 echo_over_arc || { echo_stop; echo "no echo from lan answered over Arc"; return 1; }
  echo_stop
}

wifi_deauth() { wifi_trials 3 deauth fault_deauth restore_deauth F_DEAUTH; }
wifi_ap_stop() { wifi_trials 1 ap-stop fault_ap_stop restore_ap F_APSTOP; }
wifi_beacon_loss() { wifi_trials 2 beacon-loss fault_beacon_loss restore_beacons F_BEACON; }

# Deauthentication, and wpa_supplicant reassociates at once by itself (tens of ms here, the gap is
# in each trial's note): the carrier-off message usually never comes. Traffic moving at all is the
# detection; how long it stays on cellular is the cost.
fault_flap() { hostapd_cli deauthenticate "$STA_MAC" >/dev/null; }

# reassoc_gap T: ms from the station's first "disconnected" after T to its next "connected".
reassoc_gap() {
  awk -v t="$1" "$AWK_LIB"'
    / wlan0 / && /disconnected/ && d == "" { ts = epoch_sod($1); if (ts > t) d = ts; next }
    / wlan0 / && /connected to/ && d != "" { print ms(epoch_sod($1) - d); exit }' /tmp/wifi/iw.log
}

flap_trial() {
  local name=$1 t0 t_cell t_back acct
  apoll 30 wifi_steady || { echo "$(exited)not steady before $name, platform via '$(route_dev)'"; return 1; }
  echo_start "$name"
  apoll 5 echo_over_arc || { echo_stop; echo "no echo reply over Arc before $name"; return 1; }
  wall_raw >/tmp/wifi/t_fault
  fault_flap || { echo_stop; echo "flap failed"; return 1; }
  T_FAULT=$(wall_sod </tmp/wifi/t_fault)
  t0=$(now_cs)
  # Long enough for probes and up_after to have moved and returned the classes.
  apoll 40 flap_settled || { echo_stop; wifi_explain "$name"; echo "$(exited)$name: platform not back over Arc 40 s after the flap, via '$(route_dev)'"; return 1; }
  echo_stop
  t_cell=$(route_switch "$T_FAULT" wwan0)
  if [ -n "$t_cell" ]; then
    FLAP_DETECTED=true
    t_back=$(route_switch "$t_cell" arc0)
    F_FLAP="$F_FLAP $(diff_ms "$t_cell" "$t_back")"
  fi
  acct=$(echo_summary "$T_FAULT")
  if [ -n "$t_cell" ]; then
    trial_note "$name: reassociated after $(reassoc_gap "$T_FAULT") ms, moved to cellular for $(diff_ms "$t_cell" "$t_back") ms; replies arc/cell/lost: $acct$(echo_gaps "$T_FAULT")"
  else
    trial_note "$name: reassociated after $(reassoc_gap "$T_FAULT") ms, not moved; replies arc/cell/lost: $acct"
  fi
}

# Settled: associated again, over Arc, and at least 3 s after the flap (so a late move is seen).
flap_settled() { [ $(($(now_cs) - t0)) -ge 300 ] && echo_over_arc && route_is_arc; }

wifi_flap() {
  local i=1
  while [ $i -le 3 ]; do
    flap_trial "flap-$i" || return 1
    i=$((i + 1))
  done
  NOTE="moved: $FLAP_DETECTED, on cellular (ms):$F_FLAP"
}

wifi_stop() { arcway_stop; }

# The same deauthentication with nl80211 off (route netlink only), for the comparison figure.
wifi_rtnl_arcway() { wifi_arcway $WIFI_CONFIG_RTNL; }
wifi_rtnl_deauth() { wifi_trials 3 deauth-nl80211-off fault_deauth restore_deauth F_DEAUTH_OFF; }

arcway_status() { $ARCWAY status --json --socket /run/arcway/arcway.sock; }

# What arcway reports of the Wi-Fi link: the network, the access point, the signal (the station
# hears the access point at about -30 dBm), the bitrates; not degraded.
wifi_status() {
  local st
  st=$(arcway_status | tr -d ' \n') || { echo "arcway status failed"; return 1; }
  echo "$st" | grep -q '"wifi":{' || { echo "$st" | cut -c1-300; echo "no wifi object in status --json"; return 1; }
  echo "$st" | grep -q '"ssid":"arcway-lab"' || {
    ns gw iw dev wlan0 info >/dev/console 2>&1
    ns gw iw dev wlan0 station dump >/dev/console 2>&1
    grep -i 'wifi\|nl80211\|station' $WIFI_LOG | tail -n 20 >/dev/console
    echo "$st" | grep -o '"wifi":{[^}]*}'
    echo "status has no ssid arcway-lab"
    return 1
  }
  echo "$st" | grep -q "\"bssid\":\"$AP_MAC\"" || { echo "status has no bssid $AP_MAC"; return 1; }
  echo "$st" | grep -q '"freq_mhz":2412' || { echo "status has no freq_mhz 2412"; return 1; }
  echo "$st" | grep -Eq '"signal_dbm":-[1-4][0-9][,}]' || { echo "signal: $(echo "$st" | grep -o '"signal_dbm":[^,}]*')"; return 1; }
  echo "$st" | grep -Eq '"tx_bitrate_kbps":[1-9]' || { echo "status has no tx bitrate"; return 1; }
  echo "$st" | grep -q '"degraded":false' || { echo "wifi degraded before any fade"; return 1; }
  NOTE=$(echo "$st" | grep -o '"signal_dbm":[^,}]*')
}

# hwsim's debugfs takes the access point's rx_rssi as an unsigned 64-bit number (two's
# complement): 0x...9c is -100 dBm (heard at -80 with the access point's 20 dBm), 0x...ce -50.
degraded() { arcway_status | tr -d ' \n' | grep -q '"degraded":true'; }

# Make-before-break: the signal fades to -80 dBm (below -75) while the link keeps working; the
# platform must move to cellular while still associated, with no echo lost, and come back over
# Arc once the signal has recovered.
wifi_mbb() {
  local t0 acct
  apoll 30 wifi_steady || { echo "$(exited)not steady before the fade, platform via '$(route_dev)'"; return 1; }
  echo_start mbb
  apoll 5 echo_over_arc || { echo_stop; echo "no echo reply over Arc before the fade"; return 1; }
  wall_raw >/tmp/wifi/t_fault
  echo 0xffffffffffffff9c >$HWSIM_AP/rx_rssi || { echo_stop; echo "cannot set rx_rssi"; return 1; }
  T_FAULT=$(wall_sod </tmp/wifi/t_fault)
  t0=$(now_cs)
  apoll 15 echo_cell_since || { echo_stop; wifi_explain mbb; echo 0xffffffffffffffce >$HWSIM_AP/rx_rssi; echo "$(exited)platform still via '$(route_dev)' 15 s into the fade"; return 1; }
  wpa_completed || { echo_stop; echo 0xffffffffffffffce >$HWSIM_AP/rx_rssi; echo "the station lost the access point: not make-before-break"; return 1; }
  grep -q 'wifi signal weak' $WIFI_LOG || { echo_stop; echo 0xffffffffffffffce >$HWSIM_AP/rx_rssi; echo "no 'wifi signal weak' in arcway's log"; return 1; }
  degraded || { echo_stop; echo 0xffffffffffffffce >$HWSIM_AP/rx_rssi; echo "status does not show wifi degraded"; return 1; }
  trial_note "mbb: moved within $(since "$t0") s of the fade, still associated; $(grep -m 1 -o 'wifi signal weak.*' $WIFI_LOG)"
  echo 0xffffffffffffffce >$HWSIM_AP/rx_rssi
  apoll 40 echo_arc_after_cell || { echo_stop; wifi_explain mbb-back; echo "$(exited)platform not back over Arc 40 s after the signal recovered, via '$(route_dev)'"; return 1; }
  echo_stop
  acct=$(echo_summary "$T_FAULT")
  MBB_LOST=${acct##* }
  NOTE="replies arc/cell/lost: $acct$(echo_gaps "$T_FAULT")"
}

# Median of whitespace-separated integers ("null" when there are none).
p50() {
  echo "$1" | tr ' ' '\n' | grep -E '^-?[0-9]+$' | sort -n |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "null"; else if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

wifi_figures() {
  local flap_ms
  flap_ms=$(p50 "$F_FLAP")
  [ "$FLAP_DETECTED" = true ] || flap_ms=0
  printf 'FIGURES {"wifi_deauth_failover_ms_p50": %s, "wifi_event_to_switch_ms_p50": %s, "wifi_beaconloss_failover_ms_p50": %s, "wifi_flap_detected": %s, "wifi_flap_cellular_ms": %s, "mbb_lost_echoes": %s, "wifi_deauth_failover_nl80211_off_ms_p50": %s}\n' \
    "$(p50 "$F_DEAUTH")" "$(p50 "$F_EVENT")" "$(p50 "$F_BEACON")" "$FLAP_DETECTED" "$flap_ms" "$MBB_LOST" "$(p50 "$F_DEAUTH_OFF")"
}

# Shown when a Wi-Fi check failed.
wifi_dump() { wifi_explain "802.11 checks"; }
