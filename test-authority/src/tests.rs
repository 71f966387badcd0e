//! End-to-end tests of the authority over real sockets, speaking raw HTTP so
//! that they depend on nothing but the authority itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::*;
use devicecode::ManualClock;

const SCOPES: &str = "User.Read+openid+profile+offline_access";

/// A minimal HTTP/1.1 client over any stream.
struct Raw<S: Read + Write> {
    stream: S,
    buf: Vec<u8>,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Raw<TcpStream> {
    fn connect(authority: &TestAuthority) -> Self {
        let addr = authority
            .base_url()
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_string();
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }
}

impl<S: Read + Write> Raw<S> {
    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
        self.stream.flush().unwrap();
    }

    fn request(&mut self, method: &str, path: &str, extra_headers: &str, form: &str) -> Reply {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra_headers}\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        );
        self.send_raw(request.as_bytes());
        self.reply().expect("an answer")
    }

    fn post(&mut self, path: &str, form: &str) -> Reply {
        self.request("POST", path, "", form)
    }

    fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, "", "")
    }

    /// Reads one answer; `None` if the server closed first.
    fn reply(&mut self) -> Option<Reply> {
        let head_end = loop {
            if let Some(pos) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos;
            }
            if !self.fill() {
                return None;
            }
        };
        let head = String::from_utf8(self.buf.drain(..head_end + 4).collect()).unwrap();
        let mut lines = head.trim_end().split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        while self.buf.len() < length {
            assert!(self.fill(), "body cut short");
        }
        let body = String::from_utf8(self.buf.drain(..length).collect()).unwrap();
        Some(Reply {
            status,
            headers,
            body,
        })
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }
}

fn base64url_decode(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn jwt_claims(jwt: &str) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let header: Value = serde_json::from_slice(&base64url_decode(parts[0])).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    serde_json::from_slice(&base64url_decode(parts[1])).unwrap()
}

fn plain(clock: &ManualClock) -> TestAuthorityBuilder {
    TestAuthority::builder()
        .plain_http(true)
        .clock(Arc::new(clock.clone()))
}

const ENTRA_DEVICE: &str = "/organizations/oauth2/v2.0/devicecode";
const ENTRA_TOKEN: &str = "/organizations/oauth2/v2.0/token";

fn poll_form(device_code: &str) -> String {
    format!("grant_type={DEVICE_CODE_GRANT_ENCODED}&client_id=app&device_code={device_code}")
}

const DEVICE_CODE_GRANT_ENCODED: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code";

/// Starts a flow and returns the device code.
fn start_flow<S: Read + Write>(raw: &mut Raw<S>, path: &str, scope: &str) -> String {
    let reply = raw.post(path, &format!("client_id=app&scope={scope}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["device_code"].as_str().unwrap().to_string()
}

#[test]
fn device_code_answer_is_shaped_like_entra() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();
    let mut raw = Raw::connect(&authority);
    let reply = raw.post(ENTRA_DEVICE, &format!("client_id=app&scope={SCOPES}"));
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        reply.header("date"),
        Some(util::http_date(clock.wall()).as_str())
    );
    let body = reply.json();
    let uri = format!("{}/devicelogin", authority.base_url());
    assert_eq!(body["verification_uri"], uri.as_str());
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["interval"], 5);
    let user_code = body["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert!(
        user_code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    );
    assert!(body["device_code"].as_str().unwrap().len() >= 64);
    assert_eq!(
        body["message"],
        format!(
            "To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."
        )
        .as_str()
    );
    assert!(body.get("verification_uri_complete").is_none());
    let stats = authority.stats();
    assert_eq!(stats.count(Endpoint::DeviceAuthorization), 1);
    assert_eq!(stats.requests[0].answer, "device_code");
    assert_eq!(stats.requests[0].param("client_id"), Some("app"));
}

