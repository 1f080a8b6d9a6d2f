#!/bin/bash
# clients_pkcs11tool.sh - OpenSC pkcs11-tool against the CA key, for every key type:
# lists slots and objects, signs with every mechanism the token lists and verifies each
# signature with openssl; raw-digest mechanisms are refused on a default key and work on
# a key configured prehashed "audit".
. "$(dirname "$0")/../lib.sh"

DATA=$T_TMP/data
head -c 3000 /dev/urandom >"$DATA" # > 1 KiB: pkcs11-tool uses C_SignUpdate chunks
SMALL=$T_TMP/small                  # EdDSA is one-shot (C_Sign) in PKCS#11 3.0
head -c 200 /dev/urandom >"$SMALL"

p11() { pkcs11-tool --module "$CA_MODULE" "$@"; }

# digest_info HASH FILE: the DER DigestInfo of FILE's HASH digest (input of CKM_RSA_PKCS).
digest_info() {
	local prefix
	case "$1" in
	sha256) prefix=3031300d060960864801650304020105000420 ;;
	sha384) prefix=3041300d060960864801650304020205000430 ;;
	sha512) prefix=3051300d060960864801650304020305000440 ;;
	esac
	# shellcheck disable=SC2059
	{ printf "$(echo "$prefix" | sed 's/../\\x&/g')"; openssl dgst -"$1" -binary "$2"; }
}

# sign_verify KEY MECH: signs DATA with MECH through the token, verifies with openssl.
sign_verify() {
	local key=$1 mech=$2 sig=$T_TMP/sig in=$DATA h args=() ver
	rm -f "$sig"
	case "$mech" in
	SHA*-RSA-PKCS)
		h=$(echo "$mech" | sed 's/^SHA\([0-9]*\)-.*/sha\1/')
		ver=(openssl dgst -"$h" -verify "$CA_DIR/ca.pub" -signature "$sig" "$DATA") ;;
	SHA*-RSA-PKCS-PSS)
		h=$(echo "$mech" | sed 's/^SHA\([0-9]*\)-.*/sha\1/')
		args=(--salt-len -1)
		ver=(openssl dgst -"$h" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
			-verify "$CA_DIR/ca.pub" -signature "$sig" "$DATA") ;;
	ECDSA-SHA*)
		h=$(echo "$mech" | sed 's/^ECDSA-SHA\([0-9]*\)$/sha\1/')
		args=(--signature-format openssl)
		ver=(openssl dgst -"$h" -verify "$CA_DIR/ca.pub" -signature "$sig" "$DATA") ;;
	EDDSA)
		in=$SMALL
		ver=(openssl pkeyutl -verify -pubin -inkey "$CA_DIR/ca.pub" -rawin -in "$SMALL"
			-sigfile "$sig") ;;
	RSA-PKCS)
		in=$T_TMP/di
		digest_info sha256 "$DATA" >"$in"
		ver=(openssl dgst -sha256 -verify "$CA_DIR/ca.pub" -signature "$sig" "$DATA") ;;
	RSA-PKCS-PSS)
		in=$T_TMP/hash
		openssl dgst -sha384 -binary "$DATA" >"$in"
		args=(--hash-algorithm SHA384 --mgf MGF1-SHA384 --salt-len -1)
		ver=(openssl dgst -sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
			-verify "$CA_DIR/ca.pub" -signature "$sig" "$DATA") ;;
	ECDSA)
		in=$T_TMP/hash
		openssl dgst -sha256 -binary "$DATA" >"$in"
		args=(--signature-format openssl)
		ver=(openssl dgst -sha256 -verify "$CA_DIR/ca.pub" -signature "$sig" "$DATA") ;;
	*)
		fail "$key sign $mech" "listed mechanism this test does not know"; return ;;
	esac
	if ! p11 --login --pin "$CA_PIN" --sign --id "$CA_ID" -m "$mech" "${args[@]}" \
		-i "$in" -o "$sig" >"$T_TMP/sign.out" 2>&1; then
		fail "$key sign $mech" "$(tr '\n' ' ' <"$T_TMP/sign.out")"; return
	fi
	if "${ver[@]}" >"$T_TMP/ver.out" 2>&1; then pass "$key sign $mech verified"
	else fail "$key sign $mech verified" "$(tr '\n' ' ' <"$T_TMP/ver.out")"; fi
}

# raw_refused KEY MECH: a raw-digest mechanism must not sign on a default key.
raw_refused() {
	local key=$1 mech=$2 in=$T_TMP/hash args=()
	case "$mech" in
	RSA-PKCS) digest_info sha256 "$DATA" >"$in" ;;
	RSA-PKCS-PSS) openssl dgst -sha256 -binary "$DATA" >"$in"
		args=(--hash-algorithm SHA256 --mgf MGF1-SHA256 --salt-len -1) ;;
	ECDSA) openssl dgst -sha256 -binary "$DATA" >"$in" ;;
	esac
	check_fails_with "$key $mech refused on a default key" CKR_MECHANISM_INVALID \
		p11 --login --pin "$CA_PIN" --sign --id "$CA_ID" -m "$mech" "${args[@]}" \
		-i "$in" -o "$T_TMP/sig"
}

