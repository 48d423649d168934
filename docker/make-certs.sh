#!/bin/sh
# Certificates for a secured OrleansQueue cluster, made with openssl into a folder (default: ./certs):
#   ca.pem, ca.key        the cluster's own CA: whoever holds a certificate it issued is a member (keep ca.key offline)
#   silo.pem, silo.key    the silos' certificate, for mutual TLS on the Orleans ports (Silo:Clustering:Tls)
#   app.pem, app.key      an application's Orleans client (UseOrleansQueueTls), when one reaches the gateway port
#   redis.pem, redis.key  the Redis server's certificate, for the names redis, localhost and 127.0.0.1
# Every certificate allows server and client authentication (a silo is both ends of its connections) and lasts a year.
# Existing files are kept: run it again after deleting the folder to issue new ones.
#   sh docker/make-certs.sh [folder]
set -eu
out=${1:-certs}
mkdir -p "$out"
cd "$out"
if [ -f ca.pem ]; then
  echo "certificates already in $out (ca.pem exists): nothing made"
  exit 0
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 730 -subj "/CN=OrleansQueue cluster CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout ca.key -out ca.pem 2>/dev/null

issue() { # name, subjectAltName
  cat > "$1.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$2
EXT
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue silo "DNS:silo1,DNS:silo2,DNS:silo3,DNS:localhost,IP:127.0.0.1"
issue app "DNS:app"
issue redis "DNS:redis,DNS:localhost,IP:127.0.0.1"
rm -f ca.srl
chmod 600 ca.key silo.key app.key redis.key
echo "made ca, silo, app and redis certificates in $out"
