//! What this client sends to an authorization server: the one place its
//! request forms and scope lists are made, so the device code request, the
//! polls and the refreshes agree on what Entra needs and plain servers do not
//! get.

use crate::authority::OIDC_SCOPES;

/// The grant type of a device code poll (RFC 8628 section 3.4).
pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The grant type of a refresh (RFC 6749 section 6).
pub(crate) const REFRESH_TOKEN_GRANT: &str = "refresh_token";

/// A form body, borrowed from what it carries (secrets are not copied).
pub(crate) type Form<'a> = Vec<(&'static str, &'a str)>;

/// The requests of one application at one authority.
#[derive(Debug, Clone)]
pub(crate) struct Requests {
    client_id: String,
    /// Entra: MSAL's OpenID scopes are added and `client_info` is asked for.
    entra: bool,
}

impl Requests {
    pub fn new(client_id: &str, entra: bool) -> Self {
        Requests {
            client_id: client_id.to_string(),
            entra,
        }
    }

    /// The scopes to send for what the caller asked: Entra gets MSAL's
    /// OpenID scopes added (an id_token, its profile, a refresh token); other
    /// servers get exactly what was asked (many reject unknown scopes).
    pub fn scopes(&self, asked: &[&str]) -> Vec<String> {
        let extra: &[&str] = if self.entra { &OIDC_SCOPES } else { &[] };
        scope_list(asked, extra)
    }

    /// Step 1 (RFC 8628 section 3.1).
    pub fn device_code<'a>(&'a self, scope: &'a str) -> Form<'a> {
        let mut form = vec![("client_id", self.client_id.as_str())];
        if !scope.is_empty() {
            form.push(("scope", scope));
        }
        form
    }

    /// A poll with the device code (RFC 8628 section 3.4).
    pub fn poll<'a>(&'a self, device_code: &'a str) -> Form<'a> {
        let mut form = vec![
            ("grant_type", DEVICE_CODE_GRANT),
            ("device_code", device_code),
            ("client_id", self.client_id.as_str()),
        ];
        self.add_client_info(&mut form);
        form
    }

    /// A refresh (RFC 6749 section 6); `scope` from [`refresh_scopes`](Self::refresh_scopes).
    pub fn refresh<'a>(&'a self, refresh_token: &'a str, scope: &'a str) -> Form<'a> {
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("grant_type", REFRESH_TOKEN_GRANT),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ];
        self.add_client_info(&mut form);
        form
    }

    /// The scopes a refresh asks for, sorted as MSAL sends them.
    pub fn refresh_scopes(&self, scopes: &[String]) -> Vec<String> {
        let named: Vec<&str> = scopes.iter().map(String::as_str).collect();
        let mut asked = self.scopes(&named);
        asked.sort_unstable();
        asked
    }

    /// Entra sends `client_info` (the account's home ids) when asked.
    fn add_client_info(&self, form: &mut Form<'_>) {
        if self.entra {
            form.push(("client_info", "1"));
        }
    }
}

/// `scopes` (each may hold several, space-separated) and `extra`, without
/// duplicates (compared case-insensitively), in order.
pub(crate) fn scope_list(scopes: &[&str], extra: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for scope in scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .chain(extra.iter().copied())
    {
        if !out.iter().any(|have| have.eq_ignore_ascii_case(scope)) {
            out.push(scope.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_gets_openid_scopes_and_client_info_plain_servers_do_not() {
        let entra = Requests::new("app", true);
        assert_eq!(
            entra.scopes(&["User.Read", "openid"]),
            ["User.Read", "openid", "profile", "offline_access"]
        );
        assert!(entra.poll("code").contains(&("client_info", "1")));
        let plain = Requests::new("app", false);
        assert_eq!(plain.scopes(&["read write"]), ["read", "write"]);
        assert!(
            !plain
                .refresh("rt", "read")
                .iter()
                .any(|(k, _)| *k == "client_info")
        );
        assert_eq!(
            entra.refresh_scopes(&["User.Read".to_string()]),
            ["User.Read", "offline_access", "openid", "profile"]
        );
        assert_eq!(plain.device_code(""), [("client_id", "app")]);
    }
}