#[test]
fn entra_errors_carry_codes_trace_ids_and_timestamps() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();
    let mut raw = Raw::connect(&authority);
    let correlation = "0f0e0d0c-0b0a-4908-8706-050403020100";
    let reply = raw.request(
        "POST",
        ENTRA_DEVICE,
        &format!("client-request-id: {correlation}\r\n"),
        "scope=openid",
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = reply.json();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_codes"], serde_json::json!([900144]));
    assert_eq!(body["correlation_id"], correlation);
    assert_eq!(reply.header("client-request-id"), Some(correlation));
    assert_eq!(
        body["error_uri"],
        "https://login.microsoftonline.com/error?code=900144"
    );
    let trace = body["trace_id"].as_str().unwrap();
    assert!(util::is_guid(trace));
    let timestamp = body["timestamp"].as_str().unwrap();
    assert_eq!(timestamp, util::entra_timestamp(clock.wall()));
    assert_eq!(timestamp.len(), "2026-11-24 06:00:00Z".len());
    let description = body["error_description"].as_str().unwrap();
    assert_eq!(
        description,
        format!(
            "AADSTS900144: The request body must contain the following parameter: 'client_id'.\r\n\
             Trace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}"
        )
    );
    assert_eq!(authority.stats().requests[0].answer, "invalid_request");
}

#[test]
fn early_polls_get_slow_down_and_a_longer_interval() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();
    let mut raw = Raw::connect(&authority);
    let code = start_flow(&mut raw, ENTRA_DEVICE, SCOPES);

    // The first poll must wait a whole interval after the code was issued.
    clock.advance(Duration::from_secs(4));
    let reply = raw.post(ENTRA_TOKEN, &poll_form(&code));
    assert_eq!(
        (reply.status, reply.error()),
        (400, "slow_down".to_string())
    );
    // The interval is now 10 s, counted from that poll.
    clock.advance(Duration::from_secs(5));
    assert_eq!(
        raw.post(ENTRA_TOKEN, &poll_form(&code)).error(),
        "slow_down"
    );
    clock.advance(Duration::from_secs(15));
    let reply = raw.post(ENTRA_TOKEN, &poll_form(&code));
    assert_eq!(reply.error(), "authorization_pending");
    assert_eq!(reply.json()["error_codes"], serde_json::json!([70016]));

    let stats = authority.stats();
    let answers: Vec<&str> = stats.polls().iter().map(|r| r.answer.as_str()).collect();
    assert_eq!(answers, ["slow_down", "slow_down", "authorization_pending"]);
    assert_eq!(stats.polls()[2].at, Duration::from_secs(24));
}

#[test]
fn interval_enforcement_can_be_turned_off() {
    let clock = ManualClock::new();
    let authority = plain(&clock).enforce_interval(false).start().unwrap();
    let mut raw = Raw::connect(&authority);
    let code = start_flow(&mut raw, ENTRA_DEVICE, SCOPES);
    let reply = raw.post(ENTRA_TOKEN, &poll_form(&code));
    assert_eq!(reply.error(), "authorization_pending");
}

#[test]
fn approval_gives_tokens_once() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .user("ada@contoso.example", "Ada Lovelace")
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let code = start_flow(&mut raw, ENTRA_DEVICE, SCOPES);
    clock.advance(Duration::from_secs(5));
    assert_eq!(
        raw.post(ENTRA_TOKEN, &poll_form(&code)).error(),
        "authorization_pending"
    );

    authority.approve_pending();
    clock.advance(Duration::from_secs(5));
    let reply = raw.post(ENTRA_TOKEN, &format!("{}&client_info=1", poll_form(&code)));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "User.Read openid profile");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body["access_token"].as_str().unwrap().len() > 20);
    assert!(body["refresh_token"].as_str().unwrap().len() > 20);

    let claims = jwt_claims(body["id_token"].as_str().unwrap());
    let tid = claims["tid"].as_str().unwrap();
    assert!(util::is_guid(tid));
    assert_eq!(claims["aud"], "app");
    assert_eq!(claims["iss"], authority.entra_issuer(tid).as_str());
    assert_eq!(claims["preferred_username"], "ada@contoso.example");
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["ver"], "2.0");
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(iat, util::epoch_seconds(clock.wall()));
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 3600);

    let info: Value =
        serde_json::from_slice(&base64url_decode(body["client_info"].as_str().unwrap())).unwrap();
    assert_eq!(info["uid"], claims["oid"]);
    assert_eq!(info["utid"], tid);

    // The code is spent.
    clock.advance(Duration::from_secs(5));
    let reply = raw.post(ENTRA_TOKEN, &poll_form(&code));
    assert_eq!(reply.error(), "invalid_grant");
    assert_eq!(reply.json()["error_codes"], serde_json::json!([70000]));
}

