/*
 * WardenBc.java - BouncyCastle on SunPKCS11 (the EJBCA way of using a PKCS#11 key), driven
 * by command lines on stdin, for the end-to-end revocation tests
 * (tests/integration/e2e_revocation_*.sh).
 *
 *   java -cp $T_TMP/java:bcprov.jar:bcpkix.jar:bcutil.jar WardenBc SUNPKCS11.cfg PIN CA.pem ALIAS
 *
 * The CA key is used only through the SunPKCS11 provider: JcaContentSignerBuilder with
 * setProvider(p11) sends the whole TBSCertificate / TBSCertList / OCSP ResponseData in
 * C_SignUpdate pieces with CKM_SHA256_RSA_PKCS (RSA) or CKM_ECDSA_SHA256 (EC).
 * Every command line gets one answer line: "OK" or "ERR <exception chain>".
 *
 *   issue SERIALHEX DNSNAME DAYS OUT.pem    a leaf certificate (P-256 key) for DNSNAME
 *   crl NUMBER OUT.pem [SERIALHEX@EPOCH@REASON ...]
 *                                           a full CRL (thisUpdate now, nextUpdate +7d)
 *   ocsp OUT.der SERIALHEX good|unknown     an OCSP response (byName responder, CertID
 *   ocsp OUT.der SERIALHEX revoked EPOCH REASON   with SHA-1, thisUpdate now, next +1d)
 *   quit
 *
 * Dates are whole seconds so that a revocation time in a CRL (UTCTime) and in an OCSP
 * answer (GeneralizedTime) are the same instant.
 */
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.Date;

import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.CRLNumber;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.cert.X509CRLHolder;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v2CRLBuilder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.cert.ocsp.BasicOCSPResp;
import org.bouncycastle.cert.ocsp.BasicOCSPRespBuilder;
import org.bouncycastle.cert.ocsp.CertificateID;
import org.bouncycastle.cert.ocsp.CertificateStatus;
import org.bouncycastle.cert.ocsp.OCSPResp;
import org.bouncycastle.cert.ocsp.OCSPRespBuilder;
import org.bouncycastle.cert.ocsp.RespID;
import org.bouncycastle.cert.ocsp.RevokedStatus;
import org.bouncycastle.cert.ocsp.UnknownStatus;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.DigestCalculatorProvider;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;

public final class WardenBc {
	private static final long DAY_MS = 86400L * 1000L;

	private final Provider p11;
	private final PrivateKey key;
	private final X509Certificate ca;
	private final X509CertificateHolder caHolder;
	private final X500Name caName;
	private final byte[] caSki;
	private final String sigAlg;

	private WardenBc(String cfg, String pin, String caPath, String alias) throws Exception {
		p11 = Security.getProvider("SunPKCS11").configure(cfg);
		Security.addProvider(p11);
		KeyStore ks = KeyStore.getInstance("PKCS11", p11);
		ks.load(null, pin.toCharArray());
		key = (PrivateKey) ks.getKey(alias, pin.toCharArray());
		if (key == null)
			throw new IllegalStateException("no private key with alias " + alias);
		try (FileInputStream in = new FileInputStream(caPath)) {
			ca = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
		}
		caHolder = new JcaX509CertificateHolder(ca);
		/* The exact bytes of the CA's subject: the enclave compares issuers byte for byte. */
		caName = X500Name.getInstance(ca.getSubjectX500Principal().getEncoded());
		byte[] ext = ca.getExtensionValue(Extension.subjectKeyIdentifier.getId());
		caSki = SubjectKeyIdentifier.getInstance(
			ASN1OctetString.getInstance(ext).getOctets()).getKeyIdentifier();
		sigAlg = "RSA".equals(ca.getPublicKey().getAlgorithm()) ? "SHA256withRSA"
									  : "SHA256withECDSA";
	}

	private ContentSigner signer() throws Exception {
		return new JcaContentSignerBuilder(sigAlg).setProvider(p11).build(key);
	}

	private static Date now() {
		return new Date(System.currentTimeMillis() / 1000L * 1000L);
	}

	private static Date epoch(String s) {
		return new Date(Long.parseLong(s) * 1000L);
	}

	private static void writePem(String path, String type, byte[] der) throws Exception {
		String b64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
				   .encodeToString(der);
		try (OutputStream o = new FileOutputStream(path)) {
			o.write(("-----BEGIN " + type + "-----\n" + b64 + "\n-----END " + type +
				 "-----\n").getBytes(StandardCharsets.US_ASCII));
		}
	}

