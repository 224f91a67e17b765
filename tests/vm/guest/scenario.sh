# shellcheck shell=dash
# shellcheck disable=SC2034 # POLL_EVERY and STOP_GRACE are read by lib.sh and arcway-checks.sh
# The scenario: lab checks first (they need only the kernel and the tools), then arcway's on the
# veth lab, then arcway's on real 802.11.
# Every planned check reports exactly once; the host compares the count with PLAN.

LAB_CHECKS="lab.modules lab.topology lab.nftables lab.wifi-path lab.cell-path lab.kernel-wg-ping
  lab.kernel-wg-handshake lab.carrier-loss lab.manual-failover lab.restore"
ARCWAY_CHECKS="arcway.config arcway.kernel-backend arcway.handshake arcway.device-config arcway.ping-via-arc
  arcway.nft-table arcway.wifi-loss-to-cellular arcway.wifi-restore-to-arc arcway.tunnel-not-on-cellular
  arcway.stop arcway.removed-device arcway.removed-rules"
WIFI_CHECKS="wifi.topology wifi.associated wifi.arcway wifi.status wifi.deauth wifi.ap-stop wifi.beacon-loss
  wifi.flap wifi.mbb wifi.tunnel-not-on-cellular wifi.stop wifi.nl80211-off-arcway wifi.nl80211-off-deauth
  wifi.nl80211-off-stop"

scenario_lab() {
  check lab.modules lab_modules
  check lab.topology lab_topology || BLOCKED="the lab topology could not be built"
  check lab.nftables lab_nftables
  check lab.wifi-path lab_wifi_path
  check lab.cell-path lab_cell_path
  check lab.kernel-wg-ping lab_wg_ping
  check lab.kernel-wg-handshake lab_wg_handshake
  check lab.carrier-loss lab_carrier_loss
  check lab.manual-failover lab_manual_failover
  check lab.restore lab_restore
  [ -z "$BLOCKED" ] && lab_reset
}

scenario_arcway() {
  local failed_before=$FAILED name
  if [ -n "$BLOCKED" ]; then
    :
  elif ! arcway_has_run; then
    echo "NOTE arcway checks NOT RUN: $ARCWAY has no 'run' command (the daemon is not in this build); they count as failed"
    BLOCKED="arcway has no 'run' command"
  else
    echo "NOTE arcway checks running: $ARCWAY run --config $ARCWAY_CONFIG in namespace gw"
  fi
  if [ -n "$BLOCKED" ]; then
    for name in $ARCWAY_CHECKS; do check "$name" false; done
    return
  fi
  check arcway.config arcway_config || BLOCKED=${BLOCKED:-"arcway rejected $ARCWAY_CONFIG"}
  [ -z "$BLOCKED" ] && arcway_start
  check arcway.kernel-backend arcway_kernel_backend || BLOCKED=${BLOCKED:-"arcway.kernel-backend failed"}
  check arcway.handshake arcway_handshake || BLOCKED=${BLOCKED:-"arcway.handshake failed"}
  check arcway.device-config arcway_device_config
  check arcway.ping-via-arc arcway_ping_via_arc
  check arcway.nft-table arcway_nft_table
  check arcway.wifi-loss-to-cellular arcway_wifi_loss
  check arcway.wifi-restore-to-arc arcway_wifi_restore
  check arcway.tunnel-not-on-cellular arcway_tunnel_not_on_cell
  # Stopping is judged whenever arcway was started; cleanup only once arc0 had been seen, since
  # an arcway that never set anything up would pass it without removing anything.
  [ -n "$ARCWAY_PID" ] && BLOCKED=
  check arcway.stop arcway_stop
  [ -n "$ARC_SEEN" ] || BLOCKED="arc0 never came up, so its removal cannot be judged"
  check arcway.removed-device arcway_removed_device
  check arcway.removed-rules arcway_removed_rules
  [ "$FAILED" -gt "$failed_before" ] && arcway_dump
  return 0
}

# The same lab with real 802.11 in place of the veth pair: the arcway checks above covered a
# "Wi-Fi" uplink that is Ethernet to the kernel (carrier only); these cover the 802.11 device.
scenario_wifi() {
  local failed_before=$FAILED name
  if [ -n "$BLOCKED" ]; then
    for name in $WIFI_CHECKS; do check "$name" false; done
    return
  fi
  # Trials read their times from logs; waiting need not poll (and load the guest) as often.
  POLL_EVERY=0.5
  STOP_GRACE=30
  check wifi.topology wifi_topology || BLOCKED="the 802.11 topology could not be built"
  check wifi.associated wifi_associated || BLOCKED=${BLOCKED:-"the station did not associate"}
  check wifi.arcway wifi_arcway || BLOCKED=${BLOCKED:-"arcway did not come up over 802.11"}
  check wifi.status wifi_status
  check wifi.deauth wifi_deauth
  check wifi.ap-stop wifi_ap_stop
  check wifi.beacon-loss wifi_beacon_loss
  check wifi.flap wifi_flap
  check wifi.mbb wifi_mbb
  check wifi.tunnel-not-on-cellular arcway_tunnel_not_on_cell
  [ -n "$ARCWAY_PID" ] && BLOCKED=
  check wifi.stop wifi_stop
  # Again with nl80211 off, on the same access point and station.
  check wifi.nl80211-off-arcway wifi_rtnl_arcway || BLOCKED=${BLOCKED:-"arcway did not come up with nl80211 off"}
  check wifi.nl80211-off-deauth wifi_rtnl_deauth
  [ -n "$ARCWAY_PID" ] && BLOCKED=
  check wifi.nl80211-off-stop wifi_stop
  wifi_monitors_stop
  echo_stop
  [ "$FAILED" -gt "$failed_before" ] && wifi_dump
  wifi_figures
}

scenario() {
  local plan=0 name wifi=1
  # The 802.11 part runs unless the host turned it off (ARCWAY_VM_WIFI=0).
  grep -qw 'arcway.wifi=0' /proc/cmdline && wifi=
  [ -n "$wifi" ] || WIFI_CHECKS=
  for name in $LAB_CHECKS $ARCWAY_CHECKS $WIFI_CHECKS; do plan=$((plan + 1)); done
  echo "PLAN $plan checks"
  scenario_lab
  scenario_arcway
  if [ -n "$wifi" ]; then
    scenario_wifi
  else
    echo "NOTE the 802.11 checks were not run (ARCWAY_VM_WIFI=0)"
  fi
  echo "NOTE guest: $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ] && [ "$PASSED" -eq "$plan" ]
}
