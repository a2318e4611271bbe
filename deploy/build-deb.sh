#!/bin/sh
# Build the Debian package dist/mxguard_<version>_<arch>.deb from an
# already built binary, with nfpm fetched from the Go module proxy.
#
#   deploy/build-deb.sh [BINARY]        (default: bin/mxguard)
#
# Environment:
#   VERSION     the version, as "git describe --tags --always --dirty" prints
#               it (the Makefile's); default: that command, else "dev".
#               Made into a Debian version: v1.2.3 -> 1.2.3,
#               v1.2.3-4-gabc -> 1.2.3+git4.gabc, v2.0.0-rc1 -> 2.0.0~rc1,
#               abc1234 -> 0.0.0+gitabc1234, a -dirty suffix -> +dirty.
#   ARCH        the Debian architecture (default: amd64; the binary must match)
#   MAINTAINER  the Maintainer field
#   DIST        the output directory (default: dist)
#   NFPM        the nfpm command (default: go run of the pinned version)
#
# The packaged /etc/mxguard/mxguard.yml is config/example.yml with the
# package's listen address (see deploy/mxguard.service); everything else
# is the example's.
set -eu

cd "$(dirname "$0")/.."

# nfpm v2.46 and later need modules that the module proxy does not serve.
NFPM_VERSION=v2.45.2
SOCKET=/var/spool/postfix/mxguard/mxguard.sock

BIN=${1:-bin/mxguard}
DIST=${DIST:-dist}
ARCH=${ARCH:-amd64}
MAINTAINER=${MAINTAINER:-mxguard maintainers <root@localhost>}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}

die() { echo "build-deb: $*" >&2; exit 1; }

[ -f "$BIN" ] || die "no binary $BIN: build it first (go build -o $BIN ./cmd/mxguard)"
[ -f config/example.yml ] || die "no config/example.yml"

# A Debian version starts with a digit and sorts upwards from tag to tag.
debversion() {
	v=${1#v}
	dirty=
	case $v in *-dirty) v=${v%-dirty}; dirty=+dirty ;; esac
	if expr "$v" : '[0-9][0-9.]*-[0-9][0-9]*-g[0-9a-f]*$' >/dev/null; then
		# 1.2.3-4-gabcdef: 4 commits after the tag v1.2.3
		tag=${v%-*-g*}; rest=${v#"$tag"-}
		v="$tag+git${rest%%-g*}.${rest#*-}"
	elif expr "$v" : '[0-9]' >/dev/null; then
		# 2.0.0-rc1 (and commits after it): before 2.0.0, as Debian's ~ sorts
		v=$(printf '%s\n' "$v" | sed 's/-/~/; s/-/./g')
	elif expr "$v" : '[0-9a-f]*$' >/dev/null && [ -n "$v" ]; then
		v="0.0.0+git$v" # no tag yet: the commit
	else
		v="0.0.0+$(printf %s "$v" | tr -c 'A-Za-z0-9.+~\n' '.')"
	fi
	printf '%s%s\n' "$v" "$dirty"
}
DEBVERSION=$(debversion "$VERSION")

STAGE=$DIST/.deb-stage
rm -rf "$STAGE"
mkdir -p "$STAGE"

# The packaged configuration: config/example.yml with the comment block
# above the top-level "listen:" and that line replaced.
awk -v sock="$SOCKET" '
	/^#/ { block = block $0 "\n"; next }
	/^listen:/ {
		n++
		print "# Where Postfix finds mxguard, in Postfix'"'"'s notation (inet:host:port,"
		print "# inet:[::1]:port or unix:/path). The Debian package listens on a unix"
		print "# socket inside Postfix'"'"'s queue directory /var/spool/postfix, which smtpd"
		print "# reaches whether or not it runs chrooted there (Debian chroots it). In"
		print "# main.cf, relative to the queue directory:"
		print "#   smtpd_milters = unix:mxguard/mxguard.sock"
		print "#   milter_default_action = tempfail"
		print "# \"mxguard postfix-config\" prints every line main.cf needs, \"mxguard"
		print "# doctor\" checks them. The directory is mxguard:postfix 2750: the socket"
		print "# gets the group postfix, and socket_mode lets that group connect."
		print "# Over TCP instead: listen: inet:127.0.0.1:8891 (smtpd_milters = inet:127.0.0.1:8891)."
		print "listen: unix:" sock
		block = ""; next
	}
	{ printf "%s", block; block = ""; print }
	END { printf "%s", block; if (n != 1) exit 3 }
' config/example.yml >"$STAGE/mxguard.yml" ||
	die "config/example.yml: expected exactly one top-level \"listen:\" line"
grep -q '^state_dir: /var/lib/mxguard$' "$STAGE/mxguard.yml" ||
	die "config/example.yml: state_dir is not /var/lib/mxguard, which the package's unit (StateDirectory) provides"

gzip -9n -c deploy/mxguard.8 >"$STAGE/mxguard.8.gz"

OUT="$DIST/mxguard_${DEBVERSION}_${ARCH}.deb"
rm -f "$OUT"
export MXGUARD_VERSION="$DEBVERSION" MXGUARD_ARCH="$ARCH" MXGUARD_BIN="$BIN" \
	MXGUARD_STAGE="$STAGE" MXGUARD_MAINTAINER="$MAINTAINER"
if [ -n "${NFPM:-}" ]; then
	$NFPM package --config deploy/nfpm.yaml --packager deb --target "$OUT"
else
	# "go run pkg@version" builds nfpm in module mode outside our module:
	# go.mod and go.sum stay untouched. GOFLAGS is cleared so that a
	# -mod=vendor from the environment does not apply to it.
	GOFLAGS='' go run "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION" \
		package --config deploy/nfpm.yaml --packager deb --target "$OUT"
fi
rm -rf "$STAGE"
echo "$OUT"
