//! What this client sends to an authorization server: the one place its
//! request forms and scope lists are made, so the device code request, the
//! polls and the refreshes agree on what Entra needs and plain servers do not
//! get.

use crate::authority::OIDC_SCOPES;
use crate::claims::decode_claims;
use crate::error::Error;
use serde_json::{Map, Value};

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
    /// Client capabilities (`CP1`: this client handles claims challenges,
    /// so Entra may issue it long-lived CAE tokens).
    capabilities: Vec<String>,
}

impl Requests {
    pub fn new(client_id: &str, entra: bool, capabilities: Vec<String>) -> Self {
        Requests {
            client_id: client_id.to_string(),
            entra,
            capabilities,
        }
    }

    /// The `claims` parameter of every token request: the client
    /// capabilities as `{"access_token":{"xms_cc":{"values":[...]}}}`, merged
    /// into a resource's claims challenge (a JSON object) as MSAL Python
    /// merges them: the challenge's `access_token` object gains `xms_cc`, and
    /// everything else in it is sent as the resource asked. `None` when there
    /// is neither.
    pub fn claims(&self, challenge: Option<&str>) -> Result<Option<String>, Error> {
        let mut claims = match challenge.map(str::trim).filter(|c| !c.is_empty()) {
            None => Map::new(),
            // The JSON, or the base64 the resource's header carries.
            Some(text) => match decode_claims(text).map(|json| serde_json::from_str(&json)) {
                Some(Ok(Value::Object(map))) => map,
                _ => {
                    return Err(Error::config(
                        "the claims challenge is neither a JSON object nor base64 of one; pass the `claims` of the resource's WWW-Authenticate header (see claims_challenge_from_www_authenticate)",
                    ));
                }
            },
        };
        if !self.capabilities.is_empty() {
            let slot = claims
                .entry("access_token")
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(access_token) = slot {
                let values = self
                    .capabilities
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect();
                let mut xms_cc = Map::new();
                xms_cc.insert("values".to_string(), Value::Array(values));
                access_token.insert("xms_cc".to_string(), Value::Object(xms_cc));
            }
        }
        if claims.is_empty() {
            return Ok(None);
        }
        Ok(Some(Value::Object(claims).to_string()))
    }

    /// The scopes to send for what the caller asked: Entra gets MSAL's
    /// OpenID scopes added (an id_token, its profile, a refresh token); other
    /// servers get exactly what was asked (many reject unknown scopes).
    pub fn scopes(&self, asked: &[&str]) -> Vec<String> {
        let extra: &[&str] = if self.entra { &OIDC_SCOPES } else { &[] };
        scope_list(asked, extra)
    }

    /// Step 1 (RFC 8628 section 3.1); `claims` from [`claims`](Self::claims)
    /// (MSAL sends them when it starts a device flow).
    pub fn device_code<'a>(&'a self, scope: &'a str, claims: Option<&'a str>) -> Form<'a> {
        let mut form = vec![("client_id", self.client_id.as_str())];
        if !scope.is_empty() {
            form.push(("scope", scope));
        }
        add_claims(&mut form, claims);
        form
    }

    /// A poll with the device code (RFC 8628 section 3.4).
    pub fn poll<'a>(&'a self, device_code: &'a str, claims: Option<&'a str>) -> Form<'a> {
        let mut form = vec![
            ("grant_type", DEVICE_CODE_GRANT),
            ("device_code", device_code),
            ("client_id", self.client_id.as_str()),
        ];
        self.add_client_info(&mut form);
        add_claims(&mut form, claims);
        form
    }

    /// A refresh (RFC 6749 section 6); `scope` from [`refresh_scopes`](Self::refresh_scopes).
    pub fn refresh<'a>(
        &'a self,
        refresh_token: &'a str,
        scope: &'a str,
        claims: Option<&'a str>,
    ) -> Form<'a> {
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("grant_type", REFRESH_TOKEN_GRANT),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ];
        self.add_client_info(&mut form);
        add_claims(&mut form, claims);
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

fn add_claims<'a>(form: &mut Form<'a>, claims: Option<&'a str>) {
    if let Some(claims) = claims {
        form.push(("claims", claims));
    }
}

/// `form` as an `application/x-www-form-urlencoded` body, byte for byte as
/// ureq's `send_form` encodes it (space as `+`, uppercase `%XX`), at a
/// fraction of its cost: ureq encodes through an iterator of string pieces
/// and allocates twice per field. The body carries secrets: it is wiped on
/// drop.
pub(crate) fn form_body(form: &[(&str, &str)]) -> crate::secret::SecretBytes {
    // The exact size, so that the buffer never grows: a grown Vec frees
    // its old block, with the secrets written so far, unwiped.
    let size = form.iter().fold(0usize, |n, (k, v)| {
        n.saturating_add(encoded_len(k))
            .saturating_add(encoded_len(v))
            .saturating_add(2)
    });
    let mut body = crate::secret::SecretBytes(Vec::with_capacity(size));
    for (i, (key, value)) in form.iter().enumerate() {
        if i > 0 {
            body.push(b'&');
        }
        form_encode(&mut body, key);
        body.push(b'=');
        form_encode(&mut body, value);
    }
    body
}

/// Letters, digits and `!()*-._~`: the bytes a form carries as they are.
fn plain(b: &u8) -> bool {
    matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'('..=b'*' | b'-' | b'.' | b'_' | b'~')
}

