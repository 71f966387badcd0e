//! The authority's certificates and TLS server configuration.
//!
//! A fresh CA is made at every start, so nothing secret is stored anywhere and
//! a test trusts exactly one authority (via [`TestAuthority::ca_pem`]). The leaf
//! is signed by that CA rather than being self-signed, because that is how real
//! servers are set up and it exercises the client's chain building. The faulty
//! leaves (wrong host, expired, not yet valid, from an unknown CA) are made at
//! start too, so that the authority can switch between them while it runs.
//!
//! [`TestAuthority::ca_pem`]: super::TestAuthority::ca_pem

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;

use super::Certificate;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// What the server needs for TLS.
pub(super) struct Tls {
    /// PEM of the CA certificate, for clients to trust.
    pub(super) ca_pem: String,
    /// A server configuration for each [`Certificate`], so the authority can
    /// change what it presents while it runs.
    valid: Arc<ServerConfig>,
    wrong_host: Arc<ServerConfig>,
    expired: Arc<ServerConfig>,
    not_yet_valid: Arc<ServerConfig>,
    untrusted_issuer: Arc<ServerConfig>,
}

impl Tls {
    /// The configuration that presents `certificate`.
    pub(super) fn config(&self, certificate: Certificate) -> &Arc<ServerConfig> {
        match certificate {
            Certificate::Valid => &self.valid,
            Certificate::WrongHost => &self.wrong_host,
            Certificate::Expired => &self.expired,
            Certificate::NotYetValid => &self.not_yet_valid,
            Certificate::UntrustedIssuer => &self.untrusted_issuer,
        }
    }
}

/// A CA: its certificate's PEM and what signs with it.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn new_ca(common_name: &str) -> io::Result<Ca> {
    let key = KeyPair::generate().map_err(io::Error::other)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    // A device under test may have its wall clock in 1970 (no NTP yet): the
    // certificates must be valid then too. rcgen's default end is year 4096.
    params.not_before = rcgen::date_time_ymd(1970, 1, 1);
    let cert = params.self_signed(&key).map_err(io::Error::other)?;
    Ok(Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    })
}

/// Makes a CA and, signed by it, a leaf certificate for loopback and the
/// faulty variants (another host name, expired, not yet valid); and one leaf
/// signed by a second CA that nobody is given. Each comes with the rustls
/// server configuration that presents it.
pub(super) fn make() -> io::Result<Tls> {
    let ca = new_ca("devicecode test authority CA")?;
    let stranger = new_ca("devicecode unknown CA")?;
    let loopback = || {
        vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ]
    };
    let (from_1970, end) = ((1970, 1, 1), (4096, 1, 1));
    Ok(Tls {
        ca_pem: ca.pem.clone(),
        valid: leaf(&ca, loopback(), from_1970, end)?,
        wrong_host: leaf(&ca, vec!["wrong-host.example".to_string()], from_1970, end)?,
        expired: leaf(&ca, loopback(), (2001, 1, 1), (2001, 12, 31))?,
        not_yet_valid: leaf(&ca, loopback(), (3000, 1, 1), end)?,
        untrusted_issuer: leaf(&stranger, loopback(), from_1970, end)?,
    })
}

/// A calendar day (year, month, day).
type Day = (i32, u8, u8);

/// A leaf certificate signed by `ca`, valid between two days, and a server
/// configuration that presents it.
fn leaf(ca: &Ca, names: Vec<String>, from: Day, to: Day) -> io::Result<Arc<ServerConfig>> {
    let key = KeyPair::generate().map_err(io::Error::other)?;
    let mut params = CertificateParams::new(names).map_err(io::Error::other)?;
    params.distinguished_name = name("localhost");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    let cert = params
        .signed_by(&key, &ca.issuer)
        .map_err(io::Error::other)?;

    // An explicit provider, so that nothing depends on (or changes) the
    // process-wide default crypto provider of the program under test.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    // Only the leaf is sent: like real servers, the root is the client's to have.
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .map_err(io::Error::other)?;
    Ok(Arc::new(config))
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}
