#!/bin/sh
# Installs what hwagg needs to build and to run its whole test suite on
# Debian 12 (run as root). Safe to run again.
set -eu
PKGS="
  build-essential autoconf automake libtool pkg-config
  clang libclang-rt-14-dev
  libp11-kit-dev p11-kit libjson-c-dev libsqlite3-dev libssl-dev openssl check
  libdbus-1-dev
  libcurl4-openssl-dev python3-cryptography awscli python3-boto3 python3-azure
  opensc softhsm2 libengine-pkcs11-openssl openssh-client openssh-server
  libnss3-tools gnutls-bin openjdk-17-jdk-headless
  gnome-keyring dbus libsecret-tools python3-dbus
  libtss2-dev swtpm swtpm-tools tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0 libtpm2-pkcs11-1
  valgrind python3 procps util-linux iproute2 man-db faketime
"
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: run as root (apt-get install)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# a package list older than this boot may name files that are gone
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $PKGS
