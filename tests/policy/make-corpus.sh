#!/bin/sh
# Regenerates the seed corpora of fuzz_der and fuzz_tbs (fuzz/corpus/fuzz_{der,tbs}/)
# from structures real tools produce: TBSCertificates (RSA, P-256, Ed25519 leaves, a CA),
# a TBSCertList from `openssl ca -gencrl`, an OCSP ResponseData from `openssl ocsp`.
# usage: tests/policy/make-corpus.sh [OUT-DIR]   (default fuzz/corpus)
set -eu
out=${1:-fuzz/corpus}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out/fuzz_der" "$out/fuzz_tbs"

# first element of the DER file $1 (a Certificate's TBS; or a path of indices)
extract() {
	/usr/bin/python3 - "$@" <<'PY'
import sys
def tlv(b, i):
    l = b[i + 1]; h = 2
    if l & 0x80:
        n = l & 0x7f; l = int.from_bytes(b[i + 2:i + 2 + n], 'big'); h += n
    return h, l
data = open(sys.argv[1], 'rb').read()
pos, end = 0, len(data)
for step in sys.argv[3:]:
    # descend into the element at pos (skipping `step` siblings), for OCTET STRINGs too
    h, l = tlv(data, pos)
    pos += h
    for _ in range(int(step)):
        h2, l2 = tlv(data, pos); pos += h2 + l2
h, l = tlv(data, pos)
open(sys.argv[2], 'wb').write(data[pos:pos + h + l])
PY
}

cd "$tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	-subj "/C=DE/O=Warden Corpus/CN=Corpus CA" -days 3650 -out ca.pem \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	2>/dev/null
serial=4096
for kind in rsa:2048 ec ed25519; do
	serial=$((serial + 1))
	name=$(echo "$kind" | tr -d ':')
	case $kind in
	ec) opt="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
	*) opt="-newkey $kind" ;;
	esac
	# shellcheck disable=SC2086
	openssl req -new $opt -nodes -keyout "$name.key" -subj "/CN=$name.example.com" \
		-out "$name.csr" 2>/dev/null
	openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -set_serial "$serial" \
		-days 90 -out "$name.pem" -extfile /dev/stdin 2>/dev/null <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$name.example.com,DNS:*.$name.example.com,IP:192.0.2.1,email:a@example.com,URI:https://example.com/
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
crlDistributionPoints=URI:http://crl.example.com/ca.crl
authorityInfoAccess=OCSP;URI:http://ocsp.example.com,caIssuers;URI:http://ca.example.com/ca.crt
1.3.6.1.4.1.37476.9000.64.1=DER:30:10:02:01:01:04:05:61:64:6d:69:6e:04:00:30:02:13:00
EXT
	openssl x509 -in "$name.pem" -outform DER -out "$name.der"
	extract "$name.der" "tbs-$name.der" 0
done
openssl x509 -in ca.pem -outform DER -out ca.der
extract ca.der tbs-ca.der 0

# a CRL with two revoked certificates
mkdir -p db && : > db/index.txt && echo 01 > db/crlnumber
cat > ca.cnf <<CNF
[ca]
default_ca = c
[c]
database = db/index.txt
crlnumber = db/crlnumber
default_md = sha256
default_crl_days = 7
crl_extensions = crlext
[crlext]
authorityKeyIdentifier = keyid:always
CNF
openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -revoke rsa2048.pem -crl_reason keyCompromise 2>/dev/null
openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -revoke ec.pem -crl_reason superseded 2>/dev/null
openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -gencrl -out ca.crl 2>/dev/null
openssl crl -in ca.crl -outform DER -out crl.der
extract crl.der tbs-crl.der 0

# an OCSP response for the revoked RSA leaf, with a nonce
openssl ocsp -issuer ca.pem -cert rsa2048.pem -reqout req.der 2>/dev/null
openssl ocsp -index db/index.txt -rsigner ca.pem -rkey ca.key -CA ca.pem -reqin req.der \
	-respout resp.der -ndays 1 2>/dev/null >/dev/null
# OCSPResponse -> [0] -> ResponseBytes -> response OCTET STRING -> BasicOCSPResponse -> tbs
extract resp.der ocsp-basic.der 1 0 1
extract ocsp-basic.der ocsp-rd.der 0 0
cd - >/dev/null

for f in tbs-rsa2048 tbs-ec tbs-ed25519 tbs-ca tbs-crl ocsp-rd; do
	cp "$tmp/$f.der" "$out/fuzz_tbs/$f.der"
	cp "$tmp/$f.der" "$out/fuzz_der/$f.der"
done
echo "make-corpus: wrote $(ls "$out/fuzz_tbs" | wc -l) seeds each to $out/fuzz_tbs and $out/fuzz_der"
