# shellcheck shell=dash
# Builds the guest lab; run as `sh -ex /lab/topology.sh` so the first failing command stops it and
# is the last thing traced. Addresses follow the team lab plan, without the LAN and internet hosts:
#
#   gw ── wlan0 ── ap ── arcsrv (kernel WireGuard wg0, 203.0.113.10:11010) ── plat
#    └─── wwan0 ── cell (Air core) ─────────────────────────────────────────── plat
#
# plat holds 100.127.100.127; ap holds 203.0.113.100, standing in for the internet host.
# iproute2 starts slowly under emulation (many shared libraries), so each namespace is set up by
# one `ip -batch`.
IP=/bin/ip

$IP -batch - <<EOF
netns add gw
netns add ap
netns add cell
netns add arcsrv
netns add plat
link add wlan0 netns gw type veth peer name wifi0 netns ap
link add wwan0 netns gw type veth peer name air0 netns cell
link add up0 netns ap type veth peer name eth0 netns arcsrv
link add plat0 netns arcsrv type veth peer name arc0 netns plat
link add plat0 netns cell type veth peer name cell0 netns plat
EOF

$IP -n gw -batch - <<EOF
link set lo up
addr add 192.0.2.10/24 dev wlan0
addr add 198.51.100.130/26 dev wwan0
link set wlan0 up
link set wwan0 up
route add default via 192.0.2.1 dev wlan0
route add default via 198.51.100.129 dev wwan0 metric 700
EOF

$IP -n ap -batch - <<EOF
link set lo up
addr add 203.0.113.100/32 dev lo
addr add 192.0.2.1/24 dev wifi0
addr add 203.0.113.9/30 dev up0
link set wifi0 up
link set up0 up
EOF

$IP -n cell -batch - <<EOF
link set lo up
addr add 198.51.100.129/26 dev air0
addr add 100.127.255.1/30 dev plat0
link set air0 up
link set plat0 up
route add 100.127.100.127/32 via 100.127.255.2
EOF

$IP -n plat -batch - <<EOF
link set lo up
addr add 100.127.100.127/32 dev lo
addr add 100.127.254.2/30 dev arc0
addr add 100.127.255.2/30 dev cell0
link set arc0 up
link set cell0 up
route add 100.127.201.0/24 via 100.127.254.1
route add 198.51.100.128/26 via 100.127.255.1
EOF

# The arc server: kernel WireGuard in its own namespace, one peer (the gateway).
$IP -n arcsrv -batch - <<EOF
link set lo up
addr add 203.0.113.10/30 dev eth0
addr add 100.127.254.1/30 dev plat0
link set eth0 up
link set plat0 up
route add default via 203.0.113.9
route add 100.127.100.127/32 via 100.127.254.2
link add wg0 type wireguard
addr add 100.127.201.1/32 dev wg0
link set wg0 up
route add 100.127.201.0/24 dev wg0
EOF

# A modem bearer has no ARP: answering ARP for everything behind the cell core lets a device
# route (`default dev wwan0`) work over this veth as it would over wwan.
$IP netns exec cell sysctl -qw net.ipv4.conf.air0.proxy_arp=1
# Forwarding for the routers (gw routes its LAN too); ICMP datagram sockets for every group, as
# systemd sets it on Debian, so arcway's probes may use them.
$IP -all netns exec sysctl -qw net.ipv4.ip_forward=1 net.ipv4.ping_group_range="0 2147483647" >/dev/null

# Counts WireGuard packets reaching the cell core: the tunnel must never ride cellular.
$IP netns exec cell nft -f - <<EOF
table inet vmlab {
	chain watch {
		type filter hook prerouting priority 0; policy accept;
		udp dport 11010 counter
	}
}
EOF

umask 077
mkdir -p /run/lab /var/lib/arcway
wg genkey >/run/lab/server.key
wg pubkey </run/lab/server.key >/run/lab/server.pub
wg genkey >/run/lab/client.key
wg pubkey </run/lab/client.key >/run/lab/client.pub
$IP netns exec arcsrv wg set wg0 listen-port 11010 private-key /run/lab/server.key \
  peer "$(cat /run/lab/client.pub)" allowed-ips 100.127.201.2/32

# arcway's credentials, in SORACOM's field names, for the same client key.
cat >/var/lib/arcway/arc.json <<JSON
{
  "arcClientPeerPrivateKey": "$(cat /run/lab/client.key)",
  "arcClientPeerPublicKey": "$(cat /run/lab/client.pub)",
  "arcClientPeerIpAddress": "100.127.201.2",
  "arcServerPeerPublicKey": "$(cat /run/lab/server.pub)",
  "arcServerEndpoint": "203.0.113.10:11010",
  "arcAllowedIPs": ["100.127.0.0/16"]
}
JSON
chmod 0600 /var/lib/arcway/arc.json
