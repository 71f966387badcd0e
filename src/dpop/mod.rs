//! DPoP (RFC 9449): token requests that prove possession of a key, so that a
//! token file copied off a board is useless without the key.
//!
//! Off unless a client is built with a key
//! ([`PublicClientBuilder::dpop`](crate::PublicClientBuilder::dpop)); then
//! every token request (the polls, every refresh) carries a fresh proof, and
//! the server's nonces are kept, newest per server.

#[cfg(feature = "dpop")]
mod key;
#[cfg(not(feature = "dpop"))]
mod off;
#[cfg(feature = "dpop")]
mod proof;
mod resource;

#[cfg(feature = "dpop")]
pub(crate) use key::thumbprint;
#[cfg(feature = "dpop")]
pub use key::{DpopKey, DpopSigner};
#[cfg(not(feature = "dpop"))]
pub(crate) use off::Dpop;
#[cfg(feature = "dpop")]
pub(crate) use proof::{ProofClaims, make_proof};
pub use resource::ResourceHeaders;

use crate::error::Error;
#[cfg(feature = "dpop")]
use crate::error::ErrorKind;
use crate::http::{Http, Reply};
use crate::json::Object;
#[cfg(feature = "dpop")]
use crate::token::Token;
use log::debug;
#[cfg(feature = "dpop")]
use std::collections::HashMap;
#[cfg(feature = "dpop")]
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// The `token_type` of a DPoP-bound token.
#[cfg(feature = "dpop")]
pub(crate) const DPOP: &str = "DPoP";

/// A client's DPoP setting: its key, what it insists on, and the nonces
/// servers gave it.
#[cfg(feature = "dpop")]
pub(crate) struct Dpop {
    signer: Arc<dyn DpopSigner>,
    thumbprint: String,
    /// Refuse tokens the server did not bind (it ignored the proof).
    required: bool,
    /// The newest `DPoP-Nonce` of each server, by origin.
    nonces: Mutex<HashMap<String, String>>,
}

#[cfg(feature = "dpop")]
impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpop")
            .field("thumbprint", &self.thumbprint)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "dpop")]
impl Dpop {
    pub fn new(signer: Arc<dyn DpopSigner>, required: bool) -> Result<Self, Error> {
        let thumbprint = thumbprint(signer.as_ref())?;
        Ok(Dpop {
            signer,
            thumbprint,
            required,
            nonces: Mutex::new(HashMap::new()),
        })
    }

    /// The RFC 7638 thumbprint of the key.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A proof for `method` and `url` at `now`, with the newest nonce that
    /// server gave (and `ath` when an access token is presented).
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        now: SystemTime,
        access_token: Option<&str>,
    ) -> Result<String, Error> {
        let nonce = self.nonce(url);
        make_proof(
            self.signer.as_ref(),
            &ProofClaims {
                htm: method,
                htu: url,
                iat: now,
                nonce: nonce.as_deref(),
                access_token,
            },
        )
    }

    /// The newest nonce the server of `url` gave.
    pub fn nonce(&self, url: &str) -> Option<String> {
        let nonces = self.nonces.lock().unwrap_or_else(PoisonError::into_inner);
        nonces.get(origin(url)).cloned()
    }

    /// Keeps a nonce the server of `url` sent (any answer may carry one).
    pub fn remember_nonce(&self, url: &str, nonce: Option<&str>) {
        let Some(nonce) = nonce.map(str::trim).filter(|n| !n.is_empty()) else {
            return;
        };
        let mut nonces = self.nonces.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded: a client talks to an authority and a few resources.
        if nonces.len() >= 64 && !nonces.contains_key(origin(url)) {
            nonces.clear();
        }
        nonces.insert(origin(url).to_string(), nonce.to_string());
    }

    /// Checks the binding of a token answer and records it on the token: a
    /// server that ignored the proof answers `Bearer`, which is accepted
    /// (and stays Bearer) unless DPoP is required.
    pub fn accept(&self, token: &mut Token) -> Result<(), Error> {
        let token_type = token.token_type();
        if token_type.eq_ignore_ascii_case(DPOP) {
            token.bind_dpop(&self.thumbprint);
            return Ok(());
        }
        if !self.required {
            debug!("the server answered a {token_type} token: it ignores DPoP");
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InvalidResponse,
            format!(
                "the server issued a {token_type} token, not a DPoP-bound one, and DPoP is required; nothing was saved. Use a server that supports DPoP (RFC 9449), or stop requiring it"
            ),
        ))
    }
}

