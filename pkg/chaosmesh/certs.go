package chaosmesh

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// CertValidity is how long generated certificates are valid: the chart's
// 1825 days (5 years).
const CertValidity = 1825 * 24 * time.Hour

// The names the chart's _certs.tpl puts in the chaos-daemon mTLS
// certificates. The controller-manager dials the daemons with
// ServerName chaos-daemon.chaos-mesh.org (pkg/grpc/utils.go upstream).
const (
	caCommonName           = "chaos-mesh-ca"
	chaosdCACommonName     = "chaosd-ca"
	daemonServerCommonName = "chaos-daemon.chaos-mesh.org"
	daemonClientCommonName = "controller-manager.chaos-mesh.org"
)

// KeyPair is a certificate and its RSA key, PEM encoded as the chart's
// Secrets hold them (tls.crt: CERTIFICATE, tls.key: RSA PRIVATE KEY).
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
	Cert    *x509.Certificate
	key     *rsa.PrivateKey
}

// Certs are every certificate an installation needs, as the chart
// generates them (helm/chaos-mesh/templates/_certs.tpl and
// secrets-configuration.yaml): one self-signed CA that signs the webhook
// serving certificate and both sides of the controller-manager ↔
// chaos-daemon mTLS, and a second CA for the chaosd client certificate
// (chaosdSecurityMode; that CA's key is stored too, as the chart does).
type Certs struct {
	CA           KeyPair
	Webhook      KeyPair
	DaemonServer KeyPair
	DaemonClient KeyPair
	ChaosdCA     KeyPair
	ChaosdClient KeyPair
}

// WebhookDNSNames are the names the webhook serving certificate is valid
// for. The chart uses only <service>.<namespace>.svc (what the API server
// dials); the shorter and longer forms are added so that the certificate
// also fits a client that names the service otherwise.
func WebhookDNSNames(namespace string) []string {
	s := ControllerServiceName
	return []string{s, s + "." + namespace, s + "." + namespace + ".svc", s + "." + namespace + ".svc.cluster.local"}
}

// GenerateCerts creates a fresh set of certificates valid from now for
// CertValidity. Keys are RSA 2048 as Sprig's genCA/genSignedCert make
// them; key usages and extended key usages are Sprig's too (digital
// signature and key encipherment; server and client auth; the CAs also
// sign certificates).
func GenerateCerts(namespace string, now time.Time) (*Certs, error) {
	ca, err := newCA(caCommonName, now)
	if err != nil {
		return nil, err
	}
	chaosdCA, err := newCA(chaosdCACommonName, now)
	if err != nil {
		return nil, err
	}
	c := &Certs{CA: *ca, ChaosdCA: *chaosdCA}
	webhookCN := ControllerServiceName + "." + namespace + ".svc"
	for _, leaf := range []struct {
		out   *KeyPair
		ca    *KeyPair
		cn    string
		names []string
	}{
		{&c.Webhook, ca, webhookCN, WebhookDNSNames(namespace)},
		{&c.DaemonServer, ca, daemonServerCommonName, []string{"localhost", daemonServerCommonName}},
		{&c.DaemonClient, ca, daemonClientCommonName, []string{"localhost", daemonClientCommonName}},
		{&c.ChaosdClient, chaosdCA, daemonClientCommonName, []string{"localhost", daemonClientCommonName}},
	} {
		kp, err := newSigned(leaf.cn, leaf.names, leaf.ca, now)
		if err != nil {
			return nil, err
		}
		*leaf.out = *kp
	}
	return c, nil
}

func template(cn string, names []string, now time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Minute), // tolerate a node clock slightly behind
		NotAfter:              now.Add(CertValidity),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
	}, nil
}

func newCA(cn string, now time.Time) (*KeyPair, error) {
	tmpl, err := template(cn, nil, now)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.KeyUsage |= x509.KeyUsageCertSign
	return sign(tmpl, nil)
}

func newSigned(cn string, names []string, ca *KeyPair, now time.Time) (*KeyPair, error) {
	tmpl, err := template(cn, names, now)
	if err != nil {
		return nil, err
	}
	return sign(tmpl, ca)
}

// sign creates a key and a certificate from tmpl, signed by ca (nil:
// self-signed).
func sign(tmpl *x509.Certificate, ca *KeyPair) (*KeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.Cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("creating certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &KeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		Cert:    cert,
		key:     key,
	}, nil
}

// parseKeyPair reads a PEM certificate and (optionally) its PKCS#1 or
// PKCS#8 RSA key.
func parseKeyPair(certPEM, keyPEM []byte) (*KeyPair, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	kp := &KeyPair{CertPEM: certPEM, KeyPEM: keyPEM, Cert: cert}
	if keyPEM == nil {
		return kp, nil
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("no PEM key")
	}
	var key any
	if key, err = x509.ParsePKCS1PrivateKey(kb.Bytes); err != nil {
		if key, err = x509.ParsePKCS8PrivateKey(kb.Bytes); err != nil {
			return nil, fmt.Errorf("parsing key: %w", err)
		}
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok || !rk.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("key does not match the certificate")
	}
	kp.key = rk
	return kp, nil
}

// Check verifies that the set is usable at now and for at least another
// margin: each leaf is signed by its CA, is valid for its names, and
// the webhook certificate covers the names the API server dials.
func (c *Certs) Check(namespace string, now time.Time, margin time.Duration) error {
	for _, ca := range []*KeyPair{&c.CA, &c.ChaosdCA} {
		if ca.Cert == nil || !ca.Cert.IsCA {
			return errors.New("CA certificate missing or not a CA")
		}
	}
	for _, leaf := range []struct {
		what string
		kp   *KeyPair
		ca   *KeyPair
		name string
	}{
		{"webhook", &c.Webhook, &c.CA, ControllerServiceName + "." + namespace + ".svc"},
		{"chaos-daemon server", &c.DaemonServer, &c.CA, daemonServerCommonName},
		{"chaos-daemon client", &c.DaemonClient, &c.CA, daemonClientCommonName},
		{"chaosd client", &c.ChaosdClient, &c.ChaosdCA, daemonClientCommonName},
	} {
		if leaf.kp.Cert == nil || leaf.kp.key == nil {
			return fmt.Errorf("%s certificate or key missing", leaf.what)
		}
		pool := x509.NewCertPool()
		pool.AddCert(leaf.ca.Cert)
		for _, at := range []time.Time{now, now.Add(margin)} {
			if _, err := leaf.kp.Cert.Verify(x509.VerifyOptions{DNSName: leaf.name, Roots: pool, CurrentTime: at,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				return fmt.Errorf("%s certificate at %s: %w", leaf.what, at.Format(time.RFC3339), err)
			}
		}
	}
	return nil
}

// Fingerprint identifies the set (a hash of every certificate). It is
// the pods' rollme annotation: the chart puts a random value there so
// that pods restart and read re-generated certificates; a hash restarts
// them exactly when the certificates changed.
func (c *Certs) Fingerprint() string {
	h := sha256.New()
	for _, kp := range []*KeyPair{&c.CA, &c.Webhook, &c.DaemonServer, &c.DaemonClient, &c.ChaosdCA, &c.ChaosdClient} {
		h.Write(kp.CertPEM)
	}
	return hex.EncodeToString(h.Sum(nil))[:10]
}