#[test]
fn tokens_follow_the_requested_scopes_and_tenant() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .enforce_interval(false)
        .approval(Approval::AfterPolls(1))
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let code = start_flow(
        &mut raw,
        &format!("/{tenant}/oauth2/v2.0/devicecode"),
        "User.Read",
    );
    let reply = raw.post(&format!("/{tenant}/oauth2/v2.0/token"), &poll_form(&code));
    let body = reply.json();
    assert_eq!(body["scope"], "User.Read");
    // No openid: no ID token; no offline_access: no refresh token (Entra).
    assert!(body.get("id_token").is_none());
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("client_info").is_none());

    let code = start_flow(
        &mut raw,
        &format!("/{tenant}/oauth2/v2.0/devicecode"),
        "openid",
    );
    let reply = raw.post(
        &format!("/{tenant}/oauth2/v2.0/token"),
        &format!("{}&client_info=1", poll_form(&code)),
    );
    let body = reply.json();
    assert_eq!(
        jwt_claims(body["id_token"].as_str().unwrap())["tid"],
        tenant
    );
}

#[test]
fn codes_expire_on_the_authority_clock() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();
    let mut raw = Raw::connect(&authority);
    let code = start_flow(&mut raw, ENTRA_DEVICE, SCOPES);
    clock.advance(Duration::from_secs(901));
    let reply = raw.post(ENTRA_TOKEN, &poll_form(&code));
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "expired_token");
    assert_eq!(reply.json()["error_codes"], serde_json::json!([70019]));
    // A person who approves now is too late.
    authority.approve_pending();
    assert_eq!(
        raw.post(ENTRA_TOKEN, &poll_form(&code)).error(),
        "expired_token"
    );
}

#[test]
fn one_connection_carries_a_whole_flow() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .approval(Approval::AfterPolls(2))
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let code = start_flow(&mut raw, ENTRA_DEVICE, SCOPES);
    clock.advance(Duration::from_secs(5));
    let first = raw.post(ENTRA_TOKEN, &poll_form(&code));
    assert_eq!(first.header("connection"), Some("keep-alive"));
    assert_eq!(first.error(), "authorization_pending");
    clock.advance(Duration::from_secs(5));
    assert_eq!(raw.post(ENTRA_TOKEN, &poll_form(&code)).status, 200);

    let stats = authority.stats();
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.tls_handshakes, 0);
    assert_eq!(stats.requests.len(), 3);
    assert!(stats.requests.iter().all(|r| r.connection == 1));
    assert_eq!(stats.polls().len(), 2);
    assert_eq!(stats.count(Endpoint::Token), 2);
}

#[test]
fn keep_alive_off_closes_after_each_answer() {
    let clock = ManualClock::new();
    let authority = plain(&clock).keep_alive(false).start().unwrap();
    let mut raw = Raw::connect(&authority);
    let reply = raw.post(ENTRA_DEVICE, &format!("client_id=app&scope={SCOPES}"));
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(raw.reply().is_none(), "the server closes");

    // And a client asking to close is obeyed with keep-alive on.
    let authority = plain(&clock).start().unwrap();
    let mut raw = Raw::connect(&authority);
    let reply = raw.request("GET", "/nowhere", "Connection: close\r\n", "");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(raw.reply().is_none());
}

#[test]
fn github_style_errors_use_status_200() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .flavor(Flavor::Generic)
        .errors_with_status_200(true)
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let code = start_flow(&mut raw, "/device", "repo");
    clock.advance(Duration::from_secs(5));
    let reply = raw.post("/token", &poll_form(&code));
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        serde_json::json!({
            "error": "authorization_pending",
            "error_description":
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        })
    );
    // Only the token endpoint does this.
    assert_eq!(raw.post("/device", "scope=repo").status, 400);
}

