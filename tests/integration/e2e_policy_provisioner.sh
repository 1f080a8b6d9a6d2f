#!/bin/bash
# e2e_policy_provisioner.sh - profiles chosen by step-ca's provisioner extension and the
# per-provisioner rate limit, through a real full-TBS client (PyKCS11,
# tests/policy/e2e/rules_client.py) under tests/policy/e2e/provisioners.json:
#   - a TBS from provisioner JWK "services" gets the services profile (*.svc.test only),
#     one from ACME "acme" the acme profile (*.example.test only): each refuses the
#     other's names (name.dns.not_allowed);
#   - no provisioner extension, or an unknown provisioner name: profile.none;
#   - services' perProvisioner limit (burst 2 per day): the third certificate is refused
#     (rate.provisioner) while acme's bucket is untouched;
#   - after a restart the services bucket is still full (rebuilt from the audit log) and
#     acme still signs;
#   - the audit records name the profile and the provisioner.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_policy_lib.sh"

"$SYS_PYTHON" -c 'import PyKCS11, cryptography' 2>/dev/null ||
	{ skip provisioner "python3-pykcs11 or python3-cryptography not installed"; exit 0; }
d=$T_TMP/ca
out=$T_TMP/out
mkdir -p "$out"

# client, res_state, res_rv, expect_ok: e2e_policy_lib.sh (rules_client.py).
expect_refused() {
	local name=$1 c=$2 reason=$3
	if [ "$(res_state "$c")" = ERR ] && [ "$(res_rv "$c")" = CKR_FUNCTION_REJECTED ]; then
		pass "$name: CKR_FUNCTION_REJECTED"
	else fail "$name: CKR_FUNCTION_REJECTED" "case $c: ${RES[$c]:-no answer}"; fi
	check_decision "$name: enclave log says $reason" "$d" refused "$reason"
}

CA_PIN=${WARDEN_PIN:-1234}
check_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
e2e_ca_up "$d" rsa2048 "$E2E_POL/provisioners.json" || { fail "setup" "CA did not come up"; t_done; exit; }

client svc1:prov=JWK/services,cn=a.svc.test svc2:prov=JWK/services,cn=b.svc.test \
	acme1:prov=ACME/acme,cn=x.example.test
expect_ok "services: first certificate signed" svc1
expect_ok "services: second certificate signed" svc2
expect_ok "acme: certificate signed" acme1

client svc3:prov=JWK/services,cn=c.svc.test
expect_refused "services: third within the day is over the per-provisioner limit" svc3 rate.provisioner
check_audit_refusal "services: audit record with rate.provisioner" "$d" rate.provisioner

client acme2:prov=ACME/acme,cn=y.example.test
expect_ok "acme: its own bucket is untouched by services'" acme2

client acme_svcname:prov=ACME/acme,cn=d.svc.test svc_acmename:prov=JWK/services,cn=z.example.test
expect_refused "acme profile refuses a services name" acme_svcname name.dns.not_allowed
expect_refused "services profile refuses an acme name" svc_acmename name.dns.not_allowed

client noprov:cn=n.example.test other:prov=JWK/service,cn=o.svc.test \
	othertype:prov=OIDC/services,cn=p.svc.test
expect_refused "no provisioner extension: no profile" noprov profile.none
expect_refused "provisioner name differs by one byte: no profile" other profile.none
expect_refused "same name, other provisioner type: no profile" othertype profile.none

# The audit records name the profile and the provisioner of what was allowed.
n=$(audit_count "$d" "r.get('decision') == 1 and r.get('profile') == 'services' and 'services' in str(r.get('provisioner'))")
check_eq "audit: allowed records of profile services name the provisioner" "$n" 2
n=$(audit_count "$d" "r.get('decision') == 1 and r.get('profile') == 'acme' and 'acme' in str(r.get('provisioner'))")
check_eq "audit: allowed records of profile acme name the provisioner" "$n" 2

# A restart rebuilds the buckets from the log.
warden_stop
warden_start "$d" || { fail "restart"; t_done; exit; }
client svc4:prov=JWK/services,cn=e.svc.test acme3:prov=ACME/acme,cn=w.example.test
expect_refused "after a restart: services still over its limit" svc4 rate.provisioner
expect_ok "after a restart: acme still signs" acme3
check "warden-audit verify" "$WARDEN_AUDIT" verify "$d/audit" --pubkey "$d/audit/audit.pub"
t_done
