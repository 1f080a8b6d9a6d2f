# pkcs11-module/ - libwarden-pkcs11.so
