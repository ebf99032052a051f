#!/bin/sh
# /init of a qemuvm guest (see guest.go for the console protocol).
# Kernel command line parameters read here:
#   l2f.name=NAME   hostname
#   l2f.ip=CIDR     address for eth0
#   l2f.ipv6=1      keep IPv6 on (off by default so guests send nothing unasked)
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root
[ -e /bin/ip ] || /bin/busybox --install -s

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
# Keep kernel messages off the console: it carries the command protocol.
echo 1 >/proc/sys/kernel/printk

name=guest ip= ipv6=0
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	l2f.name=*) name="${arg#l2f.name=}" ;;
	l2f.ip=*) ip="${arg#l2f.ip=}" ;;
	l2f.ipv6=*) ipv6="${arg#l2f.ipv6=}" ;;
	esac
done
hostname "$name"

if [ "$ipv6" != 1 ]; then
	echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
	echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
fi 2>/dev/null

for m in $(cat /etc/l2f-modules); do
	insmod "$m" || echo "@@L2F-FAIL insmod $m@@"
done

ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
fail=
if [ ! -e /sys/class/net/eth0 ]; then
	fail="no eth0"
elif ! ip link set eth0 up; then
	fail="ip link set eth0 up"
elif [ -n "$ip" ] && ! ip addr add "$ip" dev eth0; then
	fail="ip addr add $ip dev eth0"
fi

# No echo, no CR/LF translation, no line editing: bytes in, bytes out.
stty raw -echo
if [ -n "$fail" ]; then
	echo "@@L2F-FAIL $fail@@"
	ip link 2>&1
else
	echo "@@L2F-READY mac=$(cat /sys/class/net/eth0/address) ip=$ip@@"
fi

# Command loop. Each request is one line "L2F <id> <base64 script>"; the reply
# is "@@L2F-BEGIN <id>@@\n", the script's output (stdout and stderr), then
# "\n@@L2F-END <id> <exit status>@@\n".
while :; do
	if ! IFS= read -r line; then
		sleep 1
		continue
	fi
	case "$line" in
	"L2F "*)
		set -- $line
		id="$2"
		echo "$3" | base64 -d >/tmp/.l2f-cmd 2>/dev/null
		echo "@@L2F-BEGIN $id@@"
		sh /tmp/.l2f-cmd </dev/null 2>&1
		rc=$?
		echo ""
		echo "@@L2F-END $id $rc@@"
		;;
	esac
done
