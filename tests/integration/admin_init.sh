#!/bin/bash
# tests/integration/admin_init.sh - warden-admin init, for every key type: the files and
# their modes, the CA certificate (verifies, right key type / curve / bits, CA
# extensions, SKI = CKA_ID), enclave.json, the CSR form, and the refusals.
# Needs no enclave.  By hand: BUILD=build-admin bash tests/integration/admin_init.sh
. "$(dirname "$0")/../lib.sh"

[ -x "$WARDEN_ADMIN" ] || { fail admin_built "no $WARDEN_ADMIN"; exit 1; }

# mode_is PATH MODE: the octal permission bits of PATH are MODE.
mode_is() { [ "$(stat -c %a "$1")" = "$2" ] || { echo "$1 has mode $(stat -c %a "$1"), want $2"; return 1; }; }

# key_text_has CERT-TEXT PATTERN...: every pattern occurs in the text.
text_has() {
	local f=$1 p; shift
	for p in "$@"; do grep -q -- "$p" "$f" || { echo "no \"$p\" in $f"; return 1; }; done
}

key_patterns() {
	case "$1" in
	rsa*) echo "rsaEncryption|Public-Key: (${1#rsa} bit)|sha256WithRSAEncryption" ;;
	p256) echo "id-ecPublicKey|NIST CURVE: P-256|ecdsa-with-SHA256" ;;
	p384) echo "id-ecPublicKey|NIST CURVE: P-384|ecdsa-with-SHA384" ;;
	ed25519) echo "ED25519|Signature Algorithm: ED25519" ;;
	esac
}

# ski_is_cka_id DIR: the certificate's SKI equals the CKA_ID of the key in the token.
ski_is_cka_id() {
	local dir=$1 ski id
	ski=$(openssl x509 -in "$dir/ca.pem" -noout -ext subjectKeyIdentifier |
		tail -n 1 | tr -d ' :' | tr 'A-F' 'a-f')
	id=$(SOFTHSM2_CONF=$dir/softhsm2.conf pkcs11-tool --module "$SOFTHSM_MODULE" \
		--token-label warden --login --pin "$(cat "$dir/backend.pin")" -O --type privkey \
		2>/dev/null | sed -n 's/^ *ID: *//p')
	[ -n "$ski" ] && [ "$ski" = "$id" ] || { echo "SKI $ski, CKA_ID $id"; return 1; }
}

# key_is_locked_down DIR: the private key is sensitive and never extractable.
key_is_locked_down() {
	local out
	out=$(SOFTHSM2_CONF=$1/softhsm2.conf pkcs11-tool --module "$SOFTHSM_MODULE" \
		--token-label warden --login --pin "$(cat "$1/backend.pin")" -O --type privkey 2>&1)
	echo "$out" | grep -q 'Access: *sensitive, always sensitive, never extractable' &&
		echo "$out" | grep -q 'Usage: *sign$' || { echo "$out"; return 1; }
}

for key in rsa2048 rsa3072 rsa4096 p256 p384 ed25519; do
	d=$T_TMP/$key
	start=$(date +%s%N)
	if ! warden_setup "$d" "$key"; then
		fail "init_$key" "warden-admin init failed"
		continue
	fi
	pass "init_$key"
	echo "# init $key took $(( ($(date +%s%N) - start) / 1000000 )) ms"
	check "dir_mode_$key" mode_is "$d" 700
	check "secret_modes_$key" bash -c "$(declare -f mode_is); for f in backend.pin \
		backend-so.pin user-pin.scrypt; do mode_is $d/\$f 600 || exit 1; done; \
		for s in tokens state audit; do mode_is $d/\$s 700 || exit 1; done"
	check "token_files_private_$key" bash -c "! find $d/tokens -perm /077 | grep -q ."
	check "pin_hash_format_$key" grep -Eq '^\$scrypt\$ln=[0-9]+,r=[0-9]+,p=[0-9]+\$[0-9a-f]+\$[0-9a-f]+$' \
		"$d/user-pin.scrypt"
	check "ca_verifies_$key" openssl verify -CAfile "$d/ca.pem" "$d/ca.pem"
	openssl x509 -in "$d/ca.pem" -noout -text >"$d.txt" 2>&1
	IFS='|' read -r -a pats <<<"$(key_patterns "$key")"
	check "ca_key_type_$key" text_has "$d.txt" "${pats[@]}"
	check "ca_extensions_$key" text_has "$d.txt" "Basic Constraints: critical" "CA:TRUE" \
		"Key Usage: critical" "Certificate Sign, CRL Sign" "Subject Key Identifier" \
		"Authority Key Identifier" "Version: 3" "Subject: CN = Warden Test CA $key" \
		"Issuer: CN = Warden Test CA $key"
	check "ca_ski_is_cka_id_$key" ski_is_cka_id "$d"
	check "key_locked_down_$key" key_is_locked_down "$d"
	check "enclave_json_parses_$key" "$SYS_PYTHON" -m json.tool "$d/enclave.json"
	check "enclave_json_content_$key" "$SYS_PYTHON" - "$d" <<'PY'
