#!/usr/bin/env bash
# Installs what l2fabric's integration tests need on a clean Debian 12 machine:
#   - Debian packages: qemu-system-x86, busybox-static, iproute2, iperf3,
#     tcpdump, vde2, gnuplot-nox (the plot of integration/bench), zsh and
#     bash-completion (the completion scripts' tests), tshark and
#     prometheus (promtool) for the capture and metrics tests;
#   - a guest kernel: Debian's linux-image-*-cloud-amd64, downloaded with
#     `apt-get download` and unpacked with `dpkg-deb -x` into a cache
#     directory (never installed into the system, so /boot is untouched).
#
# Run as root. Idempotent: a second run only checks and exits.
#
# Environment:
#   L2FABRIC_TEST_CACHE  where the guest kernel goes
#                        (default /var/cache/l2fabric-test)
set -euo pipefail

CACHE="${L2FABRIC_TEST_CACHE:-/var/cache/l2fabric-test}"
[[ $CACHE == /* ]] || CACHE="$PWD/$CACHE"
CACHE="${CACHE%/}"
PACKAGES=(qemu-system-x86 busybox-static iproute2 iperf3 tcpdump vde2 gnuplot-nox zsh bash-completion dnsmasq-base tshark prometheus)
KERNEL_META=linux-image-cloud-amd64

export DEBIAN_FRONTEND=noninteractive

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
	die "must run as root (try: sudo bash $0)"
fi
command -v apt-get >/dev/null || die "apt-get not found: this script expects Debian 12"

# ---------------------------------------------------------------------------
# apt index: refreshed at most once per run, and only when needed.
updated=0
apt_update() {
	if [[ $updated -eq 0 ]]; then
		log "apt-get update"
		apt-get update -qq >/dev/null
		updated=1
	fi
}

# has_candidate PKG...: true when apt knows an installable version of each.
has_candidate() {
	local p c
	for p in "$@"; do
		c=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
		[[ -n $c && $c != "(none)" ]] || return 1
	done
}

# ---------------------------------------------------------------------------
# 1. Debian packages.
missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
	log "packages already installed: ${PACKAGES[*]}"
else
	has_candidate "${missing[@]}" || apt_update
	log "installing: ${missing[*]}"
	install() {
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/l2fabric-setup-apt.log 2>&1
	}
	if ! install; then
		# A stale index gives 404s: refresh once and retry.
		if [[ $updated -eq 0 ]]; then
			apt_update
			install || { cat /tmp/l2fabric-setup-apt.log >&2; die "apt-get install failed"; }
		else
			cat /tmp/l2fabric-setup-apt.log >&2
			die "apt-get install failed"
		fi
	fi
fi

# ---------------------------------------------------------------------------
# 2. Guest kernel, unpacked (not installed) into $CACHE.
stamp="$CACHE/kernel.stamp"
if [[ -f $stamp ]] && kpkg=$(cat "$stamp") && compgen -G "$CACHE/boot/vmlinuz-*" >/dev/null &&
	compgen -G "$CACHE/lib/modules/*/kernel/drivers/net/virtio_net.ko*" >/dev/null; then
	log "guest kernel already unpacked: $kpkg"
else
	resolve() {
		apt-cache depends "$KERNEL_META" 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}'
	}
	kpkg=$(resolve || true)
	if [[ -z $kpkg ]] || ! has_candidate "$kpkg"; then
		apt_update
		kpkg=$(resolve || true)
	fi
	[[ -n $kpkg ]] || die "cannot resolve the package $KERNEL_META depends on"
	log "downloading guest kernel $kpkg"
	mkdir -p "$CACHE"
	owner="$CACHE/.l2fabric-test-cache"
	if [[ ! -f $owner ]]; then
		for d in boot lib usr etc; do
			[[ ! -e $CACHE/$d ]] || die "$CACHE/$d exists but $CACHE was not made by this script; set L2FABRIC_TEST_CACHE to an empty or new directory"
		done
		echo "made by l2fabric integration/setup.sh" >"$owner"
	fi
	tmp=$(mktemp -d "$CACHE/.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# _apt cannot write into a root-only mktemp dir; let it.
	chmod 0755 "$tmp"
	chown _apt "$tmp" 2>/dev/null || true
	fetch() { (cd "$tmp" && apt-get download -qq "$kpkg" >/dev/null 2>"$tmp/download.log"); }
	if ! fetch; then
		if [[ $updated -eq 0 ]]; then
			apt_update
			fetch || { cat "$tmp/download.log" >&2; die "apt-get download $kpkg failed"; }
		else
			cat "$tmp/download.log" >&2
			die "apt-get download $kpkg failed"
		fi
	fi
	deb=$(compgen -G "$tmp/${kpkg}_*.deb" | head -n1)
	[[ -n $deb ]] || die "apt-get download produced no .deb for $kpkg"
	log "unpacking $(basename "$deb") into $CACHE"
	mkdir -p "$tmp/root"
	dpkg-deb -x "$deb" "$tmp/root"
	# Replace any earlier kernel so exactly one is there ($owner says the
	# directory is ours).
	rm -f "$stamp"
	rm -rf "$CACHE/boot" "$CACHE/lib" "$CACHE/usr" "$CACHE/etc"
	for d in "$tmp/root"/*; do
		mv "$d" "$CACHE/"
	done
	compgen -G "$CACHE/lib/modules/*/kernel/drivers/net/virtio_net.ko*" >/dev/null ||
		die "$kpkg has no virtio_net module"
	echo "$kpkg" >"$stamp"
	rm -rf "$tmp"
	trap - EXIT
fi

# ---------------------------------------------------------------------------
# 3. Where things are.
vmlinuz=$(compgen -G "$CACHE/boot/vmlinuz-*" | head -n1)
moddir=$(dirname "$(dirname "$(dirname "$(dirname "$(compgen -G "$CACHE/lib/modules/*/kernel/drivers/net/virtio_net.ko*" | head -n1)")")")")
log "done:"
log "  qemu:      $(command -v qemu-system-x86_64) ($(qemu-system-x86_64 --version | head -n1))"
log "  busybox:   $(readlink -f /bin/busybox)"
log "  kernel:    $vmlinuz"
log "  modules:   $moddir"
if [[ -r /dev/kvm && -w /dev/kvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
	log "  accel:     kvm (/dev/kvm and vmx/svm present)"
else
	log "  accel:     tcg (no /dev/kvm or no vmx/svm CPU flag; L2FABRIC_QEMU_ACCEL=kvm forces kvm)"
fi