#[test]
fn generic_flavor_speaks_plain_rfc_8628() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .flavor(Flavor::Generic)
        .interval(None)
        .start()
        .unwrap();
    assert_eq!(authority.issuer(), authority.base_url());
    assert_eq!(
        authority.device_authorization_endpoint(),
        format!("{}/device", authority.base_url())
    );
    let mut raw = Raw::connect(&authority);
    let reply = raw.post("/device", "client_id=app");
    let body = reply.json();
    assert!(body.get("message").is_none());
    assert!(body.get("interval").is_none());
    let user_code = body["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert_eq!(
        body["verification_uri_complete"],
        format!("{}/devicelogin?code={user_code}", authority.base_url()).as_str()
    );
    let code = body["device_code"].as_str().unwrap().to_string();

    // No interval sent: 5 s is enforced.
    clock.advance(Duration::from_secs(4));
    assert_eq!(raw.post("/token", &poll_form(&code)).error(), "slow_down");
    clock.advance(Duration::from_secs(10));
    let reply = raw.post("/token", &poll_form(&code));
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "authorization_pending");
    assert!(reply.json().get("error_codes").is_none());

    authority.deny_pending();
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        raw.post("/token", &poll_form(&code)).error(),
        "access_denied"
    );
}

#[test]
fn generic_tokens_echo_api_scopes_and_always_refresh() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .flavor(Flavor::Generic)
        .approval(Approval::AfterPolls(1))
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let code = start_flow(&mut raw, "/device", "openid+email+api.read");
    clock.advance(Duration::from_secs(5));
    let body = raw.post("/token", &poll_form(&code)).json();
    assert_eq!(body["scope"], "api.read");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["refresh_token"].is_string());
    let claims = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(claims["iss"], authority.issuer().as_str());
    assert_eq!(claims["email"], "device.user@contoso.example");
    assert_eq!(claims["name"], "Device User");
}

#[test]
fn generic_rejects_code_instead_of_device_code() {
    let clock = ManualClock::new();
    let authority = plain(&clock).flavor(Flavor::Generic).start().unwrap();
    let mut raw = Raw::connect(&authority);
    let code = start_flow(&mut raw, "/device", "api");
    clock.advance(Duration::from_secs(5));
    let reply = raw.post(
        "/token",
        &format!("grant_type={DEVICE_CODE_GRANT_ENCODED}&client_id=app&code={code}"),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "invalid_request");
}

fn signed_in(raw: &mut Raw<TcpStream>, clock: &ManualClock) -> String {
    let code = start_flow(raw, ENTRA_DEVICE, SCOPES);
    clock.advance(Duration::from_secs(5));
    let body = raw.post(ENTRA_TOKEN, &poll_form(&code)).json();
    body["refresh_token"].as_str().unwrap().to_string()
}

fn refresh_form(token: &str) -> String {
    format!("grant_type=refresh_token&client_id=app&scope={SCOPES}&refresh_token={token}")
}

#[test]
fn refresh_tokens_rotate_and_replay_revokes_the_sign_in() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .approval(Approval::AfterPolls(1))
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let first = signed_in(&mut raw, &clock);
    let reply = raw.post(ENTRA_TOKEN, &refresh_form(&first));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let second = reply.json()["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert!(reply.json()["id_token"].is_string());

    // A second, independent sign-in is not affected by what follows.
    let other = signed_in(&mut raw, &clock);

    // Replaying the spent one revokes the sign-in, newer tokens included.
    let reply = raw.post(ENTRA_TOKEN, &refresh_form(&first));
    assert_eq!(
        (reply.status, reply.error()),
        (400, "invalid_grant".to_string())
    );
    assert_eq!(reply.json()["error_codes"], serde_json::json!([70000]));
    assert_eq!(
        raw.post(ENTRA_TOKEN, &refresh_form(&second)).error(),
        "invalid_grant"
    );
    assert_eq!(raw.post(ENTRA_TOKEN, &refresh_form(&other)).status, 200);

    let reply = raw.post(ENTRA_TOKEN, &refresh_form("not-a-token"));
    assert_eq!(reply.json()["error_codes"], serde_json::json!([9002313]));
}