import json, os, sys
d = sys.argv[1]
c = json.load(open(d + "/enclave.json"))
assert c["socket"] == d + "/enclave.sock", c["socket"]
assert c["allowed_uids"] == [os.getuid()], c["allowed_uids"]
assert "user" not in c
assert c["max_data_len"] == 16777216
assert c["state_dir"] == d + "/state" and c["audit_dir"] == d + "/audit"
t = c["token"]
assert t["label"] == "warden" and t["pin_max_failures"] == 5
assert len(t["serial"]) == 16 and int(t["serial"], 16) >= 0
assert t["user_pin_file"] == d + "/user-pin.scrypt"
b = c["backend"]
assert b["token_label"] == "warden" and b["pin_file"] == d + "/backend.pin"
assert b["environment"] == {"SOFTHSM2_CONF": d + "/softhsm2.conf"}
assert b["paths"] == [d + "/tokens"]
assert c["keys"] == [{"label": "ca", "certificate": d + "/ca.pem",
                      "verify_signatures": False}], c["keys"]
assert c["policy"] == d + "/policy.json" and c["audit_key"] == d + "/audit.key"
# warden_setup keeps init's starter policy as policy.starter.json (policy.json: the test one)
sp = d + "/policy.starter.json"
p = json.load(open(sp if os.path.exists(sp) else d + "/policy.json"))
assert p["signingKeys"] == {"ca": {"prehashed": "deny", "sign": ["certificate", "crl", "ocsp"]}}, p
assert os.stat(d + "/audit.key").st_mode & 0o777 == 0o600
assert os.path.exists(d + "/audit/audit.pub")
PY
	check "module_conf_$key" grep -qx "socket = $d/enclave.sock" "$d/module.conf"
	check "softhsm_conf_$key" grep -qx "directories.tokendir = $d/tokens" "$d/softhsm2.conf"
	check_fails "rerun_refused_$key" "$WARDEN_ADMIN" init "$d" --key "$key" --pin 1234

	# --csr: a verifiable request and no certificate.
	c=$T_TMP/$key-csr
	if warden_setup "$c" "$key" --csr; then
		check "csr_verifies_$key" openssl req -in "$c/ca.csr" -verify -noout
		check "csr_subject_$key" bash -c "openssl req -in $c/ca.csr -noout -subject | \
			grep -q 'CN = Warden Test CA $key'"
		check "csr_no_cert_$key" bash -c "[ ! -e $c/ca.pem ] && ! grep -q certificate \
			$c/enclave.json"
		check "csr_json_parses_$key" "$SYS_PYTHON" -m json.tool "$c/enclave.json"
	else
		fail "csr_init_$key" "warden-admin init --csr failed"
	fi
	rm -rf "$c"
done

# --force replaces a setup; the new certificate has a new key.
d=$T_TMP/force
if warden_setup "$d" p256; then
	old=$(openssl x509 -in "$d/ca.pem" -noout -pubkey)
	check_fails rerun_without_force_refused warden_setup "$d" p256
	check rerun_with_force warden_setup "$d" p256 --force
	new=$(openssl x509 -in "$d/ca.pem" -noout -pubkey)
	check force_new_key test "$old" != "$new"
	check force_one_token test "$(ls "$d/tokens" | wc -l)" = 1
	check force_ca_verifies openssl verify -CAfile "$d/ca.pem" "$d/ca.pem"
