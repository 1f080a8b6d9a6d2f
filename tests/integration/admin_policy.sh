#!/bin/bash
# admin_policy.sh - `warden-admin policy check` and `warden-admin policy test` (issue 3 §3).
#   check: a valid file exits 0 and prints the SHA-256 of its exact bytes (= sha256sum);
#          broken files exit 1 with the JSON path of the value at fault (or line:column
#          for a JSON syntax error).  The starter policy is valid.
#   test:  dry runs of openssl-made certificates (and a bare DER TBSCertificate) signed by
#          a throwaway CA against tests/policy/e2e/admin.json: allowed -> exit 0, refused
#          -> exit 2 with the reason name and the operator's sentence; nothing is signed
#          and no PKCS#11 backend is even loaded.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_policy_lib.sh"

A=$WARDEN_ADMIN
D=$T_TMP
POL=$E2E_POL/admin.json

# ---- policy check -----------------------------------------------------------------------
check_hash() {
	local name=$1 file=$2 out want
	out=$("$A" policy check "$file" 2>&1)
	rc=$?
	want=$(sha256sum "$file" | cut -d' ' -f1)
	if [ $rc -eq 0 ] && grep -q "$want" <<<"$out"; then pass "$name"
	else fail "$name" "exit $rc, want 0 and hash $want: $(tr '\n' ' ' <<<"$out")"; fi
}
check_hash "policy check: starter policy valid, prints its sha256" \
	"$TOP/policy-engine/starter-policy.json"
check_hash "policy check: e2e admin policy valid, prints its sha256" "$POL"
# The hash is of the exact bytes: reformatting the same JSON changes it.
"$SYS_PYTHON" -c 'import json,sys; json.dump(json.load(open(sys.argv[1])), open(sys.argv[2],"w"))' \
	"$POL" "$D/reformatted.json"
check_hash "policy check: reformatted copy hashes its own bytes" "$D/reformatted.json"
if [ "$(sha256sum <"$POL")" != "$(sha256sum <"$D/reformatted.json")" ] &&
   ! "$A" policy check "$D/reformatted.json" | grep -q "$(sha256sum "$POL" | cut -d' ' -f1)"
then pass "policy check: hash differs after reformatting"
else fail "policy check: hash differs after reformatting"; fi

# bad FILE REGEX: exit 1 and the message matches REGEX.
bad() {
	local name=$1 file=$2 re=$3 out rc
	out=$("$A" policy check "$E2E_POL/$file" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -Eq -- "$re" <<<"$out"; then pass "policy check: $name"
	else fail "policy check: $name" "exit $rc, want 1 and /$re/: $(tr '\n' ' ' <<<"$out")"; fi
}
bad "unknown key names its path" bad-unknown-key.json \
	'profiles\.web\.validity\.maxLifeTime: unknown key'
bad "*.*.example.test names its path and index" bad-wildcard.json \
	"profiles\.web\.names\.allow\.dns\[2\]: '\*\.\*\.example\.test'.*wildcard"
bad "partial wildcard in a deny rule" bad-partial-wildcard.json \
	"profiles\.web\.names\.deny\.dns\[0\]: 'w\*\.example\.test'.*wildcard"
bad "CIDR with host bits names its path" bad-cidr.json \
	"profiles\.web\.names\.allow\.ips\[1\]: '10\.0\.0\.1/8'.*host bits"
bad "bad duration names its path" bad-duration.json \
	'authority\.rateLimits\.perKey\.period: must be a duration'
bad "JSON syntax error gives line and column" bad-syntax.json \
	'bad-syntax\.json:4:[0-9]+: not valid JSON'
out=$("$A" policy check "$D/missing.json" 2>&1)
if [ $? -eq 1 ] && grep -q "missing.json" <<<"$out"; then pass "policy check: missing file exit 1"
else fail "policy check: missing file exit 1" "$out"; fi

# ---- policy test: certificates ----------------------------------------------------------
mk_ca "$D" ca rsa || { fail "throwaway CA"; exit 1; }
mk_ca "$D" other rsa || { fail "second throwaway CA"; exit 1; }
mk_csr "$D" ok "/CN=www.example.test" p256
mk_csr "$D" rsa1k "/CN=www.example.test" rsa:1024
mk_csr "$D" rsa2k "/CN=api.example.test" rsa:2048

mk_leaf "$D" ok ca "DNS:www.example.test" 30 "$(rand_serial)"
mk_csr "$D" evil "/CN=evil.example" p256; mk_leaf "$D" evil ca "DNS:evil.example" 30 "$(rand_serial)"
mk_csr "$D" denied "/CN=admin.example.test" p256; mk_leaf "$D" denied ca "DNS:admin.example.test" 30 "$(rand_serial)"
cp "$D/ok.csr" "$D/long.csr";   mk_leaf "$D" long ca "DNS:www.example.test" 200 "$(rand_serial)"
mk_leaf "$D" rsa1k ca "DNS:www.example.test" 30 "$(rand_serial)"
mk_leaf "$D" rsa2k ca "DNS:api.example.test" 30 "$(rand_serial)"
cp "$D/ok.csr" "$D/isca.csr"
mk_leaf "$D" isca ca "DNS:www.example.test" 30 "$(rand_serial)" \
	"basicConstraints = critical,CA:TRUE" "keyUsage = critical,digitalSignature" \
	"extendedKeyUsage = serverAuth"
cp "$D/ok.csr" "$D/short.csr";  mk_leaf "$D" short ca "DNS:www.example.test" 30 0x1234abcd
cp "$D/ok.csr" "$D/foreign.csr"; mk_leaf "$D" foreign other "DNS:www.example.test" 30 "$(rand_serial)"
for c in ok evil denied long rsa1k rsa2k isca short foreign; do
	[ -s "$D/$c.pem" ] || fail "openssl made $c.pem"
done

# dry RC NAME INPUT [options]: policy test exits RC; output in $D/dry.out.
dry() {
	local want=$1 name=$2 in=$3 rc; shift 3
	"$A" policy test "$POL" "$in" --ca "$D/ca.pem" "$@" >"$D/dry.out" 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ]; then return 0; fi
	fail "$name" "exit $rc, want $want: $(tr '\n' ' ' <"$D/dry.out")"
	return 1
}
# refused NAME CERT REASON SENTENCE-REGEX [options]
refused() {
	local name=$1 in=$2 reason=$3 re=$4; shift 4
	dry 2 "$name" "$in" "$@" || return
	if grep -q "^decision: refused" "$D/dry.out" &&
	   grep -q "^reason: $reason ($(reason_code "$reason"))" "$D/dry.out" &&
	   grep -Eq -- "$re" "$D/dry.out"; then pass "$name"
	else fail "$name" "want $reason and /$re/: $(tr '\n' ' ' <"$D/dry.out")"; fi
}

