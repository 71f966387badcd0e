//! DPoP (RFC 9449) as a strict server checks it: the proof's signature,
//! header, method and URL, age, uniqueness, nonce and (at a resource) the
//! access token hash; and refresh tokens bound to the key's thumbprint.

use crate::oauth::OAuthError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::Value;
use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

/// How the authority treats DPoP; give it to
/// [`TestAuthorityBuilder::dpop`](crate::TestAuthorityBuilder::dpop).
/// Without one, the `DPoP` header is ignored and every token is `Bearer`
/// (as Entra ID does for public clients).
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct DpopPolicy {
    /// Refuse token requests that carry no proof (`invalid_dpop_proof`).
    pub required: bool,
    /// Demand the authority's nonce in every proof (`use_dpop_nonce` with a
    /// `DPoP-Nonce` header until the client sends it).
    pub nonce: bool,
    /// How far a proof's `iat` may be from the authority's clock, seconds.
    pub iat_window: u64,
}

impl Default for DpopPolicy {
    fn default() -> Self {
        DpopPolicy {
            required: false,
            nonce: false,
            iat_window: 60,
        }
    }
}

impl DpopPolicy {
    /// Proofs checked when sent, tokens bound when a proof came.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`required`](Self::required).
    pub fn required(mut self, on: bool) -> Self {
        self.required = on;
        self
    }

    /// Sets [`nonce`](Self::nonce).
    pub fn nonce(mut self, on: bool) -> Self {
        self.nonce = on;
        self
    }

    /// Sets [`iat_window`](Self::iat_window).
    pub fn iat_window(mut self, seconds: u64) -> Self {
        self.iat_window = seconds;
        self
    }
}

/// What the authority remembers about proofs.
#[derive(Debug, Default)]
pub(crate) struct DpopState {
    /// Every `jti` seen: a proof is good once.
    pub(crate) seen: HashSet<String>,
    /// The nonce proofs must carry now.
    pub(crate) nonce: String,
}

/// What one request must prove.
pub(crate) struct Expected<'a> {
    pub(crate) method: &'a str,
    /// The request's URL, without query.
    pub(crate) url: &'a str,
    pub(crate) now: SystemTime,
    /// At a resource: the access token presented with the proof.
    pub(crate) access_token: Option<&'a str>,
}

fn invalid(description: impl Into<String>) -> OAuthError {
    OAuthError::plain("invalid_dpop_proof", description)
}

