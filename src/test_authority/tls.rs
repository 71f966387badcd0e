//! The authority's certificates and TLS server configuration.
//!
//! A fresh CA is made at every start, so nothing secret is stored anywhere and
//! a test trusts exactly one authority (via [`TestAuthority::ca_pem`]). The leaf
//! is signed by that CA rather than being self-signed, because that is how real
//! servers are set up and it exercises the client's chain building.
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
    /// The server side configuration with the leaf certificate and its key.
    pub(super) config: Arc<ServerConfig>,
}

/// Makes a CA, a leaf certificate for loopback signed by it, and the rustls
/// server configuration that presents the leaf.
pub(super) fn make(certificate: Certificate) -> io::Result<Tls> {
    let ca_key = KeyPair::generate().map_err(io::Error::other)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
    ca_params.distinguished_name = name("devicecode test authority CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    // A device under test may have its wall clock in 1970 (no NTP yet): the
    // certificates must be valid then too. rcgen's default end is year 4096.
    ca_params.not_before = rcgen::date_time_ymd(1970, 1, 1);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(io::Error::other)?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(io::Error::other)?;
    let names = match certificate {
        Certificate::WrongHost => vec!["wrong-host.example".to_string()],
        _ => vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ],
    };
    let mut leaf_params = CertificateParams::new(names).map_err(io::Error::other)?;
    leaf_params.distinguished_name = name("localhost");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.not_before = rcgen::date_time_ymd(1970, 1, 1);
    if certificate == Certificate::Expired {
        leaf_params.not_before = rcgen::date_time_ymd(2001, 1, 1);
        leaf_params.not_after = rcgen::date_time_ymd(2001, 12, 31);
    }
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .map_err(io::Error::other)?;

    // An explicit provider, so that nothing depends on (or changes) the
    // process-wide default crypto provider of the program under test.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    // Only the leaf is sent: like real servers, the root is the client's to have.
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone()], key)
        .map_err(io::Error::other)?;
    Ok(Tls {
        ca_pem,
        config: Arc::new(config),
    })
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}