#[test]
fn without_rotation_the_refresh_token_stays() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .approval(Approval::AfterPolls(1))
        .rotate_refresh_tokens(false)
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let token = signed_in(&mut raw, &clock);
    for _ in 0..2 {
        let body = raw.post(ENTRA_TOKEN, &refresh_form(&token)).json();
        assert_eq!(body["refresh_token"], token.as_str());
    }
    authority.revoke_refresh_tokens();
    let reply = raw.post(ENTRA_TOKEN, &refresh_form(&token));
    assert_eq!(reply.error(), "invalid_grant");
    assert_eq!(reply.json()["error_codes"], serde_json::json!([50173]));
}

#[test]
fn faults_are_used_once_in_order() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();
    authority.inject(
        Endpoint::DeviceAuthorization,
        Fault::Status {
            status: 503,
            retry_after: Some("7".to_string()),
            body: "busy".to_string(),
        },
    );
    authority.inject(
        Endpoint::DeviceAuthorization,
        Fault::OAuthError {
            status: 400,
            error: "invalid_client".to_string(),
            aadsts: Some(7_000_218),
            description: "The request body must contain 'client_assertion'.".to_string(),
        },
    );
    authority.inject(Endpoint::DeviceAuthorization, Fault::Html { status: 200 });
    authority.inject(Endpoint::Token, Fault::Close);
    let form = format!("client_id=app&scope={SCOPES}");
    let mut raw = Raw::connect(&authority);

    let reply = raw.post(ENTRA_DEVICE, &form);
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("7"));
    assert_eq!(reply.body, "busy");
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );

    let reply = raw.post(ENTRA_DEVICE, &form);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error_codes"], serde_json::json!([7000218]));
    assert!(
        reply.json()["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000218: The request body")
    );

    let reply = raw.post(ENTRA_DEVICE, &form);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(reply.body.contains("<html>"));

    assert_eq!(raw.post(ENTRA_DEVICE, &form).status, 200);

    raw.send_raw(
        format!("POST {ENTRA_TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    );
    assert!(raw.reply().is_none(), "closed without an answer");

    let answers: Vec<String> = authority
        .stats()
        .requests
        .into_iter()
        .map(|r| r.answer)
        .collect();
    assert_eq!(answers, ["fault", "fault", "fault", "device_code", "fault"]);
}

#[test]
fn lasting_faults_hit_a_deterministic_fraction() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();
    let busy = Fault::Status {
        status: 503,
        retry_after: None,
        body: "busy".to_string(),
    };
    authority.inject_every(Endpoint::DeviceAuthorization, 3, busy);
    // A queued one-shot fault goes first and is not counted.
    authority.inject(Endpoint::DeviceAuthorization, Fault::Html { status: 200 });
    let form = format!("client_id=app&scope={SCOPES}");
    let mut raw = Raw::connect(&authority);
    let statuses: Vec<u16> = (0..8)
        .map(|_| raw.post(ENTRA_DEVICE, &form).status)
        .collect();
    assert_eq!(statuses, [200, 503, 200, 200, 503, 200, 200, 503]);
    assert_eq!(
        raw.post(ENTRA_TOKEN, "").status,
        400,
        "other endpoints are spared"
    );
    authority.clear_faults();
    assert_eq!(raw.post(ENTRA_DEVICE, &form).status, 200);
    let answers: Vec<String> = authority
        .stats()
        .requests
        .into_iter()
        .map(|r| r.answer)
        .collect();
    assert_eq!(answers.iter().filter(|a| *a == "fault").count(), 4);
}

#[test]
fn redirect_faults() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();
    authority.inject(
        Endpoint::Token,
        Fault::Redirect {
            status: 307,
            location: "https://elsewhere.example/token".to_string(),
        },
    );
    let reply = Raw::connect(&authority).post(ENTRA_TOKEN, "");
    assert_eq!(reply.status, 307);
    assert_eq!(
        reply.header("location"),
        Some("https://elsewhere.example/token")
    );
}