else
	fail force_setup "warden-admin init failed"
fi

# Refusals: exit 1 with one line on stderr, and nothing left behind.
refused() {
	local name=$1; shift
	local out=$T_TMP/refused.err rc
	"$WARDEN_ADMIN" "$@" >/dev/null 2>"$out"
	rc=$?
	if [ $rc -ne 1 ]; then fail "$name" "exit $rc, want 1"
	elif [ "$(wc -l <"$out")" -ne 1 ]; then fail "$name" "stderr: $(cat "$out")"
	else pass "$name"; fi
}
refused bad_key_refused init "$T_TMP/bad1" --key rsa1024 --pin 1234
refused short_pin_refused init "$T_TMP/bad2" --pin 123
refused bad_subject_refused init "$T_TMP/bad3" --pin 1234 --subject "CN=no slash"
refused unknown_attr_refused init "$T_TMP/bad4" --pin 1234 --subject "/NOPE=x"
refused bad_days_refused init "$T_TMP/bad5" --pin 1234 --days 0
refused bad_option_refused init "$T_TMP/bad6" --pin 1234 --frobnicate
refused no_dir_refused init
refused bad_user_refused init "$T_TMP/bad7" --pin 1234 --user no-such-user-here
refused long_socket_refused init "$T_TMP/bad10" --pin 1234 --socket "/tmp/$(printf 'x%.0s' {1..120})"
refused relative_socket_refused init "$T_TMP/bad11" --pin 1234 --socket relative.sock
refused bad_module_refused init "$T_TMP/bad8" --pin 1234 --module /nonexistent/lib.so
check bad_module_left_nothing bash -c "[ -z \"\$(ls -A $T_TMP/bad8)\" ]"
check no_pin_refused bash -c "! \"$WARDEN_ADMIN\" init $T_TMP/bad9 </dev/null"

# The PIN as one line on stdin (no terminal).
d=$T_TMP/stdin-pin
check pin_from_stdin bash -c "echo 98765 | \"$WARDEN_ADMIN\" init $d --key p256 >/dev/null"

# On a terminal the PIN is asked twice, without echo; a mismatch is refused.
tty_init() {
	"$SYS_PYTHON" - "$WARDEN_ADMIN" "$1" "$2" "$3" <<'PY'
import os, pty, select, sys
admin, d, p1, p2 = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(admin, [admin, "init", d, "--key", "p256"])
out = b""
def read_until(want):
    global out
    while want not in out:
        r, _, _ = select.select([fd], [], [], 10)
        if not r:
            sys.exit("timeout waiting for %r in %r" % (want, out))
        try:
            out += os.read(fd, 4096)
        except OSError:
            return
read_until(b"PIN: ")
os.write(fd, p1.encode() + b"\n")
read_until(b"Repeat the PIN: ")
os.write(fd, p2.encode() + b"\n")
read_until(b"\n" * 3)
_, st = os.waitpid(pid, 0)
if p1.encode() in out:
    sys.exit("the PIN was echoed: %r" % out)
sys.exit(os.WEXITSTATUS(st))
PY
}
check tty_pin_prompt tty_init "$T_TMP/tty1" secret-pin-1 secret-pin-1
check tty_pin_created test -s "$T_TMP/tty1/user-pin.scrypt"
check_fails tty_pin_mismatch_refused tty_init "$T_TMP/tty2" secret-pin-1 secret-pin-2
check tty_pin_mismatch_left_nothing test ! -e "$T_TMP/tty2/enclave.json"

# --user: the enclave's directories belong to that user, DIR can be traversed.
if id nobody >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	d=$T_TMP/user
	if warden_setup "$d" p256 --user nobody; then
		check user_owns_dirs bash -c "[ \"\$(stat -c %U $d/tokens $d/state $d/audit | sort -u)\" = nobody ] && \
			! find $d/tokens ! -user nobody | grep -q ."
		check user_dir_traversable mode_is "$d" 711
		check user_secrets_root mode_is "$d/backend.pin" 600
		check user_in_json bash -c "grep -q '\"user\": \"nobody\"' $d/enclave.json"
	else
		fail user_setup "warden-admin init --user nobody failed"
	fi
else
	skip user_setup "needs root and the user nobody"
fi

t_done
