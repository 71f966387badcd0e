//! The headers of a request to a resource (an API) with a token: `Bearer`
//! as before, or `DPoP` with a proof for that request (RFC 9449 section 7).

use crate::secret::AuthorizationHeader;
use std::fmt;

/// What to send to a resource with a token, from
/// [`PublicClient::resource_headers`](crate::PublicClient::resource_headers).
///
/// Its `Debug` shows neither the token nor the proof.
#[derive(Clone)]
pub struct ResourceHeaders {
    pub(crate) authorization: AuthorizationHeader,
    pub(crate) dpop: Option<String>,
}

impl fmt::Debug for ResourceHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceHeaders")
            .field("authorization", &self.authorization)
            .field("dpop", &self.dpop.as_ref().map(|_| "[proof]"))
            .finish()
    }
}

impl ResourceHeaders {
    /// The `Authorization` header's value: `DPoP <token>` for a bound token,
    /// `Bearer <token>` otherwise.
    pub fn authorization(&self) -> &AuthorizationHeader {
        &self.authorization
    }

    /// The `DPoP` header's value (a proof for this method and URL, good
    /// once), or `None` for a Bearer token.
    pub fn dpop(&self) -> Option<&str> {
        self.dpop.as_deref()
    }

    /// The headers as `Name: value` lines (HTTP/1.1 field lines, without
    /// line ends), `Authorization` first. They hold the token: never log them.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("Authorization: {}", self.authorization.secret())];
        if let Some(proof) = &self.dpop {
            lines.push(format!("DPoP: {proof}"));
        }
        lines
    }
}
