//! Where the device signs in: an Entra ID tenant, an issuer found by
//! discovery, or two explicit endpoints.

use crate::error::Error;
use std::net::IpAddr;
use ureq::http::Uri;

/// The public cloud's sign-in host.
const ENTRA_PUBLIC_CLOUD: &str = "https://login.microsoftonline.com";

/// The scopes MSAL adds to every Entra request: an id_token, the profile in
/// it, and a refresh token.
pub(crate) const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// The authorization server a [`PublicClient`](crate::PublicClient) signs in with.
///
/// ```
/// use devicecode::Authority;
///
/// // Entra ID, public cloud, by tenant domain (or GUID, "organizations", ...)
/// let a = Authority::entra("contoso.onmicrosoft.com")?;
/// assert_eq!(a.environment(), "login.microsoftonline.com");
/// // A sovereign cloud, given as a full authority URL
/// let b = Authority::entra_url("https://login.microsoftonline.us/contoso.com")?;
/// assert_eq!(b.tenant(), Some("contoso.com"));
/// // Any OpenID Connect / RFC 8414 server, by discovery
/// let c = Authority::issuer("https://accounts.example.com")?;
/// // Or explicit endpoints, with no discovery request at all
/// let d = Authority::endpoints("https://auth.example.com/device", "https://auth.example.com/token")?;
/// # Ok::<(), devicecode::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Endpoints are built from the tenant: no discovery round trip.
    Entra {
        origin: String,
        host: String,
        tenant: String,
    },
    Issuer {
        issuer: String,
        host: String,
    },
    Endpoints {
        endpoints: Endpoints,
        host: String,
    },
}

/// The two endpoints the device flow needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoints {
    pub device_authorization: String,
    pub token: String,
}

impl Authority {
    /// An Entra ID tenant on the public cloud (`login.microsoftonline.com`).
    ///
    /// `tenant` is a tenant GUID, a verified domain, `organizations`, `common`
    /// or `consumers`. The device code flow needs a tenant for most apps
    /// (AADSTS50059, AADSTS90133 otherwise): prefer the GUID or the domain.
    pub fn entra(tenant: &str) -> Result<Self, Error> {
        Self::entra_at(ENTRA_PUBLIC_CLOUD, tenant)
    }

    /// An Entra ID tenant on another host: a sovereign cloud such as
    /// `https://login.microsoftonline.us`, or a loopback test authority.
    pub fn entra_at(host_url: &str, tenant: &str) -> Result<Self, Error> {
        let (origin, host) = parse_origin(host_url)?;
        let tenant = validate_tenant(tenant)?;
        Ok(Authority {
            kind: Kind::Entra {
                origin,
                host,
                tenant,
            },
        })
    }

    /// An Entra-style authority URL, `https://host[:port]/<tenant>`, as MSAL
    /// takes it (e.g. `https://login.microsoftonline.com/contoso.com`).
    pub fn entra_url(url: &str) -> Result<Self, Error> {
        let uri = parse_url(url, "authority")?;
        if uri.query().is_some() {
            return Err(Error::config(format!(
                "the authority URL '{url}' must not have a query: give https://host/<tenant>"
            )));
        }
        let mut segments = uri.path().split('/').filter(|s| !s.is_empty());
        let tenant = match (segments.next(), segments.next()) {
            (Some(tenant), None) => tenant,
            _ => {
                return Err(Error::config(format!(
                    "the authority URL '{url}' must be https://host/<tenant>, with the tenant GUID, a domain, 'organizations', 'common' or 'consumers' as its only path segment"
                )));
            }
        };
        let origin = origin_of(&uri);
        Self::entra_at(&origin, tenant)
    }

