#!/bin/bash
# make install honours PREFIX and DESTDIR and puts every file where a Debian admin looks.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
# An ASan-built module (make asan) needs the sanitizer runtime preloaded into pkcs11-tool.
san_preload=$(ldd "$WARDEN_MODULE" 2>/dev/null | awk '/lib(asan|ubsan)\.so.* => / { print $3 }' | tr '\n' ' ')
arch=$(cc -print-multiarch)

for prefix in /usr /usr/local; do
	dest="$T_TMP/root$prefix"
	if ! make -s BUILD="$BUILD" install DESTDIR="$dest" PREFIX="$prefix" >"$T_TMP/install.log" 2>&1; then
		fail "install_$prefix" "$(tail -n 5 "$T_TMP/install.log")"
		continue
	fi
	lib="$prefix/lib/$arch/pkcs11/libwarden-pkcs11.so"
	moddir=$prefix/share/p11-kit/modules
	[ "$prefix" = /usr ] || moddir=/etc/pkcs11/modules
	for f in "$lib" "$prefix/sbin/warden-enclave" "$prefix/bin/warden-admin" \
		"$moddir/warden.module" "$prefix/lib/systemd/system/warden-enclave.service" \
		"$prefix/share/man/man8/warden-enclave.8" "$prefix/share/doc/warden/README.md"; do
		check "install_${prefix}_has_$(basename "$f")" test -f "$dest$f"
	done
	check "install_${prefix}_module_file_names_module" \
		grep -qx "module: $lib" "$dest$moddir/warden.module"
	check "install_${prefix}_unit_names_enclave" \
		grep -q "^ExecStart=$prefix/sbin/warden-enclave " "$dest$prefix/lib/systemd/system/warden-enclave.service"
	check "install_${prefix}_binaries_executable" test -x "$dest$prefix/sbin/warden-enclave"
	check_fails "install_${prefix}_no_placeholders" \
		grep -rq '@MODULE_PATH@\|@SBINDIR@' "$dest"
	# The installed module loads and answers C_GetInfo.
	check "install_${prefix}_module_loads" env LD_PRELOAD="$san_preload" \
		ASAN_OPTIONS=detect_leaks=0 bash -c \
		"pkcs11-tool --module '$dest$lib' -I 2>&1 | grep -q 'Manufacturer *Warden'"
done
t_done