# sign mechanisms the token lists (pkcs11-tool names)
listed_sign_mechs() {
	p11 -M 2>/dev/null | sed -n 's/^  \([A-Z0-9-]*\)[ ,].*\bsign\b.*/\1/p' | sort
}

expected_mechs() { # KEY PREHASHED(0/1)
	case "$1" in
	rsa*) printf '%s\n' SHA256-RSA-PKCS SHA384-RSA-PKCS SHA512-RSA-PKCS \
		SHA256-RSA-PKCS-PSS SHA384-RSA-PKCS-PSS SHA512-RSA-PKCS-PSS
		[ "$2" = 1 ] && printf '%s\n' RSA-PKCS RSA-PKCS-PSS ;;
	# ECDSA pairs the hash with the curve (the policy refuses P-256 with SHA-384...),
	# and the enclave lists only what its policy can allow.
	p256) echo ECDSA-SHA256; [ "$2" = 1 ] && echo ECDSA ;;
	p384) echo ECDSA-SHA384; [ "$2" = 1 ] && echo ECDSA ;;
	ed25519) echo EDDSA ;;
	esac | sort
}

raw_mechs() {
	case "$1" in rsa*) echo RSA-PKCS RSA-PKCS-PSS ;; p*) echo ECDSA ;; esac
}

# sign_all KEY PREHASHED: signs with every listed mechanism (with SoftHSM: the expected
# ones, since SoftHSM lists many more and no combined ECDSA).  With PREHASHED=1 only the
# raw ones: the full-data ones were signed with just before.
sign_all() {
	local key=$1 pre=$2 m mechs
	if [ "$T_TARGET" = warden ]; then
		mechs=$(listed_sign_mechs)
		if [ "$mechs" = "$(expected_mechs "$key" "$pre")" ]; then
			pass "$key mechanism list (prehashed=$pre)"
		else
			fail "$key mechanism list (prehashed=$pre)" "got: $(echo "$mechs" | tr '\n' ' ')"
		fi
		[ "$pre" = 1 ] && mechs=$(echo "$mechs" | grep -E '^(RSA-PKCS|RSA-PKCS-PSS|ECDSA)$')
	else
		mechs=$(expected_mechs "$key" "$pre" | grep -v '^ECDSA')
		[ "${key#p}" != "$key" ] && mechs="$mechs ECDSA"
	fi
	for m in $mechs; do
		sign_verify "$key" "$m"
	done
}

for key in rsa2048 p256 p384 ed25519 rsa3072 rsa4096; do
	d=$T_TMP/$key
	if ! ca_up "$d" "$key"; then fail "$key setup"; continue; fi
	if p11 -L >"$T_TMP/L" 2>&1 && grep -q 'token label *: warden' "$T_TMP/L"; then
		pass "$key -L shows the warden token"
	else fail "$key -L shows the warden token" "$(tr '\n' ' ' <"$T_TMP/L")"; fi
	p11 -O >"$T_TMP/O0" 2>&1
	if ! grep -q 'Private Key Object' "$T_TMP/O0" && grep -q 'Certificate Object' "$T_TMP/O0"
	then pass "$key -O without login: certificate, no private key"
	else fail "$key -O without login" "$(tr '\n' ' ' <"$T_TMP/O0")"; fi
	p11 -O --login --pin "$CA_PIN" >"$T_TMP/O" 2>&1
	if [ "$(grep -c "ID: *$CA_ID\$" "$T_TMP/O")" -ge 3 ] &&
		grep -q 'Private Key Object' "$T_TMP/O" && grep -q 'Public Key Object' "$T_TMP/O"
	then pass "$key -O --login: key, public key, certificate share CKA_ID"
	else fail "$key -O --login" "$(tr '\n' ' ' <"$T_TMP/O")"; fi

	case "$key" in rsa3072|rsa4096) # full-data mechanisms only, to keep the run short
		for m in SHA256-RSA-PKCS SHA512-RSA-PKCS-PSS; do sign_verify "$key" "$m"; done
		[ "$T_TARGET" = warden ] && warden_stop
		continue ;;
	esac

	sign_all "$key" 0
	if [ "$T_TARGET" = warden ]; then
		for m in $(raw_mechs "$key"); do raw_refused "$key" "$m"; done
		if [ "$key" != ed25519 ]; then
			if ca_set_prehashed audit; then sign_all "$key" 1
			else fail "$key restart with prehashed audit"; fi
		fi
		warden_stop
	fi
done
t_done