#[test]
fn certificates_can_change_while_running() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let clock = ManualClock::new();
    let authority = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .start()
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(authority.ca_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    // The handshake's outcome for a new connection, as text.
    let handshake = || {
        let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
        let mut conn = rustls::ClientConnection::new(Arc::clone(&config), name).unwrap();
        let mut tcp = Raw::connect(&authority).stream;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                return e.to_string();
            }
        }
        "ok".to_string()
    };
    assert_eq!(handshake(), "ok");
    for (certificate, failure) in [
        (Certificate::WrongHost, "not valid for name"),
        (Certificate::Expired, "certificate expired"),
        (Certificate::NotYetValid, "certificate not valid yet"),
        (Certificate::UntrustedIssuer, "UnknownIssuer"),
    ] {
        authority.present_certificate(certificate);
        let outcome = handshake();
        assert!(outcome.contains(failure), "{certificate:?}: {outcome}");
    }
    authority.present_certificate(Certificate::Valid);
    assert_eq!(handshake(), "ok");
}

#[test]
fn approval_policies() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .enforce_interval(false)
        .approval(Approval::DenyAfterPolls(2))
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let code = start_flow(&mut raw, ENTRA_DEVICE, SCOPES);
    assert_eq!(
        raw.post(ENTRA_TOKEN, &poll_form(&code)).error(),
        "authorization_pending"
    );
    assert_eq!(
        raw.post(ENTRA_TOKEN, &poll_form(&code)).error(),
        "authorization_declined"
    );

    let authority = plain(&clock)
        .approval(Approval::After(Duration::from_secs(30)))
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let code = start_flow(&mut raw, ENTRA_DEVICE, SCOPES);
    clock.advance(Duration::from_secs(25));
    assert_eq!(
        raw.post(ENTRA_TOKEN, &poll_form(&code)).error(),
        "authorization_pending"
    );
    clock.advance(Duration::from_secs(5));
    assert_eq!(raw.post(ENTRA_TOKEN, &poll_form(&code)).status, 200);
}

#[test]
fn the_login_page_decides_by_user_code() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();
    let mut raw = Raw::connect(&authority);
    let reply = raw.post(ENTRA_DEVICE, &format!("client_id=app&scope={SCOPES}"));
    let body = reply.json();
    let code = body["device_code"].as_str().unwrap().to_string();
    let user_code = body["user_code"].as_str().unwrap().to_ascii_lowercase();

    let page = raw.get("/devicelogin");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<form"));

    let wrong = raw.get("/devicelogin?code=NOPE&action=approve");
    assert_eq!(wrong.status, 400);

    let approved = raw.get(&format!("/devicelogin?code={user_code}&action=approve"));
    assert_eq!(approved.status, 200);
    clock.advance(Duration::from_secs(5));
    assert_eq!(raw.post(ENTRA_TOKEN, &poll_form(&code)).status, 200);

    // A browser's form post declines another code.
    let body = raw
        .post(ENTRA_DEVICE, &format!("client_id=app&scope={SCOPES}"))
        .json();
    let code = body["device_code"].as_str().unwrap().to_string();
    let user_code = body["user_code"].as_str().unwrap();
    let denied = raw.post("/devicelogin", &format!("code={user_code}&action=deny"));
    assert_eq!(denied.status, 200);
    clock.advance(Duration::from_secs(5));
    assert_eq!(
        raw.post(ENTRA_TOKEN, &poll_form(&code)).error(),
        "authorization_declined"
    );

    let answers: Vec<String> = authority
        .stats()
        .requests
        .iter()
        .filter(|r| r.path == "/devicelogin")
        .map(|r| r.answer.clone())
        .collect();
    assert_eq!(
        answers,
        ["login_page", "unknown_code", "approved", "denied"]
    );
    assert!(
        authority
            .stats()
            .requests
            .iter()
            .filter(|r| r.path == "/devicelogin")
            .all(|r| r.endpoint.is_none())
    );
}

#[test]
fn unknown_clients_and_tenants_are_refused() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .client_ids(vec!["app".to_string()])
        .tenants(vec!["contoso.example".to_string()])
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let reply = raw.post(
        "/contoso.example/oauth2/v2.0/devicecode",
        &format!("client_id=other&scope={SCOPES}"),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "invalid_client");
    assert_eq!(reply.json()["error_codes"], serde_json::json!([700016]));
    assert!(
        reply.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("Application with identifier 'other' was not found in the directory 'contoso.example'")
    );

    let reply = raw.post(
        "/fabrikam.example/oauth2/v2.0/devicecode",
        &format!("client_id=app&scope={SCOPES}"),
    );
    assert_eq!(reply.error(), "invalid_request");
    assert_eq!(reply.json()["error_codes"], serde_json::json!([90002]));

    let reply = raw.get("/fabrikam.example/v2.0/.well-known/openid-configuration");
    assert_eq!(reply.error(), "invalid_tenant");

    let reply = raw.post(
        "/contoso.example/oauth2/v2.0/devicecode",
        &format!("client_id=app&scope={SCOPES}"),
    );
    assert_eq!(reply.status, 200);
}

