//! DPoP proofs (RFC 9449 section 4.2): a JWT signed by the proof key, made
//! fresh for every request.

use super::key::{DpopSigner, SIGNATURE_LEN, public_jwk};
use crate::error::Error;
use crate::json::base64url_encode;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// What one proof says.
pub(crate) struct ProofClaims<'a> {
    /// The HTTP method, upper case.
    pub htm: &'a str,
    /// The target URL; its query and fragment are left out here.
    pub htu: &'a str,
    /// The wall-clock time of the request.
    pub iat: SystemTime,
    /// The server's newest `DPoP-Nonce`, when it sent one.
    pub nonce: Option<&'a str>,
    /// The access token presented with the proof (to a resource).
    pub access_token: Option<&'a str>,
}

/// The `htu` of a URL: without its query and fragment (RFC 9449 section 4.2).
pub(crate) fn htu(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url.get(..end).unwrap_or(url)
}

/// base64url SHA-256 of an access token: the `ath` claim.
pub(crate) fn ath(access_token: &str) -> String {
    base64url_encode(ring::digest::digest(
        &ring::digest::SHA256,
        access_token.as_bytes(),
    ))
}

/// A signed proof, ready for the `DPoP` header.
pub(crate) fn make_proof(
    signer: &dyn DpopSigner,
    claims: &ProofClaims<'_>,
) -> Result<String, Error> {
    let jwk = public_jwk(&signer.public_key())?;
    let header = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk}}}"#);
    let mut body = Map::new();
    body.insert("jti".into(), Value::String(jti()?));
    body.insert("htm".into(), Value::String(claims.htm.to_string()));
    body.insert("htu".into(), Value::String(htu(claims.htu).to_string()));
    let iat = claims
        .iat
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    body.insert("iat".into(), Value::from(iat));
    if let Some(nonce) = claims.nonce {
        body.insert("nonce".into(), Value::String(nonce.to_string()));
    }
    if let Some(token) = claims.access_token {
        body.insert("ath".into(), Value::String(ath(token)));
    }
    let signing_input = format!(
        "{}.{}",
        base64url_encode(header),
        base64url_encode(Value::Object(body).to_string())
    );
    let signature = signer.sign(signing_input.as_bytes()).map_err(|e| {
        Error::config(
            "the DPoP signer could not sign a proof; check the key store (TPM, secure element)",
        )
        .with_source(SignerError(e.to_string()))
    })?;
    if signature.len() != SIGNATURE_LEN {
        return Err(Error::config(format!(
            "the DPoP signer returned a {}-byte signature; ES256 proofs need the 64-byte fixed form r || s, not DER",
            signature.len()
        )));
    }
    Ok(format!("{signing_input}.{}", base64url_encode(signature)))
}

/// A unique proof id: 128 random bits.
fn jti() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).map_err(|_| {
        Error::config("no DPoP proof id could be made: the system's random number generator failed")
    })?;
    Ok(base64url_encode(bytes))
}

/// What a signer said, carried as an error source.
#[derive(Debug)]
struct SignerError(String);

impl std::fmt::Display for SignerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SignerError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpop::key::DpopKey;
    use crate::json::base64url_decode;

    fn part(jwt: &str, n: usize) -> Value {
        let text = jwt.split('.').nth(n).unwrap();
        serde_json::from_slice(&base64url_decode(text).unwrap()).unwrap()
    }

    #[test]
    fn a_proof_has_every_claim_and_verifies() {
        let key = DpopKey::generate().unwrap();
        let at = UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let claims = ProofClaims {
            htm: "POST",
            htu: "https://login.example/token?x=1#f",
            iat: at,
            nonce: Some("n-1"),
            access_token: Some("at-1"),
        };
        let proof = make_proof(&key, &claims).unwrap();
        let header = part(&proof, 0);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"]["kty"], "EC");
        assert!(
            header["jwk"].get("d").is_none(),
            "the private key stays home"
        );
        let body = part(&proof, 1);
        assert_eq!(body["htm"], "POST");
        assert_eq!(body["htu"], "https://login.example/token");
        assert_eq!(body["iat"], 1_800_000_000u64);
        assert_eq!(body["nonce"], "n-1");
        assert_eq!(body["ath"], ath("at-1"));
        let again = make_proof(&key, &claims).unwrap();
        assert_ne!(part(&again, 1)["jti"], body["jti"], "every proof is unique");
        let (input, signature) = proof.rsplit_once('.').unwrap();
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            key.public_key(),
        );
        assert!(
            public
                .verify(input.as_bytes(), &base64url_decode(signature).unwrap())
                .is_ok()
        );
        let plain = ProofClaims {
            nonce: None,
            access_token: None,
            ..claims
        };
        let body = part(&make_proof(&key, &plain).unwrap(), 1);
        assert!(body.get("nonce").is_none() && body.get("ath").is_none());
    }

    struct BadSigner;
    impl DpopSigner for BadSigner {
        fn public_key(&self) -> Vec<u8> {
            let mut key = vec![4u8];
            key.extend([7u8; 64]);
            key
        }
        fn sign(&self, _: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
            Ok(vec![0; 72])
        }
    }

    #[test]
    fn a_der_signature_is_refused_with_advice() {
        let claims = ProofClaims {
            htm: "POST",
            htu: "https://a.example/t",
            iat: UNIX_EPOCH,
            nonce: None,
            access_token: None,
        };
        let err = make_proof(&BadSigner, &claims).unwrap_err();
        assert!(err.to_string().contains("not DER"), "{err}");
        assert_eq!(htu("https://a/b#c?d"), "https://a/b");
    }
}
