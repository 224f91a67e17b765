# shellcheck shell=dash
# Builds the guest lab; run as `sh -ex /lab/topology.sh` so the first failing command stops it and
# is the last thing traced. Addresses follow the team lab plan, without the LAN and internet hosts:
#
#   gw ── wlan0 ── ap ── arcsrv (kernel WireGuard wg0, 203.0.113.10:11010) ── plat
#    └─── wwan0 ── cell (Air core) ─────────────────────────────────────────── plat
#
# plat holds 100.127.100.127; ap holds 203.0.113.100, standing in for the internet host.
IP=/bin/ip

for ns in gw ap cell arcsrv plat; do
  $IP netns add $ns
  $IP -n $ns link set lo up
done

link() { # link NS1 IF1 ADDR1 NS2 IF2 ADDR2
  $IP link add "$2" netns "$1" type veth peer name "$5" netns "$4"
  $IP -n "$1" addr add "$3" dev "$2"
  $IP -n "$4" addr add "$6" dev "$5"
  $IP -n "$1" link set "$2" up
  $IP -n "$4" link set "$5" up
}
link gw wlan0 192.0.2.10/24 ap wifi0 192.0.2.1/24
link gw wwan0 198.51.100.130/26 cell air0 198.51.100.129/26
link ap up0 203.0.113.9/30 arcsrv eth0 203.0.113.10/30
link arcsrv plat0 100.127.254.1/30 plat arc0 100.127.254.2/30
link cell plat0 100.127.255.1/30 plat cell0 100.127.255.2/30
$IP -n ap addr add 203.0.113.100/32 dev lo
$IP -n plat addr add 100.127.100.127/32 dev lo

$IP -n gw route add default via 192.0.2.1 dev wlan0
$IP -n gw route add default via 198.51.100.129 dev wwan0 metric 700
$IP -n arcsrv route add default via 203.0.113.9
$IP -n arcsrv route add 100.127.100.127/32 via 100.127.254.2
$IP -n cell route add 100.127.100.127/32 via 100.127.255.2
$IP -n plat route add 100.127.201.0/24 via 100.127.254.1
$IP -n plat route add 198.51.100.128/26 via 100.127.255.1
for ns in ap cell arcsrv; do
  $IP netns exec $ns sysctl -qw net.ipv4.ip_forward=1
done

# The arc server: kernel WireGuard in its own namespace, one peer (the gateway).
umask 077
mkdir -p /run/lab /var/lib/arcway
wg genkey >/run/lab/server.key
wg pubkey </run/lab/server.key >/run/lab/server.pub
wg genkey >/run/lab/client.key
wg pubkey </run/lab/client.key >/run/lab/client.pub
$IP -n arcsrv link add wg0 type wireguard
$IP netns exec arcsrv wg set wg0 listen-port 11010 private-key /run/lab/server.key \
  peer "$(cat /run/lab/client.pub)" allowed-ips 100.127.201.2/32
$IP -n arcsrv addr add 100.127.201.1/32 dev wg0
$IP -n arcsrv link set wg0 up
$IP -n arcsrv route add 100.127.201.0/24 dev wg0

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