if dry 0 "policy test: allowed leaf exits 0" "$D/ok.pem" &&
   grep -q "^decision: allowed" "$D/dry.out" && grep -q "^reason: ok (0)" "$D/dry.out" &&
   grep -q "^profile: servers" "$D/dry.out"; then
	pass "policy test: allowed leaf exits 0 with decision, reason and profile"
else fail "policy test: allowed leaf exits 0 with decision, reason and profile" "$(tr '\n' ' ' <"$D/dry.out")"; fi
grep -q "nothing was signed" "$D/dry.out" && pass "policy test: says it signed nothing" ||
	fail "policy test: says it signed nothing"
grep -iq "^serial: $(cert_serial_hex "$D/ok.pem")" "$D/dry.out" &&
	pass "policy test: prints the serial" || fail "policy test: prints the serial" \
	"want $(cert_serial_hex "$D/ok.pem"): $(grep serial "$D/dry.out")"
grep -q "$(sha256sum "$POL" | cut -d' ' -f1)" "$D/dry.out" &&
	pass "policy test: prints the policy hash" || fail "policy test: prints the policy hash"
dry 0 "policy test: RSA-2048 leaf allowed" "$D/rsa2k.pem" && pass "policy test: RSA-2048 leaf allowed"

refused "policy test: name not allowed" "$D/evil.pem" name.dns.not_allowed \
	'dNSName evil\.example is not allowed'
refused "policy test: denied name" "$D/denied.pem" name.dns.denied 'admin\.example\.test'
refused "policy test: lifetime over maxLifetime" "$D/long.pem" validity.too_long 'lifetime|longer|90'
refused "policy test: RSA-1024 leaf key" "$D/rsa1k.pem" key.rsa_size '1024'
refused "policy test: CA flag in a leaf profile" "$D/isca.pem" ext.basic_constraints.ca '[Cc][Aa]'
refused "policy test: 4-octet serial under minOctets 8" "$D/short.pem" serial.too_short \
	'serial.*(4|octet)'
refused "policy test: issuer differs from the CA subject" "$D/foreign.pem" issuer.mismatch \
	'issuer'
refused "policy test: key label not in signingKeys" "$D/ok.pem" key.unknown 'nope' --key nope
refused "policy test: --mechanism against the TBS algorithm" "$D/ok.pem" \
	signature.algorithm_mismatch 'sha256|SHA256|SHA384' --mechanism CKM_SHA384_RSA_PKCS
refused "policy test: raw-digest mechanism under prehashed deny" "$D/ok.pem" \
	prehashed.denied 'CKM_RSA_PKCS|prehashed|digest' --mechanism CKM_RSA_PKCS

# A DER TBSCertificate works as input (what a CA would send to C_Sign).
tbs_of "$D/ok.pem" "$D/ok.tbs.der" && tbs_of "$D/evil.pem" "$D/evil.tbs.der"
dry 0 "policy test: allowed DER TBS exits 0" "$D/ok.tbs.der" &&
	grep -q "^decision: allowed" "$D/dry.out" && pass "policy test: allowed DER TBS exits 0"