    /// Any OpenID Connect or RFC 8414 server: the endpoints are read from its
    /// discovery document once, on first use.
    pub fn issuer(url: &str) -> Result<Self, Error> {
        let uri = parse_url(url, "issuer")?;
        if uri.query().is_some() {
            return Err(Error::config(format!(
                "the issuer URL '{url}' must not have a query"
            )));
        }
        let host = host_of(&uri);
        Ok(Authority {
            kind: Kind::Issuer {
                issuer: url.trim_end_matches('/').to_string(),
                host,
            },
        })
    }

    /// Explicit device authorization and token endpoints: no discovery.
    pub fn endpoints(device_authorization: &str, token: &str) -> Result<Self, Error> {
        let uri = parse_url(device_authorization, "device authorization endpoint")?;
        parse_url(token, "token endpoint")?;
        Ok(Authority {
            kind: Kind::Endpoints {
                endpoints: Endpoints {
                    device_authorization: device_authorization.to_string(),
                    token: token.to_string(),
                },
                host: host_of(&uri),
            },
        })
    }

    /// Whether this is an Entra ID (Microsoft identity platform) authority.
    pub fn is_entra(&self) -> bool {
        matches!(self.kind, Kind::Entra { .. })
    }

    /// The lower-cased host that issues the tokens (MSAL's `environment`).
    pub fn environment(&self) -> &str {
        match &self.kind {
            Kind::Entra { host, .. } | Kind::Issuer { host, .. } | Kind::Endpoints { host, .. } => {
                host
            }
        }
    }

    /// The Entra tenant segment, as given.
    pub fn tenant(&self) -> Option<&str> {
        match &self.kind {
            Kind::Entra { tenant, .. } => Some(tenant),
            _ => None,
        }
    }

    /// The endpoints, when they are known without discovery.
    pub(crate) fn known_endpoints(&self) -> Option<Endpoints> {
        match &self.kind {
            Kind::Entra { origin, tenant, .. } => Some(Endpoints {
                device_authorization: format!("{origin}/{tenant}/oauth2/v2.0/devicecode"),
                token: format!("{origin}/{tenant}/oauth2/v2.0/token"),
            }),
            Kind::Endpoints { endpoints, .. } => Some(endpoints.clone()),
            Kind::Issuer { .. } => None,
        }
    }

    /// The discovery documents to try, in order, and the issuer they must name.
    pub(crate) fn discovery_urls(&self) -> Option<(&str, Vec<String>)> {
        let Kind::Issuer { issuer, .. } = &self.kind else {
            return None;
        };
        let openid = format!("{issuer}/.well-known/openid-configuration");
        // RFC 8414 puts the well-known segment between the host and the path.
        let uri: Option<Uri> = issuer.parse().ok();
        let rfc8414 = uri.map(|uri| {
            let path = uri.path().trim_end_matches('/');
            format!(
                "{}/.well-known/oauth-authorization-server{path}",
                origin_of(&uri)
            )
        });
        Some((issuer, std::iter::once(openid).chain(rfc8414).collect()))
    }
}

/// Checks a URL from configuration or from a discovery document: `https`, or
/// `http` to a loopback host only (a test authority on the same machine).
pub(crate) fn check_endpoint_url(url: &str, what: &str) -> Result<(), Error> {
    parse_url(url, what).map(|_| ())
}

fn parse_url(url: &str, what: &str) -> Result<Uri, Error> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::config(format!("the {what} '{url}' is not a valid URL: {e}")))?;
    let host = match uri.host() {
        Some(host) if !host.is_empty() => host,
        _ => return Err(Error::config(format!("the {what} '{url}' has no host"))),
    };
    if url.contains('#') {
        return Err(Error::config(format!(
            "the {what} '{url}' must not have a fragment"
        )));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(Error::config(format!(
            "the {what} '{url}' must not carry a user name or password"
        )));
    }
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if is_loopback(host) => Ok(uri),
        Some("http") => Err(Error::config(format!(
            "the {what} '{url}' uses http://, which would send codes and tokens in clear text: use https:// (http:// is accepted only for loopback test servers)"
        ))),
        _ => Err(Error::config(format!(
            "the {what} '{url}' must start with https://"
        ))),
    }
}

