//! Checking a bundle of root certificates on its own, before it is given to
//! a client: a tool can then say which of its inputs is wrong.

use crate::error::Error;
use crate::http::parse_root_pem;

/// Checks a PEM bundle as
/// [`PublicClientBuilder::root_certificates_pem`](crate::PublicClientBuilder::root_certificates_pem)
/// does, without building a client; returns how many certificates it holds.
///
/// Fails with [`ErrorKind::Configuration`](crate::ErrorKind::Configuration)
/// when the bundle cannot be read, holds no certificate, or holds one that
/// cannot be a root: the error the builder's `build` would return.
///
/// ```
/// let error = devicecode::check_root_certificates_pem("no PEM here").unwrap_err();
/// assert_eq!(error.kind(), devicecode::ErrorKind::Configuration);
/// ```
pub fn check_root_certificates_pem(pem: impl AsRef<[u8]>) -> Result<usize, Error> {
    parse_root_pem(pem.as_ref()).map(|certificates| certificates.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn a_bundle_is_counted_or_refused_as_the_builder_would() {
        let auth = devicecode_test_authority::TestAuthority::start().unwrap();
        let root = auth.ca_pem();
        assert_eq!(check_root_certificates_pem(&root).unwrap(), 1);
        assert_eq!(check_root_certificates_pem(root.repeat(2)).unwrap(), 2);
        for bad in [
            "",
            "no PEM",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            let error = check_root_certificates_pem(bad).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Configuration, "{bad}");
            let built = crate::PublicClient::builder("c")
                .root_certificates_pem(bad)
                .build()
                .unwrap_err();
            assert_eq!(error.to_string(), built.to_string(), "{bad}");
        }
    }
}