refused "policy test: refused DER TBS" "$D/evil.tbs.der" name.dns.not_allowed 'evil\.example'
# A DER certificate too.
openssl x509 -in "$D/ok.pem" -outform DER -out "$D/ok.der"
dry 0 "policy test: DER certificate" "$D/ok.der" && pass "policy test: DER certificate"
# Garbage input: exit 1 (error), not 0 or 2.
head -c 300 /dev/urandom >"$D/junk.der"
dry 1 "policy test: junk input is an error (exit 1)" "$D/junk.der" &&
	pass "policy test: junk input is an error (exit 1)"
"$A" policy test "$E2E_POL/bad-cidr.json" "$D/ok.pem" --ca "$D/ca.pem" >"$D/dry.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "10.0.0.1/8" "$D/dry.out" &&
	pass "policy test: broken policy is an error (exit 1)" ||
	fail "policy test: broken policy is an error (exit 1)" "exit $rc: $(tr '\n' ' ' <"$D/dry.out")"

# ---- warden-admin init installs the starter policy with the key label filled in -------
if "$A" init "$D/init" --key p256 --label web1 --pin 1234 --subject "/CN=Init Test CA" \
	>"$D/init.log" 2>&1; then
	check_hash "init: DIR/policy.json is valid" "$D/init/policy.json"
	if "$SYS_PYTHON" - "$D/init" "$TOP/policy-engine/starter-policy.json" <<'PY'
import json, sys
d, starter = sys.argv[1], sys.argv[2]
p = json.load(open(d + "/policy.json"))
s = json.load(open(starter))
assert list(p["signingKeys"]) == ["web1"], p["signingKeys"]
assert p["signingKeys"]["web1"] == s["signingKeys"]["*"]
p["signingKeys"] = s["signingKeys"]
assert p == s, "differs from the starter policy beyond the key label"
cfg = json.load(open(d + "/enclave.json"))
assert cfg["policy"] == d + "/policy.json", cfg.get("policy")
assert "prehashed" not in json.dumps(cfg["keys"]), "enclave.json still has prehashed"
PY
	then pass "init: policy.json is the starter policy for key web1, enclave.json points at it"
	else fail "init: policy.json is the starter policy for key web1, enclave.json points at it"; fi
	# A leaf whose issuer and AKI are the init CA's (made with a throwaway key: only the
	# TBS matters to a dry run).
	ski=$(openssl x509 -in "$D/init/ca.pem" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' :')
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$D/twin.key" -subj "/CN=Init Test CA" -days 3650 \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
		-addext "subjectKeyIdentifier=$ski" -out "$D/twin.pem" 2>/dev/null
	mk_csr "$D" internal "/CN=www.example.internal" p256
	mk_leaf "$D" internal twin "DNS:www.example.internal" 30 "$(rand_serial)" \
		"basicConstraints = critical,CA:FALSE" "keyUsage = critical,digitalSignature" \
		"extendedKeyUsage = serverAuth"
	"$A" policy test "$D/init/policy.json" "$D/internal.pem" --ca "$D/init/ca.pem" \
		--key web1 >"$D/dry.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] && pass "init: starter policy allows www.example.internal for web1" ||
		fail "init: starter policy allows www.example.internal for web1" "exit $rc: $(tr '\n' ' ' <"$D/dry.out")"
	"$A" policy test "$D/init/policy.json" "$D/internal.pem" --ca "$D/init/ca.pem" \
		--key ca >"$D/dry.out" 2>&1
	rc=$?
	[ $rc -eq 2 ] && grep -q "^reason: key.unknown" "$D/dry.out" &&
		pass "init: starter policy refuses another key label (key.unknown)" ||
		fail "init: starter policy refuses another key label (key.unknown)" "exit $rc: $(tr '\n' ' ' <"$D/dry.out")"
else fail "warden-admin init" "$(tail -n 3 "$D/init.log" | tr '\n' ' ')"; fi

# Signs nothing: no PKCS#11 backend is loaded (no SoftHSM, no p11-kit), no token needed.
LD_DEBUG=files "$A" policy test "$POL" "$D/ok.pem" --ca "$D/ca.pem" >"$D/lddebug.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && ! grep -Eiq 'file=[^ ]*(softhsm|pkcs11|p11-kit)' "$D/lddebug.out"; then
	pass "policy test: loads no PKCS#11 backend"
else fail "policy test: loads no PKCS#11 backend" "exit $rc: $(grep -Ei 'softhsm|pkcs11|p11-kit' "$D/lddebug.out" | head -n 3 | tr '\n' ' ')"; fi
if command -v strace >/dev/null; then
	strace -f -qq -e trace=openat,connect,socket -o "$D/strace.out" \
		"$A" policy test "$POL" "$D/ok.pem" --ca "$D/ca.pem" >/dev/null 2>&1
	if grep -Eq 'softhsm|\.sock|AF_UNIX|tokens/' "$D/strace.out"; then
		fail "policy test: opens no token and no socket" "$(grep -E 'softhsm|\.sock|AF_UNIX|tokens/' "$D/strace.out" | head -n 3 | tr '\n' ' ')"
	else pass "policy test: opens no token and no socket"; fi
fi
t_done