/// How long `text` is once [`form_encode`]d: `%XX` is two bytes more.
fn encoded_len(text: &str) -> usize {
    let escaped = text.bytes().filter(|b| !plain(b) && *b != b' ').count();
    text.len().saturating_add(escaped.saturating_mul(2))
}

/// Appends `text` percent-encoded as ureq's form encoding does: letters,
/// digits and `!()*-._~` as they are, space as `+`, every other byte (UTF-8
/// included) as `%XX`. Plain runs are copied whole.
fn form_encode(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = text.as_bytes();
    while let Some(at) = rest.iter().position(|b| !plain(b)) {
        let (run, tail) = rest.split_at(at);
        out.extend_from_slice(run);
        let Some((&byte, tail)) = tail.split_first() else {
            break;
        };
        if byte == b' ' {
            out.push(b'+');
        } else {
            let digit = |n: u8| HEX.get(usize::from(n)).copied().unwrap_or(b'0');
            out.extend_from_slice(&[b'%', digit(byte >> 4), digit(byte & 0xf)]);
        }
        rest = tail;
    }
    out.extend_from_slice(rest);
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
        let entra = Requests::new("app", true, Vec::new());
        assert_eq!(
            entra.scopes(&["User.Read", "openid"]),
            ["User.Read", "openid", "profile", "offline_access"]
        );
        assert!(entra.poll("code", None).contains(&("client_info", "1")));
        let plain = Requests::new("app", false, Vec::new());
        assert_eq!(plain.scopes(&["read write"]), ["read", "write"]);
        assert!(
            !plain
                .refresh("rt", "read", None)
                .iter()
                .any(|(k, _)| *k == "client_info")
        );
        assert_eq!(
            entra.refresh_scopes(&["User.Read".to_string()]),
            ["User.Read", "offline_access", "openid", "profile"]
        );
        assert_eq!(plain.device_code("", None), [("client_id", "app")]);
    }

    #[test]
    fn forms_are_encoded_as_ureq_encodes_them() {
        let mut every = String::new();
        for c in (0u8..0x80).map(char::from).chain(['é', '€', '😀']) {
            every.push(c);
        }
        let form = [
            ("grant_type", DEVICE_CODE_GRANT),
            ("scope", "User.Read openid profile offline_access"),
            (
                "claims",
                r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#,
            ),
            ("every byte", every.as_str()),
            ("", ""),
            ("x", "a+b=c&d%20e/f?g#h"),
        ];
        // ureq's encoding, one byte at a time (percent_encoding's set).
        let reference = |text: &str| -> String {
            text.bytes()
                .map(|b| match b {
                    b' ' => "+".to_string(),
                    b if b.is_ascii_alphanumeric() || b"!()*-._~".contains(&b) => {
                        char::from(b).to_string()
                    }
                    b => format!("%{b:02X}"),
                })
                .collect()
        };
        let theirs: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{}={}", reference(k), reference(v)))
            .collect();
        let ours = form_body(&form);
        assert_eq!(String::from_utf8(ours.to_vec()).unwrap(), theirs.join("&"));
        // Sized once, never grown: a grown buffer leaves its old block, with
        // the secrets in it, unwiped (a grown Vec at least doubles).
        assert!(ours.capacity() <= ours.len() + 1, "{}", ours.capacity());
        assert!(
            theirs.join("&").starts_with(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&scope=User.Read+openid+profile+offline_access&"
            )
        );
        assert!(form_body(&[]).is_empty());
    }

    #[test]
    fn capabilities_merge_into_a_claims_challenge_as_msal_merges_them() {
        let bare = Requests::new("app", true, Vec::new());
        assert_eq!(bare.claims(None).unwrap(), None);
        assert_eq!(bare.claims(Some(" ")).unwrap(), None);
        let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
        assert_eq!(
            bare.claims(Some(challenge)).unwrap().as_deref(),
            Some(challenge)
        );
        let cae = Requests::new("app", true, vec!["CP1".into()]);
        assert_eq!(
            cae.claims(None).unwrap().as_deref(),
            Some(r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#)
        );
        let merged: Value =
            serde_json::from_str(&cae.claims(Some(challenge)).unwrap().unwrap()).unwrap();
        assert_eq!(merged["access_token"]["nbf"]["value"], "1700000000");
        assert_eq!(merged["access_token"]["xms_cc"]["values"][0], "CP1");
        // Other parts of the challenge go as they came.
        let id = r#"{"id_token":{"auth_time":{"essential":true}}}"#;
        let merged: Value = serde_json::from_str(&cae.claims(Some(id)).unwrap().unwrap()).unwrap();
        assert_eq!(merged["id_token"]["auth_time"]["essential"], true);
        assert_eq!(merged["access_token"]["xms_cc"]["values"][0], "CP1");
        let encoded = crate::json::base64url_encode(challenge);
        assert_eq!(
            bare.claims(Some(&encoded)).unwrap().as_deref(),
            Some(challenge)
        );
        for bad in ["[1]", "{", "\"x\"", "@@"] {
            let err = cae.claims(Some(bad)).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Configuration, "{bad}");
        }
        let form = cae.refresh("rt", "s", Some("{}"));
        assert_eq!(form.last(), Some(&("claims", "{}")));
    }
}
