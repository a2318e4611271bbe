#!/bin/sh
# End-to-end test of the Debian package: build mxguard and the .deb, install
# it with dpkg, check what it installed, run the milter once as the package
# runs it, then purge it and check that it is gone.
#
#   deploy/test-deb.sh [BINARY]
#
# Without BINARY, it builds one (CGO_ENABLED=0) into a temporary directory.
# Needs root, dpkg and Go (nfpm comes from the Go module proxy). It changes
# the machine: it refuses to run where mxguard is already installed, and
# always purges what it installed. The user and group mxguard stay after
# the purge, as on any Debian system.
set -eu

cd "$(dirname "$0")/.."

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$d"; else fail "$d"; fi
}
stat_is() { [ "$(stat -c %U:%G:%a "$1")" = "$2" ]; } # stat_is PATH OWNER:GROUP:MODE
# as_postfix_optneg connects to the socket as Postfix does and expects an
# answer to SMFIC_OPTNEG (perl: part of every Debian system).
# shellcheck disable=SC2016 # the $ are perl's
as_postfix_optneg() {
	(
		cd /var/spool/postfix &&
			setpriv --reuid=postfix --regid=postfix --init-groups /usr/bin/perl -MIO::Socket::UNIX -e '
				my $s = IO::Socket::UNIX->new(Peer => "mxguard/mxguard.sock") or die "connect: $!\n";
				my $b = "O" . pack("NNN", 2, 0x3f, 0x7f);
				print $s pack("N", length $b) . $b;
				read($s, my $l, 4) == 4 or die "no reply\n";
				read($s, my $r, unpack("N", $l));
				substr($r, 0, 1) eq "O" or die "no option negotiation reply\n";'
	)
}
die() {
	echo "test-deb: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs the package)"
command -v dpkg >/dev/null || die "no dpkg"
if dpkg-query -W -f '${Status}' mxguard 2>/dev/null | grep -q 'install ok installed'; then
	die "mxguard is installed on this machine: not touching it"
fi

TMP=$(mktemp -d)
SERVE_PID=
installed=
cleanup() {
	if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null || true; fi
	if [ -n "$installed" ]; then dpkg --purge mxguard >/dev/null 2>&1 || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

BIN=${1:-}
if [ -z "$BIN" ]; then
	BIN=$TMP/mxguard
	VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
	CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$VERSION" -o "$BIN" ./cmd/mxguard
	export VERSION
fi

DEB=$(DIST=$TMP/dist deploy/build-deb.sh "$BIN" | tail -n 1)
[ -f "$DEB" ] || die "build-deb.sh made no package"
ok "built $(basename "$DEB")"

installed=1
if dpkg -i "$DEB" >"$TMP/dpkg.log" 2>&1; then ok "dpkg -i"; else
	cat "$TMP/dpkg.log"
	die "dpkg -i failed"
fi

# What the package installed.
check "mxguard version" sh -c 'mxguard version | grep -q "^mxguard "'
if mxguard config check -c /etc/mxguard/mxguard.yml >"$TMP/config.out" 2>&1; then
	ok "mxguard config check -c /etc/mxguard/mxguard.yml"
else
	cat "$TMP/config.out"
	fail "mxguard config check -c /etc/mxguard/mxguard.yml"
fi
check "packaged listen is the spool socket" \
	grep -q '^listen: unix:/var/spool/postfix/mxguard/mxguard.sock$' "$TMP/config.out"
check "unit file installed" test -f /usr/lib/systemd/system/mxguard.service
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify mxguard.service" systemd-analyze verify /usr/lib/systemd/system/mxguard.service
fi
check "tmpfiles.d entry installed" test -f /usr/lib/tmpfiles.d/mxguard.conf
check "man page installed" test -f /usr/share/man/man8/mxguard.8.gz
check "user mxguard exists" getent passwd mxguard
check "group mxguard exists" getent group mxguard
check "user mxguard has no login shell" sh -c 'getent passwd mxguard | grep -q ":/usr/sbin/nologin$"'
check "config is a conffile" grep -qx /etc/mxguard/mxguard.yml /var/lib/dpkg/info/mxguard.conffiles
check "config is root:mxguard 0640" stat_is /etc/mxguard/mxguard.yml root:mxguard:640
check "state dir is mxguard:mxguard 0750" stat_is /var/lib/mxguard mxguard:mxguard:750
check "binary is root:root 0755" stat_is /usr/bin/mxguard root:root:755

# The milter as the unit runs it: as mxguard, with the packaged
# configuration, on the socket in Postfix's queue directory.
if getent group postfix >/dev/null && [ -d /var/spool/postfix ]; then
	SOCK=/var/spool/postfix/mxguard/mxguard.sock
	check "socket dir is mxguard:postfix 2750" stat_is /var/spool/postfix/mxguard mxguard:postfix:2750
	(
		umask 027
		exec setpriv --reuid=mxguard --regid=mxguard --init-groups \
			/usr/bin/mxguard serve -c /etc/mxguard/mxguard.yml
	) >"$TMP/serve.log" 2>&1 &
	SERVE_PID=$!
	i=0
	while [ ! -S "$SOCK" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	check "serve listens on $SOCK" test -S "$SOCK"
	check "socket is mxguard:postfix 0660" stat_is "$SOCK" mxguard:postfix:660
	if getent passwd postfix >/dev/null; then
		# Postfix's view: as user postfix, the path relative to the queue
		# directory, and the milter's option negotiation (protocol 2, the
		# version mxguard speaks).
		check "postfix negotiates with unix:mxguard/mxguard.sock" as_postfix_optneg
	fi
	kill -TERM "$SERVE_PID"
	if wait "$SERVE_PID"; then ok "serve exits 0 on SIGTERM"; else fail "serve exits 0 on SIGTERM"; fi
	SERVE_PID=
	if [ "$failed" -gt 0 ]; then cat "$TMP/serve.log"; fi
else
	echo "skip: Postfix is not installed: no socket directory, no serve test"
fi

# Purge.
installed=
if dpkg --purge mxguard >"$TMP/dpkg.log" 2>&1; then ok "dpkg --purge"; else
	cat "$TMP/dpkg.log"
	fail "dpkg --purge"
fi
for f in /usr/bin/mxguard /etc/mxguard /var/lib/mxguard /var/spool/postfix/mxguard \
	/usr/lib/systemd/system/mxguard.service /etc/systemd/system/multi-user.target.wants/mxguard.service; do
	check "purge removed $f" sh -c "[ ! -e $f ] && [ ! -L $f ]"
done

echo "test-deb: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
