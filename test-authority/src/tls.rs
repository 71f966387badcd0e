//! The authority's certificates and TLS server configuration.
//!
//! A fresh CA is made at every start, so nothing secret is stored anywhere and
//! a test trusts exactly one authority (via [`TestAuthority::ca_pem`]). The leaf
//! is signed by that CA rather than being self-signed, because that is how real
//! servers are set up and it exercises the client's chain building. The faulty
//! leaves (wrong host, expired, not yet valid, from an unknown CA) are made
//! when first presented, so that the authority can switch between them while
//! it runs.
//!
//! [`TestAuthority::ca_pem`]: super::TestAuthority::ca_pem

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

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
    ca: Ca,
    /// A server configuration per [`Certificate`], made on first use: the
    /// faulty ones cost key generations that most tests never need (a third
    /// of a second each under qemu).
    made: Mutex<Vec<(Certificate, Arc<ServerConfig>)>>,
}

impl Tls {
    /// The configuration that presents `certificate`.
    pub(super) fn config(&self, certificate: Certificate) -> io::Result<Arc<ServerConfig>> {
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, config)) = made.iter().find(|(c, _)| *c == certificate) {
            return Ok(Arc::clone(config));
        }
        let loopback = || {
            vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
            ]
        };
        let config = match certificate {
            Certificate::Valid => leaf(&self.ca, loopback(), FROM_1970, END)?,
            Certificate::WrongHost => leaf(
                &self.ca,
                vec!["wrong-host.example".to_string()],
                FROM_1970,
                END,
            )?,
            Certificate::Expired => leaf(&self.ca, loopback(), (2001, 1, 1), (2001, 12, 31))?,
            Certificate::NotYetValid => leaf(&self.ca, loopback(), (3000, 1, 1), END)?,
            Certificate::UntrustedIssuer => leaf(
                &new_ca("devicecode unknown CA")?,
                loopback(),
                FROM_1970,
                END,
            )?,
        };
        made.push((certificate, Arc::clone(&config)));
        Ok(config)
    }
}

/// A device under test may have its wall clock in 1970 (no NTP yet): the
/// certificates must be valid then too. rcgen's default end is year 4096.
const FROM_1970: Day = (1970, 1, 1);
const END: Day = (4096, 1, 1);

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
    params.not_before = rcgen::date_time_ymd(FROM_1970.0, FROM_1970.1, FROM_1970.2);
    let cert = params.self_signed(&key).map_err(io::Error::other)?;
    Ok(Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    })
}

/// Makes a CA and the configuration presenting `certificate`, signed by
/// it (or, for [`Certificate::UntrustedIssuer`], by a second CA nobody is
/// given). Other certificates are made when first presented.
pub(super) fn make(certificate: Certificate) -> io::Result<Tls> {
    let ca = new_ca("devicecode test authority CA")?;
    let tls = Tls {
        ca_pem: ca.pem.clone(),
        ca,
        made: Mutex::new(Vec::new()),
    };
    // Fail at start, not in the first handshake.
    tls.config(certificate)?;
    Ok(tls)
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
