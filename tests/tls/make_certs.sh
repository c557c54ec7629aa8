#!/usr/bin/env bash
# Makes the certificates the TLS tests use, in DIR (created; keys mode 600):
#   ca.pem ca.key             the test CA
#   server.pem server.key     CN=localhost, names localhost, 127.0.0.1 and ::1; signed by ca
#   client.pem client.key     subject O=lab,CN=ci-runner (RFC 2253); signed by ca
#   watcher.pem watcher.key   subject O=lab,CN=watcher; signed by ca
#   expired.pem expired.key   as client.pem, valid only in 2001
#   expired-server.pem/.key   as server.pem, valid only in 2001
#   other-ca.pem              another CA, which signed nothing here
#   stranger.pem stranger.key CN=stranger; signed by other-ca
# Usage: make_certs.sh DIR
set -euo pipefail
dir=${1:?usage: make_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077

openssl_quiet() { openssl "$@" 2>/dev/null; }

make_ca() {  # NAME SUBJECT
  openssl_quiet req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 \
    -subj "$2" -keyout "$1.key" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

# The CA database `openssl ca` needs for certificates with chosen validity dates.
prepare_ca_db() {  # CA
  mkdir -p "$1.db"
  : >"$1.db/index.txt"
  [ -f "$1.db/serial" ] || echo 1000 >"$1.db/serial"
  cat >"$1.db/openssl.cnf" <<CNF
[ca]
default_ca = test_ca
[test_ca]
database = $PWD/$1.db/index.txt
serial = $PWD/$1.db/serial
new_certs_dir = $PWD/$1.db
certificate = $PWD/$1.pem
private_key = $PWD/$1.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = copy
[anything]
commonName = supplied
organizationName = optional
CNF
}

issue() {  # CA NAME SUBJECT [SAN] [START END]
  local ca=$1 name=$2 subject=$3 san=${4:-} start=${5:-} end=${6:-}
  local ext=(-addext basicConstraints=CA:FALSE)
  [ -n "$san" ] && ext+=(-addext "subjectAltName=$san")
  openssl_quiet req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subject" \
    -keyout "$name.key" -out "$name.csr" "${ext[@]}"
  prepare_ca_db "$ca"
  local dates=(-days 36500)
  [ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
  openssl_quiet ca -batch -notext -config "$ca.db/openssl.cnf" "${dates[@]}" \
    -in "$name.csr" -out "$name.pem"
  rm -f "$name.csr"
}

make_ca ca "/CN=ttynet test CA"
make_ca other-ca "/CN=another CA"
localhost_names="DNS:localhost,IP:127.0.0.1,IP:::1"
issue ca server "/CN=localhost" "$localhost_names"
issue ca client "/O=lab/CN=ci-runner"
issue ca watcher "/O=lab/CN=watcher"
issue ca expired "/O=lab/CN=ci-runner" "" 20010101000000Z 20011231000000Z
issue ca expired-server "/CN=localhost" "$localhost_names" 20010101000000Z 20011231000000Z
issue other-ca stranger "/CN=stranger"
rm -rf ./*.db
chmod 644 ./*.pem