#[test]
fn discovery_documents() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();
    assert_eq!(
        authority.issuer(),
        format!("{}/organizations/v2.0", authority.base_url())
    );
    let mut raw = Raw::connect(&authority);
    let doc = raw
        .get("/organizations/v2.0/.well-known/openid-configuration")
        .json();
    assert_eq!(doc["issuer"], authority.issuer().as_str());
    assert_eq!(
        doc["device_authorization_endpoint"],
        authority.device_authorization_endpoint().as_str()
    );
    assert_eq!(doc["token_endpoint"], authority.token_endpoint().as_str());
    let doc = raw
        .get("/common/v2.0/.well-known/openid-configuration")
        .json();
    assert_eq!(doc["issuer"], authority.entra_issuer("common").as_str());
    assert_eq!(authority.stats().count(Endpoint::Discovery), 2);

    let authority = plain(&clock).flavor(Flavor::Generic).start().unwrap();
    let mut raw = Raw::connect(&authority);
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let doc = raw.get(path).json();
        assert_eq!(doc["issuer"], authority.base_url().as_str());
        assert_eq!(doc["token_endpoint"], authority.token_endpoint().as_str());
        assert_eq!(
            doc["device_authorization_endpoint"],
            authority.device_authorization_endpoint().as_str()
        );
    }
}

#[test]
fn other_servers_quirks() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .numbers_as_strings(true)
        .verification_url_field(true)
        .send_message(false)
        .approval(Approval::AfterPolls(1))
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let body = raw
        .post(ENTRA_DEVICE, &format!("client_id=app&scope={SCOPES}"))
        .json();
    assert_eq!(body["expires_in"], "900");
    assert_eq!(body["interval"], "5");
    assert!(body["verification_url"].is_string());
    assert!(body.get("verification_uri").is_none());
    assert!(body.get("message").is_none());
    let code = body["device_code"].as_str().unwrap().to_string();
    clock.advance(Duration::from_secs(5));
    let body = raw.post(ENTRA_TOKEN, &poll_form(&code)).json();
    assert_eq!(body["expires_in"], "3599");
}

