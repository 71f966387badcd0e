//! The cryptography of our TLS: ring's, less what this client never uses.
//!
//! `rustls::crypto::ring::default_provider()` is one list that the linker
//! keeps whole: the ChaCha20-Poly1305 suites (ring's assembly for them is
//! some 40 KiB on x86_64) and the code that loads private keys for client
//! certificates (RSA signing among it). A device signing in over TLS needs
//! neither: every TLS 1.3 server has AES-GCM (RFC 8446 section 9.1), every
//! TLS 1.2 server that OAuth clients meet has it too, and we never show a
//! client certificate. The test below checks that the rest is ring's.

use ring::rand::SecureRandom as _;
use rustls::SignatureScheme as Scheme;
use rustls::crypto::ring::{cipher_suite as suite, kx_group};
use rustls::crypto::{
    CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms,
};
use rustls::sign::SigningKey;
use rustls_pki_types::PrivateKeyDer;
use std::sync::Arc;
use webpki::ring as alg;

/// ring's provider without ChaCha20-Poly1305 and without private keys.
///
/// AES-128 comes first, as browsers have it: as strong as the key exchange
/// before it, and its SHA-256 key schedule costs less than SHA-384's on a
/// board (a server that picks by its own preference is not affected).
pub(super) fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: vec![
            suite::TLS13_AES_128_GCM_SHA256,
            suite::TLS13_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ],
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        signature_verification_algorithms: VERIFY,
        secure_random: &Random,
        key_provider: &NoKeys,
    }
}

/// How server certificates and handshake signatures are checked: every
/// algorithm ring's provider accepts, for the same TLS signature schemes.
static VERIFY: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        alg::ECDSA_P256_SHA256,
        alg::ECDSA_P256_SHA384,
        alg::ECDSA_P384_SHA256,
        alg::ECDSA_P384_SHA384,
        alg::ED25519,
        alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        alg::RSA_PKCS1_2048_8192_SHA256,
        alg::RSA_PKCS1_2048_8192_SHA384,
        alg::RSA_PKCS1_2048_8192_SHA512,
        alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
        alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
        alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    ],
    // TLS 1.2 does not tie an ECDSA scheme to a curve, hence two each.
    mapping: &[
        (
            Scheme::ECDSA_NISTP384_SHA384,
            &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
        ),
        (
            Scheme::ECDSA_NISTP256_SHA256,
            &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
        ),
        (Scheme::ED25519, &[alg::ED25519]),
        (
            Scheme::RSA_PSS_SHA512,
            &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
        ),
        (
            Scheme::RSA_PSS_SHA384,
            &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
        ),
        (
            Scheme::RSA_PSS_SHA256,
            &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
        ),
        (Scheme::RSA_PKCS1_SHA512, &[alg::RSA_PKCS1_2048_8192_SHA512]),
        (Scheme::RSA_PKCS1_SHA384, &[alg::RSA_PKCS1_2048_8192_SHA384]),
        (Scheme::RSA_PKCS1_SHA256, &[alg::RSA_PKCS1_2048_8192_SHA256]),
    ],
};

/// The operating system's random numbers, through ring.
#[derive(Debug)]
struct Random;

impl SecureRandom for Random {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        ring::rand::SystemRandom::new()
            .fill(buf)
            .map_err(|_| GetRandomFailed)
    }
}

/// Loads no private key: this client never presents a certificate.
#[derive(Debug)]
struct NoKeys;

impl KeyProvider for NoKeys {
    fn load_private_key(
        &self,
        _key: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "client certificates are not supported".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::ring::default_provider;
    use rustls_pki_types::{AlgorithmIdentifier, SignatureVerificationAlgorithm};

    fn ids(algs: &[&dyn SignatureVerificationAlgorithm]) -> Vec<[AlgorithmIdentifier; 2]> {
        algs.iter()
            .map(|a| [a.public_key_alg_id(), a.signature_alg_id()])
            .collect()
    }

    #[test]
    fn ring_s_provider_less_chacha20_and_keys() {
        let ours = provider();
        let ring = default_provider();
        // The same suites less ChaCha20, in another order.
        let suites = |p: &CryptoProvider, chacha: bool| {
            let mut names = p
                .cipher_suites
                .iter()
                .map(|s| format!("{:?}", s.suite()))
                .filter(|name| chacha || !name.contains("CHACHA20"))
                .collect::<Vec<_>>();
            names.sort();
            names
        };
        assert_eq!(suites(&ours, true), suites(&ring, false));
        assert_eq!(suites(&ours, true).len(), 6, "TLS 1.3 and TLS 1.2 suites");
        let first = format!("{:?}", ours.cipher_suites[0].suite());
        assert_eq!(first, "TLS13_AES_128_GCM_SHA256");
        let groups = |p: &CryptoProvider| p.kx_groups.iter().map(|g| g.name()).collect::<Vec<_>>();
        assert_eq!(groups(&ours), groups(&ring));
        let (mine, theirs) = (
            &ours.signature_verification_algorithms,
            &ring.signature_verification_algorithms,
        );
        assert_eq!(ids(mine.all), ids(theirs.all));
        assert_eq!(mine.mapping.len(), theirs.mapping.len());
        for ((scheme, algs), (their_scheme, their_algs)) in mine.mapping.iter().zip(theirs.mapping)
        {
            assert_eq!(scheme, their_scheme);
            assert_eq!(ids(algs), ids(their_algs), "{scheme:?}");
        }
        let mut random = [0u8; 32];
        ours.secure_random.fill(&mut random).unwrap();
        assert_ne!(random, [0; 32]);
        let key = PrivateKeyDer::Pkcs8(Vec::new().into());
        assert!(ours.key_provider.load_private_key(key).is_err());
    }
}