	private void issue(String[] a) throws Exception {
		BigInteger serial = new BigInteger(a[1], 16);
		String dns = a[2];
		Date nb = new Date(now().getTime() - 60_000L);
		Date na = new Date(nb.getTime() + Long.parseLong(a[3]) * DAY_MS);
		KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
		g.initialize(new ECGenParameterSpec("secp256r1"));
		KeyPair leaf = g.generateKeyPair();
		JcaX509ExtensionUtils u = new JcaX509ExtensionUtils();
		X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
			caName, serial, nb, na, new X500Name("CN=" + dns), leaf.getPublic())
			.addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
			.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
			.addExtension(Extension.extendedKeyUsage, false,
				      new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
			.addExtension(Extension.subjectAlternativeName, false,
				      new GeneralNames(new GeneralName(GeneralName.dNSName, dns)))
			.addExtension(Extension.authorityKeyIdentifier, false,
				      new AuthorityKeyIdentifier(caSki))
			.addExtension(Extension.subjectKeyIdentifier, false,
				      u.createSubjectKeyIdentifier(leaf.getPublic()));
		writePem(a[4], "CERTIFICATE", b.build(signer()).getEncoded());
	}

	private void crl(String[] a) throws Exception {
		Date thisUpdate = now();
		X509v2CRLBuilder b = new X509v2CRLBuilder(caName, thisUpdate);
		b.setNextUpdate(new Date(thisUpdate.getTime() + 7 * DAY_MS));
		b.addExtension(Extension.cRLNumber, false, new CRLNumber(new BigInteger(a[1])));
		b.addExtension(Extension.authorityKeyIdentifier, false, new AuthorityKeyIdentifier(caSki));
		for (int i = 3; i < a.length; i++) {
			String[] e = a[i].split("@");
			b.addCRLEntry(new BigInteger(e[0], 16), epoch(e[1]), Integer.parseInt(e[2]));
		}
		X509CRLHolder crl = b.build(signer());
		writePem(a[2], "X509 CRL", crl.getEncoded());
	}

	private void ocsp(String[] a) throws Exception {
		DigestCalculatorProvider dcp = new JcaDigestCalculatorProviderBuilder().build();
		CertificateID id = new CertificateID(dcp.get(CertificateID.HASH_SHA1), caHolder,
						     new BigInteger(a[2], 16));
		CertificateStatus st;
		switch (a[3]) {
		case "good":
			st = CertificateStatus.GOOD;
			break;
		case "unknown":
			st = new UnknownStatus();
			break;
		case "revoked":
			st = new RevokedStatus(epoch(a[4]), Integer.parseInt(a[5]));
			break;
		default:
			throw new IllegalArgumentException("status " + a[3]);
		}
		Date t = now();
		BasicOCSPRespBuilder b = new BasicOCSPRespBuilder(new RespID(caName));
		b.addResponse(id, st, t, new Date(t.getTime() + DAY_MS), null);
		BasicOCSPResp basic = b.build(signer(), new X509CertificateHolder[] { caHolder }, t);
		OCSPResp resp = new OCSPRespBuilder().build(OCSPRespBuilder.SUCCESSFUL, basic);
		try (OutputStream o = new FileOutputStream(a[1])) {
			o.write(resp.getEncoded());
		}
	}

	private static String chain(Throwable t) {
		StringBuilder s = new StringBuilder();
		for (; t != null; t = t.getCause()) {
			if (s.length() > 0)
				s.append(" <- ");
			s.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
		}
		return s.toString().replace('\n', ' ');
	}

	public static void main(String[] args) throws Exception {
		WardenBc w;
		try {
			w = new WardenBc(args[0], args[1], args[2], args[3]);
			System.out.println("OK ready " + w.sigAlg);
		} catch (Exception e) {
			System.out.println("ERR " + chain(e));
			System.exit(1);
			return;
		}
		BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
		for (String line; (line = in.readLine()) != null;) {
			String[] a = line.trim().split("\\s+");
			if (a[0].isEmpty())
				continue;
			try {
				switch (a[0]) {
				case "quit":
					System.out.println("OK");
					System.out.flush();
					return;
				case "issue":
					w.issue(a);
					break;
				case "crl":
					w.crl(a);
					break;
				case "ocsp":
					w.ocsp(a);
					break;
				default:
					throw new IllegalArgumentException("unknown command " + a[0]);
				}
				System.out.println("OK");
			} catch (Exception e) {
				System.out.println("ERR " + chain(e));
			}
			System.out.flush();
		}
	}
}