#[test]
fn bad_requests_get_answers_and_the_server_survives() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();

    let mut raw = Raw::connect(&authority);
    raw.send_raw(b"NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(raw.reply().unwrap().status, 400);

    let mut raw = Raw::connect(&authority);
    raw.send_raw(
        format!("POST {ENTRA_DEVICE} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(raw.reply().unwrap().status, 413);

    let mut raw = Raw::connect(&authority);
    assert_eq!(raw.get("/no/such/path").status, 404);
    assert_eq!(raw.get(ENTRA_TOKEN).status, 405);
    // A broken escape is read as written, as real servers (and the WHATWG
    // URL standard) do.
    let reply = raw.post(ENTRA_DEVICE, "client_id=%zz&scope=openid");
    assert_eq!(reply.status, 200);
    let reply = raw.post(ENTRA_DEVICE, "client_id=a&client_id=b&scope=openid");
    assert_eq!(reply.json()["error_codes"], serde_json::json!([9000411]));
    let reply = raw.post(ENTRA_TOKEN, "grant_type=password&client_id=app");
    assert_eq!(reply.error(), "unsupported_grant_type");
    assert_eq!(
        raw.post(ENTRA_DEVICE, &format!("client_id=app&scope={SCOPES}"))
            .status,
        200
    );

    let stats = authority.stats();
    assert_eq!(stats.connections, 3);
    assert_eq!(stats.requests[0].answer, "bad_request");
    assert_eq!(stats.requests[1].answer, "payload_too_large");
    assert_eq!(
        stats.requests[1].endpoint,
        Some(Endpoint::DeviceAuthorization)
    );
    assert_eq!(
        stats.requests[4].form[0],
        ("client_id".into(), "%zz".into())
    );
}

#[test]
fn requests_with_json_bodies_have_no_form() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();
    let mut raw = Raw::connect(&authority);
    let body = r#"{"client_id":"app","scope":"openid"}"#;
    raw.send_raw(
        format!(
            "POST {ENTRA_DEVICE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let reply = raw.reply().unwrap();
    assert_eq!(reply.error(), "invalid_request");
    assert!(authority.stats().requests[0].form.is_empty());
}

#[test]
fn tls_serves_a_whole_flow_on_one_handshake() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let clock = ManualClock::new();
    let authority = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(1))
        .start()
        .unwrap();
    assert!(authority.base_url().starts_with("https://127.0.0.1:"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(authority.ca_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    assert_eq!(roots.len(), 1);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let config = Arc::new(config);

    for name in ["127.0.0.1", "localhost"] {
        let server_name = ServerName::try_from(name).unwrap().to_owned();
        let conn = rustls::ClientConnection::new(Arc::clone(&config), server_name).unwrap();
        let tcp = Raw::connect(&authority).stream;
        let mut raw = Raw {
            stream: rustls::StreamOwned::new(conn, tcp),
            buf: Vec::new(),
        };
        let code = start_flow(&mut raw, ENTRA_DEVICE, SCOPES);
        clock.advance(Duration::from_secs(5));
        assert_eq!(raw.post(ENTRA_TOKEN, &poll_form(&code)).status, 200);
    }
    let stats = authority.stats();
    assert_eq!((stats.connections, stats.tls_handshakes), (2, 2));
    assert_eq!(stats.requests.len(), 4);
    assert_eq!(
        stats
            .requests
            .iter()
            .map(|r| r.connection)
            .collect::<Vec<_>>(),
        [1, 1, 2, 2]
    );
}

#[test]
fn drop_stops_the_server_promptly() {
    let clock = ManualClock::new();
    let authority = plain(&clock).start().unwrap();
    let mut idle = Raw::connect(&authority);
    assert_eq!(idle.get("/nowhere").status, 404);
    let started = std::time::Instant::now();
    drop(authority);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(idle.reply().is_none(), "idle connections are closed");
}

#[test]
fn cp1_clients_get_cae_tokens_with_refresh_in_and_bad_claims_are_refused() {
    let clock = ManualClock::new();
    let authority = plain(&clock)
        .approval(Approval::AfterPolls(1))
        .refresh_in(Some(600))
        .also_granted(vec!["email".into()])
        .start()
        .unwrap();
    let mut raw = Raw::connect(&authority);
    let code = start_flow(&mut raw, ENTRA_DEVICE, SCOPES);
    clock.advance(Duration::from_secs(5));
    // {"access_token":{"xms_cc":{"values":["CP1"]}}}, form-encoded.
    let cp1 =
        "%7B%22access_token%22%3A%7B%22xms_cc%22%3A%7B%22values%22%3A%5B%22CP1%22%5D%7D%7D%7D";
    let reply = raw.post(ENTRA_TOKEN, &format!("{}&claims={cp1}", poll_form(&code)));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["expires_in"], 28 * 3600);
    assert_eq!(body["refresh_in"], 600);
    assert_eq!(body["scope"], "User.Read openid profile email");
    let issued = authority
        .access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(issued.capabilities, ["CP1"]);
    assert!(!issued.revoked);
    assert!(
        authority
            .resource_challenge(body["access_token"].as_str().unwrap())
            .is_none()
    );
    authority.revoke_access_tokens_by_event();
    let header = authority
        .resource_challenge(body["access_token"].as_str().unwrap())
        .unwrap();
    assert!(
        header.contains(r#"error="insufficient_claims", claims=""#),
        "{header}"
    );

    let refresh = format!(
        "grant_type=refresh_token&client_id=app&refresh_token={}&claims=%5B1%5D",
        body["refresh_token"].as_str().unwrap()
    );
    let reply = raw.post(ENTRA_TOKEN, &refresh);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "invalid_request");
}