fn parse_origin(url: &str) -> Result<(String, String), Error> {
    let uri = parse_url(url, "authority host")?;
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(Error::config(format!(
            "the authority host '{url}' must be only scheme, host and port, such as https://login.microsoftonline.us"
        )));
    }
    Ok((origin_of(&uri), host_of(&uri)))
}

fn origin_of(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    format!("{scheme}://{}", authority.to_ascii_lowercase())
}

fn host_of(uri: &Uri) -> String {
    uri.host().unwrap_or("").to_ascii_lowercase()
}

/// Loopback hosts: 127.0.0.0/8, ::1 and `localhost`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn validate_tenant(tenant: &str) -> Result<String, Error> {
    let tenant = tenant.trim();
    let valid = !tenant.is_empty()
        && tenant.len() <= 256
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if valid {
        Ok(tenant.to_string())
    } else {
        Err(Error::config(format!(
            "'{tenant}' is not a tenant: give the tenant GUID, a verified domain (contoso.onmicrosoft.com), 'organizations', 'common' or 'consumers'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn entra_endpoints_are_built_without_discovery() {
        for tenant in [
            "contoso.onmicrosoft.com",
            "organizations",
            "common",
            "consumers",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
        ] {
            let endpoints = Authority::entra(tenant).unwrap().known_endpoints().unwrap();
            assert_eq!(
                endpoints.device_authorization,
                format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode")
            );
            assert_eq!(
                endpoints.token,
                format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
            );
        }
    }

    #[test]
    fn sovereign_and_loopback_hosts() {
        let us = Authority::entra_url("https://Login.MicrosoftOnline.US/contoso.com/").unwrap();
        assert_eq!(us.environment(), "login.microsoftonline.us");
        assert_eq!(
            us.known_endpoints().unwrap().token,
            "https://login.microsoftonline.us/contoso.com/oauth2/v2.0/token"
        );
        let local = Authority::entra_at("http://127.0.0.1:8443", "organizations").unwrap();
        assert_eq!(
            local.known_endpoints().unwrap().device_authorization,
            "http://127.0.0.1:8443/organizations/oauth2/v2.0/devicecode"
        );
        assert!(Authority::entra_at("http://[::1]:80", "common").is_ok());
        assert!(Authority::entra_at("http://localhost:80", "common").is_ok());
    }

    #[test]
    fn clear_text_only_on_loopback() {
        for url in [
            "http://login.microsoftonline.com",
            "http://10.0.0.1",
            "http://128.0.0.1",
            "ftp://127.0.0.1",
        ] {
            let err = Authority::entra_at(url, "common").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Configuration, "{url}");
        }
        assert!(Authority::issuer("http://example.com").is_err());
        assert!(Authority::endpoints("https://a.example/d", "http://a.example/t").is_err());
    }

    #[test]
    fn bad_tenants_and_urls_are_configuration_errors() {
        for tenant in ["", "a/b", "con toso", "x?y"] {
            assert_eq!(
                Authority::entra(tenant).unwrap_err().kind(),
                ErrorKind::Configuration,
                "{tenant:?}"
            );
        }
        for url in [
            "https://login.microsoftonline.com",
            "https://h/a/b",
            "not a url",
            "https://user:pw@h/t",
            "https://h/t#frag",
        ] {
            assert!(Authority::entra_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn discovery_urls_for_an_issuer() {
        let a = Authority::issuer("https://auth.example.com/realms/dev/").unwrap();
        let (issuer, urls) = a.discovery_urls().unwrap();
        assert_eq!(issuer, "https://auth.example.com/realms/dev");
        assert_eq!(
            urls,
            [
                "https://auth.example.com/realms/dev/.well-known/openid-configuration",
                "https://auth.example.com/.well-known/oauth-authorization-server/realms/dev",
            ]
        );
        assert!(a.known_endpoints().is_none());
    }
}