/// Posts a token request: with a fresh proof when DPoP is on, and once more
/// with the server's nonce when it answers `use_dpop_nonce` (RFC 9449
/// section 8). The retry goes at once on the same connection: it is the same
/// poll, not another one, so the polling interval is untouched.
pub(crate) fn post_token_request(
    http: &Http,
    dpop: Option<&Dpop>,
    url: &str,
    form: &[(&str, &str)],
    idle: Duration,
    now: &dyn Fn() -> SystemTime,
) -> Result<Reply, Error> {
    let Some(dpop) = dpop else {
        return http.post_form_after_idle(url, form, idle, None);
    };
    let sent = dpop.nonce(url);
    let proof = dpop.proof("POST", url, now(), None)?;
    let reply = http.post_form_after_idle(url, form, idle, Some(&proof))?;
    dpop.remember_nonce(url, reply.dpop_nonce.as_deref());
    let fresh = reply
        .dpop_nonce
        .as_deref()
        .is_some_and(|n| Some(n) != sent.as_deref());
    if !(fresh && asks_for_nonce(&reply)) {
        return Ok(reply);
    }
    debug!("{url} asked for a DPoP nonce; sending the request again with it");
    let proof = dpop.proof("POST", url, now(), None)?;
    let reply = http.post_form_after_idle(url, form, idle, Some(&proof))?;
    dpop.remember_nonce(url, reply.dpop_nonce.as_deref());
    Ok(reply)
}

/// Whether an answer is the `use_dpop_nonce` refusal.
fn asks_for_nonce(reply: &Reply) -> bool {
    (400..500).contains(&reply.status)
        && Object::parse(&reply.body, "token answer")
            .ok()
            .and_then(|answer| answer.str("error").ok().flatten().map(str::to_string))
            .is_some_and(|error| error == "use_dpop_nonce")
}

/// `scheme://host:port` of a URL: nonces are per server.
#[cfg(feature = "dpop")]
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i.saturating_add(3));
    let end = url
        .get(after_scheme..)
        .and_then(|rest| rest.find(['/', '?', '#']))
        .map_or(url.len(), |i| i.saturating_add(after_scheme));
    url.get(..end).unwrap_or(url)
}

#[cfg(all(test, feature = "dpop"))]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_kept_per_server_newest_wins() {
        let dpop = Dpop::new(Arc::new(DpopKey::generate().unwrap()), false).unwrap();
        assert_eq!(dpop.nonce("https://a.example/token"), None);
        dpop.remember_nonce("https://a.example/token", Some("1"));
        dpop.remember_nonce("https://a.example/other?x", Some("2"));
        dpop.remember_nonce("https://b.example:8443/api", Some("b"));
        dpop.remember_nonce("https://b.example:8443/api", Some(" "));
        assert_eq!(dpop.nonce("https://a.example/token").as_deref(), Some("2"));
        assert_eq!(dpop.nonce("https://b.example:8443").as_deref(), Some("b"));
        assert_eq!(dpop.nonce("https://b.example/api"), None);
        assert_eq!(origin("https://h:1/p?q#f"), "https://h:1");
        assert_eq!(origin("https://h"), "https://h");
    }

    fn answered(token_type: &str) -> Token {
        let json = format!(r#"{{"access_token":"at","token_type":"{token_type}"}}"#);
        let answer = Object::parse(json.as_bytes(), "token answer").unwrap();
        Token::from_answer(&answer, &[], "login.example", SystemTime::now()).unwrap()
    }

    #[test]
    fn bearer_answers_pass_unless_dpop_is_required() {
        let key: Arc<dyn DpopSigner> = Arc::new(DpopKey::generate().unwrap());
        let lenient = Dpop::new(key.clone(), false).unwrap();
        let mut bearer = answered("Bearer");
        assert!(lenient.accept(&mut bearer).is_ok());
        assert_eq!(
            bearer.dpop_thumbprint(),
            None,
            "a Bearer token stays unbound"
        );
        let mut bound = answered("DPoP");
        assert!(lenient.accept(&mut bound).is_ok());
        assert_eq!(bound.dpop_thumbprint(), Some(lenient.thumbprint()));
        let strict = Dpop::new(key, true).unwrap();
        assert!(strict.accept(&mut answered("dpop")).is_ok());
        let err = strict.accept(&mut answered("Bearer")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(err.to_string().contains("DPoP is required"), "{err}");
    }
}