/// Checks a `DPoP` header value; returns the RFC 7638 thumbprint of its key.
pub(crate) fn verify(
    policy: &DpopPolicy,
    state: &mut DpopState,
    proof: &str,
    expected: &Expected<'_>,
) -> Result<String, OAuthError> {
    let mut parts = proof.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("The DPoP proof is not a JWS in compact form."));
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let json = |part: &str| -> Option<Value> { serde_json::from_slice(&decode(part)?).ok() };
    let (Some(header), Some(claims), Some(signature)) = (json(h), json(c), decode(s)) else {
        return Err(invalid("The DPoP proof is not base64url JSON."));
    };
    if header["typ"] != "dpop+jwt" {
        return Err(invalid("The DPoP proof's typ is not dpop+jwt."));
    }
    if header["alg"] != "ES256" {
        return Err(invalid("The DPoP proof's alg is not ES256."));
    }
    let jwk = &header["jwk"];
    if jwk.get("d").is_some() {
        return Err(invalid("The DPoP proof's jwk holds a private key."));
    }
    let coordinate = |name: &str| {
        jwk[name]
            .as_str()
            .and_then(decode)
            .filter(|v| v.len() == 32)
    };
    let (Some(x), Some(y)) = (coordinate("x"), coordinate("y")) else {
        return Err(invalid("The DPoP proof's jwk is not a P-256 public key."));
    };
    if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
        return Err(invalid("The DPoP proof's jwk is not a P-256 public key."));
    }
    let mut public = vec![4u8];
    public.extend_from_slice(&x);
    public.extend_from_slice(&y);
    let signed = format!("{h}.{c}");
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| invalid("The DPoP proof's signature does not verify."))?;
    if claims["htm"] != expected.method {
        return Err(invalid(
            "The DPoP proof's htm is not this request's method.",
        ));
    }
    if claims["htu"] != expected.url {
        return Err(invalid("The DPoP proof's htu is not this request's URL."));
    }
    let now = expected
        .now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let Some(iat) = claims["iat"].as_u64() else {
        return Err(invalid("The DPoP proof has no iat."));
    };
    if iat.abs_diff(now) > policy.iat_window {
        return Err(invalid(
            "The DPoP proof's iat is outside the accepted window.",
        ));
    }
    let Some(jti) = claims["jti"].as_str().filter(|j| !j.is_empty()) else {
        return Err(invalid("The DPoP proof has no jti."));
    };
    match expected.access_token {
        Some(token) => {
            let ath = URL_SAFE_NO_PAD.encode(ring::digest::digest(
                &ring::digest::SHA256,
                token.as_bytes(),
            ));
            if claims["ath"] != ath.as_str() {
                return Err(invalid(
                    "The DPoP proof's ath is not the hash of the access token.",
                ));
            }
        }
        None if claims.get("ath").is_some() => {
            return Err(invalid("A DPoP proof for a token request carries no ath."));
        }
        None => {}
    }
    if policy.nonce && claims["nonce"] != state.nonce.as_str() {
        return Err(OAuthError::plain(
            "use_dpop_nonce",
            "Authorization server requires nonce in DPoP proof.",
        ));
    }
    // Checked last: a proof refused for its nonce may come again, fixed.
    if !state.seen.insert(jti.to_string()) {
        return Err(invalid("The DPoP proof's jti was used before (a replay)."));
    }
    let jwk = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(&x),
        URL_SAFE_NO_PAD.encode(&y)
    );
    Ok(URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, jwk.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;
    use std::time::Duration;

    const URL: &str = "https://127.0.0.1:1/token";

    /// Spoils a proof's header or claims.
    type Flaw = Box<dyn Fn(&mut Value, &mut Value)>;

    fn new_key() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    fn jwk(key: &EcdsaKeyPair) -> Value {
        let public = key.public_key().as_ref();
        json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&public[33..]),
        })
    }

    fn sign(key: &EcdsaKeyPair, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn good(key: &EcdsaKeyPair, jti: &str) -> (Value, Value) {
        (
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk(key)}),
            json!({"jti": jti, "htm": "POST", "htu": URL, "iat": 1_800_000_000u64}),
        )
    }

    fn check(
        state: &mut DpopState,
        policy: &DpopPolicy,
        proof: &str,
        token: Option<&str>,
    ) -> Result<String, String> {
        let expected = Expected {
            method: "POST",
            url: URL,
            now: now(),
            access_token: token,
        };
        verify(policy, state, proof, &expected)
            .map_err(|e| format!("{} {}", e.error, e.description))
    }

    #[test]
    fn a_good_proof_gives_the_thumbprint_once() {
        let key = new_key();
        let (header, claims) = good(&key, "a");
        let proof = sign(&key, &header, &claims);
        let mut state = DpopState::default();
        let policy = DpopPolicy::new();
        let jkt = check(&mut state, &policy, &proof, None).unwrap();
        // RFC 7638: SHA-256 of the sorted required members.
        let public = key.public_key().as_ref();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(&public[1..33]),
            URL_SAFE_NO_PAD.encode(&public[33..])
        );
        let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
        assert_eq!(jkt, URL_SAFE_NO_PAD.encode(digest));
        let replay = check(&mut state, &policy, &proof, None).unwrap_err();
        assert!(replay.contains("replay"), "{replay}");
    }

    #[test]
    fn each_flaw_is_refused() {
        let key = new_key();
        let other = new_key();
        let policy = DpopPolicy::new();
        let flaws: Vec<(&str, Flaw)> = vec![
            ("typ", Box::new(|h, _| h["typ"] = json!("JWT"))),
            ("alg", Box::new(|h, _| h["alg"] = json!("RS256"))),
            (
                "private key",
                Box::new(|h, _| h["jwk"]["d"] = json!("AAAA")),
            ),
            ("P-256", Box::new(|h, _| h["jwk"]["crv"] = json!("P-384"))),
            ("signature", Box::new(move |h, _| h["jwk"] = jwk(&other))),
            ("htm", Box::new(|_, c| c["htm"] = json!("GET"))),
            (
                "htu",
                Box::new(|_, c| c["htu"] = json!("https://127.0.0.1:1/other")),
            ),
            ("iat", Box::new(|_, c| c["iat"] = json!(1_800_000_061u64))),
            ("iat", Box::new(|_, c| c["iat"] = json!(1_799_999_900u64))),
            ("no jti", Box::new(|_, c| c["jti"] = json!(""))),
            ("no ath", Box::new(|_, c| c["ath"] = json!("x"))),
        ];
        for (n, (what, flaw)) in flaws.iter().enumerate() {
            let (mut header, mut claims) = good(&key, &format!("jti-{n}"));
            flaw(&mut header, &mut claims);
            let proof = sign(&key, &header, &claims);
            let err = check(&mut DpopState::default(), &policy, &proof, None).unwrap_err();
            assert!(err.starts_with("invalid_dpop_proof"), "{what}: {err}");
            assert!(err.contains(what), "{what}: {err}");
        }
        let err = check(&mut DpopState::default(), &policy, "a.b", None).unwrap_err();
        assert!(err.contains("compact"), "{err}");
        // Inside the window either way: accepted.
        let (header, mut claims) = good(&key, "late");
        claims["iat"] = json!(1_800_000_059u64);
        assert!(
            check(
                &mut DpopState::default(),
                &policy,
                &sign(&key, &header, &claims),
                None
            )
            .is_ok()
        );
    }

    #[test]
    fn resources_check_the_token_hash() {
        let key = new_key();
        let policy = DpopPolicy::new();
        let (header, mut claims) = good(&key, "r");
        let ath = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, b"at-1"));
        claims["ath"] = json!(ath);
        let proof = sign(&key, &header, &claims);
        let err = check(&mut DpopState::default(), &policy, &proof, Some("at-2")).unwrap_err();
        assert!(err.contains("ath"), "{err}");
        assert!(check(&mut DpopState::default(), &policy, &proof, Some("at-1")).is_ok());
    }

    #[test]
    fn a_demanded_nonce_must_be_the_current_one() {
        let key = new_key();
        let policy = DpopPolicy::new().nonce(true);
        let mut state = DpopState {
            nonce: "n-2".into(),
            ..DpopState::default()
        };
        let (header, mut claims) = good(&key, "n");
        let err = check(&mut state, &policy, &sign(&key, &header, &claims), None).unwrap_err();
        assert!(err.starts_with("use_dpop_nonce"), "{err}");
        claims["nonce"] = json!("n-1");
        let err = check(&mut state, &policy, &sign(&key, &header, &claims), None).unwrap_err();
        assert!(err.starts_with("use_dpop_nonce"), "{err}");
        // The same jti, fixed: a refusal for the nonce does not spend it.
        claims["nonce"] = json!("n-2");
        assert!(check(&mut state, &policy, &sign(&key, &header, &claims), None).is_ok());
    }
}
