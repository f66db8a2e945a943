#!/usr/bin/env bash
# Makes the throwaway PKI of the TLS tests in OUTDIR with the openssl command line tool.
# Nothing it makes is committed. Runs in about a second; does nothing if OUTDIR is complete.
#
#   root.pem            "wasitls Test Root CA" (trusted by the tests via --tls-ca / ca_files)
#   int.pem             "wasitls Test Intermediate CA", issued by root
#   leaf.{pem,key}      localhost, 127.0.0.1, ::1 — issued by int; leaf-chain.pem = leaf + int
#   expired-chain.pem   same names, valid 2020-01-01 .. 2021-01-01 (+ expired.key)
#   notyet-chain.pem    same names, valid from 2090-01-01 (+ notyet.key)
#   weak-chain.pem      same names, RSA 1024 key (+ weak.key)
#   self.{pem,key}      self-signed localhost
#   certdir/            root.pem in a hashed directory (SSL_CERT_DIR)
#   other-root.pem      "wasitls Other Root CA" (not trusted unless passed); other-chain.pem
#                       (+ other.key): localhost issued directly by it
#   client.{pem,key}    a client certificate "wasitls test client" (clientAuth), issued by int;
#                       client-chain.pem = client + int; client-full.pem = chain + key in one
#                       file; client-enc.key = the key encrypted (passphrase "secret")
set -euo pipefail
out=${1:?usage: mkcerts.sh OUTDIR}
mkdir -p "$out"
cd "$out"
# Bump when the set of files changes, so that an older complete PKI is remade.
version=3
[ "$(cat .complete 2>/dev/null)" = "$version" ] && exit 0
rm -rf ca certdir && mkdir -p ca/newcerts

SAN="DNS:localhost,IP:127.0.0.1,IP:::1"

cat > ca/openssl.cnf <<'EOF'
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = ./ca
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_root ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_int ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_leaf ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = ${ENV::SAN}
[ v3_client ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
: > ca/index.txt
echo 1000 > ca/serial
export SAN

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# root NAME KEY CERT
root() {
  ec_key "$2"
  openssl req -config ca/openssl.cnf -new -x509 -key "$2" -subj "/O=wasitls tests/CN=$1" \
    -days 3650 -extensions v3_root -out "$3"
}

# sign CA_CERT CA_KEY CSR OUT EXT [START END]
sign() {
  local dates=(-days 825)
  if [ $# -ge 7 ]; then dates=(-startdate "$6" -enddate "$7"); fi
  openssl ca -config ca/openssl.cnf -batch -notext -cert "$1" -keyfile "$2" -in "$3" \
    -out "$4" -extensions "$5" "${dates[@]}" 2>/dev/null
}

# leaf NAME KEY CA_CERT CA_KEY [START END]  -> NAME.pem
leaf() {
  local name=$1 key=$2 cac=$3 cak=$4
  shift 4
  openssl req -config ca/openssl.cnf -new -key "$key" -subj "/O=wasitls tests/CN=localhost" \
    -out "ca/$name.csr"
  sign "$cac" "$cak" "ca/$name.csr" "$name.pem" v3_leaf "$@"
}

root "wasitls Test Root CA" root.key root.pem
ec_key int.key
openssl req -config ca/openssl.cnf -new -key int.key \
  -subj "/O=wasitls tests/CN=wasitls Test Intermediate CA" -out ca/int.csr
sign root.pem root.key ca/int.csr int.pem v3_int

ec_key leaf.key
leaf leaf leaf.key int.pem int.key
cat leaf.pem int.pem > leaf-chain.pem

ec_key expired.key
leaf expired expired.key int.pem int.key 20200101000000Z 20210101000000Z
cat expired.pem int.pem > expired-chain.pem

ec_key notyet.key
leaf notyet notyet.key int.pem int.key 20900101000000Z 20910101000000Z
cat notyet.pem int.pem > notyet-chain.pem

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out weak.key 2>/dev/null
leaf weak weak.key int.pem int.key
cat weak.pem int.pem > weak-chain.pem

ec_key self.key
openssl req -config ca/openssl.cnf -new -x509 -key self.key -subj "/O=wasitls tests/CN=localhost" \
  -days 825 -addext "subjectAltName=$SAN" -addext "basicConstraints=critical,CA:false" \
  -addext "extendedKeyUsage=serverAuth" -out self.pem

root "wasitls Other Root CA" other-root.key other-root.pem
ec_key other.key
leaf other other.key other-root.pem other-root.key
cp other.pem other-chain.pem

ec_key client.key
openssl req -config ca/openssl.cnf -new -key client.key -subj "/O=wasitls tests/CN=wasitls test client" \
  -out ca/client.csr
sign int.pem int.key ca/client.csr client.pem v3_client
cat client.pem int.pem > client-chain.pem
cat client-chain.pem client.key > client-full.pem
openssl pkey -in client.key -aes256 -passout pass:secret -out client-enc.key

# A hashed certificate directory holding the test root (for SSL_CERT_DIR).
mkdir -p certdir
cp root.pem certdir/wasitls-test-root.pem
openssl rehash certdir 2>/dev/null || c_rehash certdir >/dev/null

echo "$version" > .complete
