# shellcheck shell=dash
# Replaces the lab's veth "Wi-Fi" with real 802.11: run as `sh -ex /lab/wifi-topology.sh` after
# the veth checks. mac80211_hwsim's two radios (phy0, phy1) move into ap and gw and take the veth
# ends' names and addresses, so the rest of the lab and arcway's configuration stay as they are:
#
#   lan ── lan0 ── gw ── wlan0 ))) ((( wifi0 ── ap ── arcsrv ── plat
#                   └─── wwan0 ── cell ──────────────────────── plat
#
# ap runs hostapd (WPA2-PSK, channel 1), gw runs wpa_supplicant on wlan0. lan is a LAN host
# (198.51.100.10) whose traffic gw forwards; its echoes to the platform show which way each
# reply came: plat answers over cellular with TTL 100 (its route's hoplimit), over Arc with 64.
IP=/bin/ip

# Deleting one end of the veth pair deletes the other.
$IP -n gw link del wlan0
iw phy phy0 set netns name ap
iw phy phy1 set netns name gw
$IP -n ap link set wlan0 name wifi0
$IP -n gw link set wlan1 name wlan0

$IP -n ap -batch - <<EOF
addr add 192.0.2.1/24 dev wifi0
link set wifi0 up
EOF
$IP -n gw -batch - <<EOF
addr add 192.0.2.10/24 dev wlan0
link set wlan0 up
route add default via 192.0.2.1 dev wlan0
EOF

$IP netns add lan
$IP link add lan0 netns gw type veth peer name eth0 netns lan
$IP -n gw -batch - <<EOF
addr add 198.51.100.1/26 dev lan0
link set lan0 up
EOF
$IP -n lan -batch - <<EOF
link set lo up
addr add 198.51.100.10/26 dev eth0
link set eth0 up
route add default via 198.51.100.1
EOF
$IP netns exec lan sysctl -qw net.ipv4.ping_group_range="0 2147483647"
$IP -n plat route replace 198.51.100.128/26 via 100.127.255.1 hoplimit 100

mkdir -p /run/lab/wifi
cat >/run/lab/wifi/hostapd.conf <<EOF
interface=wifi0
driver=nl80211
ctrl_interface=/run/lab/wifi/hostapd
ssid=arcway-lab
hw_mode=g
channel=1
wpa=2
wpa_key_mgmt=WPA-PSK
wpa_passphrase=arcway-lab-passphrase
rsn_pairwise=CCMP
EOF
# One frequency to scan: reassociation is not slowed by a sweep of empty channels.
cat >/run/lab/wifi/wpa_supplicant.conf <<EOF
ctrl_interface=/run/lab/wifi/wpa_supplicant
network={
	ssid="arcway-lab"
	psk="arcway-lab-passphrase"
	key_mgmt=WPA-PSK
	scan_freq=2412
}
EOF
$IP netns exec ap hostapd -B -P /run/lab/wifi/hostapd.pid /run/lab/wifi/hostapd.conf >/run/lab/wifi/hostapd.log
$IP netns exec gw wpa_supplicant -B -P /run/lab/wifi/wpa_supplicant.pid -D nl80211 -i wlan0 \
  -c /run/lab/wifi/wpa_supplicant.conf -f /run/lab/wifi/wpa_supplicant.log
