//! Without the `dpop` feature: a client never has a DPoP key, so the type
//! that would hold one has no values, and code that uses it compiles to
//! nothing.

use crate::error::Error;
use crate::token::Token;
use std::time::SystemTime;

/// No DPoP: no value of this type exists.
#[derive(Debug)]
pub(crate) enum Dpop {}

impl Dpop {
    pub fn thumbprint(&self) -> &str {
        match *self {}
    }

    pub fn proof(
        &self,
        _method: &str,
        _url: &str,
        _now: SystemTime,
        _access_token: Option<&str>,
    ) -> Result<String, Error> {
        match *self {}
    }

    pub fn nonce(&self, _url: &str) -> Option<String> {
        match *self {}
    }

    pub fn remember_nonce(&self, _url: &str, _nonce: Option<&str>) {
        match *self {}
    }

    pub fn accept(&self, _token: &mut Token) -> Result<(), Error> {
        match *self {}
    }
}
