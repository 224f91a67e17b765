# shellcheck shell=dash
# The scenario: lab checks first (they need only the kernel and the tools), then arcway's.
# Every planned check reports exactly once; the host compares the count with PLAN.

LAB_CHECKS="lab.modules lab.topology lab.nftables lab.wifi-path lab.cell-path lab.kernel-wg-ping
  lab.kernel-wg-handshake lab.carrier-loss lab.manual-failover lab.restore"
ARCWAY_CHECKS="arcway.config arcway.kernel-backend arcway.handshake arcway.device-config arcway.ping-via-arc
  arcway.nft-table arcway.wifi-loss-to-cellular arcway.wifi-restore-to-arc arcway.tunnel-not-on-cellular
  arcway.stop arcway.removed-device arcway.removed-rules"

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

scenario() {
  local plan=0 name
  for name in $LAB_CHECKS $ARCWAY_CHECKS; do plan=$((plan + 1)); done
  echo "PLAN $plan checks"
  scenario_lab
  scenario_arcway
  echo "NOTE guest: $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ] && [ "$PASSED" -eq "$plan" ]
}
