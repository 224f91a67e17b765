# shellcheck shell=dash
# Checks of the lab itself with kernel WireGuard set up by hand (wg, ip), independent of arcway:
# they prove the guest, the module chain and the topology before arcway is judged on them.

PLATFORM=100.127.100.127

lab_modules() {
  local m
  for m in wireguard veth nft_objref nft_reject_inet nft_socket; do
    [ -d /sys/module/$m ] || { echo "module $m is not loaded"; return 1; }
  done
}

lab_topology() { sh -ex /lab/topology.sh; }

lab_wifi_path() {
  poll 3 ns gw ping -c 1 -W 1 203.0.113.100 >/dev/null || { echo "no reply from 203.0.113.100 over wlan0"; return 1; }
}

lab_cell_path() {
  poll 3 ns gw ping -c 1 -W 1 -I wwan0 $PLATFORM >/dev/null || { echo "no reply from $PLATFORM over wwan0"; return 1; }
}

# The kinds of nftables statements arcway's table uses (mark and ct mark arithmetic, fib, snat,
# masquerade, concatenated matches, named counters, rejects), loaded and removed in gw: the
# module list is complete.
lab_nftables() {
  ns gw nft -f - <<'NFT' || return 1
table inet vmcheck {
	counter line.wifi.rx {
	}
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		meta mark & 0x00ff0000 != 0 return
		iifname vmap { "wlan0" : jump account }
		meta mark & 0x00ff0000 == 0x00120000 ct direction original fib daddr . mark oif missing meta l4proto tcp reject with tcp reset
		meta mark & 0x00ff0000 == 0x00120000 ct direction original fib daddr . mark oifname "wwan0" reject with icmpx admin-prohibited
		ct mark & 0x00ff0000 == 0x00110000 meta mark set meta mark & 0xff00ffff | 0x00110000 return
		ip daddr { 203.0.113.0/24 } meta l4proto { tcp } th dport { 443, 8000-9000 } meta mark set meta mark & 0xff00ffff | 0x00110000 ct mark set ct mark & 0xff00ffff | 0x00110000 return
	}
	chain output {
		type route hook output priority mangle; policy accept;
		meta mark & 0x00ff0000 != 0 return
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "arc0" fib saddr type != local meta nfproto ipv4 snat ip to 100.127.201.2
		oifname "wwan0" fib saddr type != local masquerade
	}
	chain account {
		counter name "line.wifi.rx"
	}
}
NFT
  ns gw nft delete table inet vmcheck || return 1
  ! ns gw nft list tables | grep -q . || { echo "tables left in gw"; return 1; }
}

route_dev() { # the device the gateway's kernel picks for the platform
  $IP -n gw route get $PLATFORM 2>&1 | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1
}

platform_ping() { ns gw ping -c 1 -W 1 $PLATFORM >/dev/null 2>&1; }

wg_rx() { # received bytes summed over the peers of device $1 in gw
  ns gw wg show "$1" transfer 2>/dev/null | awk '{ s += $2 } END { print s + 0 }'
}

wg_handshake() { # latest handshake (epoch seconds, 0 = none) of device $1 in gw
  ns gw wg show "$1" latest-handshakes 2>/dev/null | awk '{ if ($2 > h) h = $2 } END { print h + 0 }'
}

lab_wg_ping() {
  local rx0
  $IP -n gw link add wgt0 type wireguard || return 1
  ns gw wg set wgt0 private-key /run/lab/client.key peer "$(cat /run/lab/server.pub)" \
    endpoint 203.0.113.10:11010 allowed-ips 100.127.0.0/16 || return 1
  $IP -n gw addr add 100.127.201.2/32 dev wgt0 || return 1
  $IP -n gw link set wgt0 up || return 1
  $IP -n gw route add 100.127.0.0/16 dev wgt0 || return 1
  [ "$(route_dev)" = wgt0 ] || { echo "platform route via '$(route_dev)', not wgt0"; return 1; }
  rx0=$(wg_rx wgt0)
  poll 5 platform_ping || { echo "no reply from $PLATFORM through wgt0"; return 1; }
  [ "$(wg_rx wgt0)" -gt "$rx0" ] || { echo "wgt0 received nothing"; return 1; }
}

lab_wg_handshake() {
  [ "$(wg_handshake wgt0)" -gt 0 ] || { echo "wgt0 has no handshake"; return 1; }
}

wlan_no_carrier() { $IP -n gw link show wlan0 | grep -q NO-CARRIER; }
wlan_carrier() { ! wlan_no_carrier; }

lab_carrier_loss() {
  $IP -n ap link set wifi0 down || return 1
  poll 2 wlan_no_carrier || { echo "wlan0 kept its carrier after ap's wifi0 went down"; return 1; }
}

lab_manual_failover() {
  $IP -n gw route replace 100.127.0.0/16 via 198.51.100.129 dev wwan0 || return 1
  [ "$(route_dev)" = wwan0 ] || { echo "platform route via '$(route_dev)', not wwan0"; return 1; }
  poll 3 platform_ping || { echo "no reply from $PLATFORM over wwan0"; return 1; }
}

lab_restore() {
  $IP -n ap link set wifi0 up || return 1
  poll 3 wlan_carrier || { echo "wlan0 carrier did not return"; return 1; }
  $IP -n gw route replace 100.127.0.0/16 dev wgt0 || return 1
  poll 5 platform_ping || { echo "no reply from $PLATFORM through wgt0 after restore"; return 1; }
}

# Leaves the gateway as arcway expects to find it: no tunnel, no platform route.
lab_reset() {
  $IP -n gw route del 100.127.0.0/16 2>/dev/null
  $IP -n gw link del wgt0 2>/dev/null
  $IP -n ap link set wifi0 up
  return 0
}
