//! From a parsed request to an answer: routing, injected faults, the record
//! in [`Stats`](super::Stats), discovery documents and the login page.
//! The OAuth endpoints themselves are in [`super::oauth`].

use serde_json::json;

use super::http::{Rejected, Request, Response};
use super::oauth::{self, Exchange, OAuthError};
use super::state::{Decision, State};
use super::util::{self, html_escape};
use super::{Endpoint, Fault, Flavor, RecordedRequest, Shared};

/// What to do with a request.
#[derive(Debug)]
pub(super) enum Outcome {
    Respond(Response),
    /// Close the connection without answering ([`Fault::Close`]).
    Drop,
    /// Keep the connection open and say nothing ([`Fault::Stall`]).
    Stall,
    /// Send this answer one byte at a time ([`Fault::Trickle`]).
    Trickle(Response, std::time::Duration),
    /// Send half of this answer, then close ([`Fault::CutMidBody`]).
    Cut(Response),
    /// A chunked body that never ends ([`Fault::EndlessChunked`]).
    Endless,
}

/// Where a path leads.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Device { tenant: Option<&'a str> },
    Token { tenant: Option<&'a str> },
    Discovery { tenant: Option<&'a str> },
    Login,
    NotFound,
}

impl Route<'_> {
    fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Route::Device { .. } => Some(Endpoint::DeviceAuthorization),
            Route::Token { .. } => Some(Endpoint::Token),
            Route::Discovery { .. } => Some(Endpoint::Discovery),
            Route::Login | Route::NotFound => None,
        }
    }
}

fn route(flavor: Flavor, path: &str) -> Route<'_> {
    if path == "/devicelogin" {
        return Route::Login;
    }
    match flavor {
        Flavor::Generic => match path {
            "/device" => Route::Device { tenant: None },
            "/token" => Route::Token { tenant: None },
            "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server" => {
                Route::Discovery { tenant: None }
            }
            _ => Route::NotFound,
        },
        Flavor::Entra => {
            let Some((tenant, rest)) = path
                .strip_prefix('/')
                .and_then(|p| p.split_once('/'))
                .filter(|(tenant, _)| !tenant.is_empty())
            else {
                return Route::NotFound;
            };
            let tenant = Some(tenant);
            match rest {
                "oauth2/v2.0/devicecode" => Route::Device { tenant },
                "oauth2/v2.0/token" => Route::Token { tenant },
                "v2.0/.well-known/openid-configuration" => Route::Discovery { tenant },
                _ => Route::NotFound,
            }
        }
    }
}

/// Answers one well-formed request, recording it first.
pub(super) fn handle(shared: &Shared, connection: usize, request: &Request) -> Outcome {
    let route = route(shared.config.flavor, &request.path);
    let endpoint = route.endpoint();
    // A body that is not declared as a form is not read as one, as on real
    // servers: the parameters then count as missing.
    let form = if request.is_form() {
        util::decode_form(&request.body)
    } else {
        Vec::new()
    };
    let mut now = shared.clock.now();
    let mut state = shared.lock();

    let mut fault = endpoint.and_then(|e| state.take_fault(e));
    if let Some(Fault::Delay(pause)) = fault {
        // Other connections go on meanwhile: the pause holds no lock.
        drop(state);
        std::thread::sleep(pause);
        now = shared.clock.now();
        state = shared.lock();
        fault = None;
    }
    let (outcome, label) = match fault {
        Some(fault) => (
            fault_outcome(shared, &mut state, request, fault),
            "fault".to_string(),
        ),
        None => {
            let (response, label) = match route {
                Route::Device { tenant } | Route::Token { tenant } => {
                    let mut exchange = Exchange {
                        shared,
                        state: &mut state,
                        request,
                        form: &form,
                        tenant,
                        now,
                    };
                    if endpoint == Some(Endpoint::Token) {
                        oauth::token(&mut exchange)
                    } else {
                        oauth::device_authorization(&mut exchange)
                    }
                }
                Route::Discovery { tenant } => discovery(shared, &mut state, request, tenant),
                Route::Login => login(shared, &mut state, request, &form, now),
                Route::NotFound => (Response::text(404, "Not Found"), "not_found".to_string()),
            };
            (Outcome::Respond(response), label)
        }
    };

    let status = match &outcome {
        Outcome::Respond(response) => response.status.to_string(),
        Outcome::Drop => "(closed)".to_string(),
        Outcome::Stall => "(silent)".to_string(),
        Outcome::Trickle(response, _) | Outcome::Cut(response) => response.status.to_string(),
        Outcome::Endless => "200".to_string(),
    };
    // Paths, statuses and labels only: forms hold codes and tokens.
    log::debug!(
        "test authority: {} {} -> {status} {label}",
        request.method,
        request.path
    );
    state.stats.requests.push(RecordedRequest {
        endpoint,
        method: request.method.clone(),
        path: request.path.clone(),
        headers: request.headers.clone(),
        form,
        at: now.saturating_duration_since(shared.started),
        connection,
        answer: label,
    });
    outcome
}

/// Records and answers a request that could not be parsed or accepted.
pub(super) fn rejected(shared: &Shared, connection: usize, rejected: &Rejected) -> Response {
    let now = shared.clock.now();
    log::debug!(
        "test authority: rejected {} {} -> {} {}",
        rejected.method,
        rejected.path,
        rejected.status,
        rejected.label
    );
    shared.lock().stats.requests.push(RecordedRequest {
        endpoint: route(shared.config.flavor, &rejected.path).endpoint(),
        method: rejected.method.clone(),
        path: rejected.path.clone(),
        headers: rejected.headers.clone(),
        form: Vec::new(),
        at: now.saturating_duration_since(shared.started),
        connection,
        answer: rejected.label.to_string(),
    });
    Response::text(rejected.status, rejected.label).closing()
}

fn fault_outcome(shared: &Shared, state: &mut State, request: &Request, fault: Fault) -> Outcome {
    let valid = |status: u16| {
        if (200..=599).contains(&status) {
            status
        } else {
            500
        }
    };
    match fault {
        Fault::Status {
            status,
            retry_after,
            body,
        } => {
            let content_type = if body.trim_start().starts_with('{') {
                "application/json; charset=utf-8"
            } else {
                "text/plain; charset=utf-8"
            };
            let mut response = Response::new(valid(status), content_type, body);
            if let Some(value) = retry_after {
                response = response.with_header("Retry-After", value);
            }
            Outcome::Respond(response)
        }
        Fault::OAuthError {
            status,
            error,
            aadsts,
            description,
        } => {
            let error = OAuthError {
                status: valid(status),
                error,
                aadsts,
                description,
            };
            Outcome::Respond(oauth::error_response(shared, state, request, &error))
        }
        // `handle` waits out a delay and answers normally; never here.
        Fault::Delay(_) => Outcome::Respond(Response::text(500, "Internal Server Error")),
        Fault::Close => Outcome::Drop,
        Fault::Stall => Outcome::Stall,
        Fault::Trickle { every } => Outcome::Trickle(
            Response::new(200, "application/json; charset=utf-8", "{}"),
            every,
        ),
        Fault::CutMidBody => Outcome::Cut(Response::new(
            200,
            "application/json; charset=utf-8",
            format!("{{\"padding\": \"{}\"}}", "x".repeat(2048)),
        )),
        Fault::EndlessChunked => Outcome::Endless,
        Fault::Redirect { status, location } => Outcome::Respond(
            Response::new(valid(status), "text/plain; charset=utf-8", String::new())
                .with_header("Location", location),
        ),
        Fault::Html { status } => Outcome::Respond(Response::html(
            valid(status),
            "<!DOCTYPE html>\n<html><head><title>Sign in to Wi-Fi</title></head>\
             <body><h1>Welcome to Guest Wi-Fi</h1>\
             <p>Please accept the terms of use to continue.</p>\
             <form method=\"post\" action=\"/accept\"><button>Accept</button></form>\
             </body></html>\n"
                .to_string(),
        )),
    }
}

/// The discovery documents (OpenID Connect; RFC 8414 for the generic flavor).
fn discovery(
    shared: &Shared,
    state: &mut State,
    request: &Request,
    tenant: Option<&str>,
) -> (Response, String) {
    if request.method != "GET" {
        return method_not_allowed("GET");
    }
    let mut document = match (shared.config.flavor, tenant) {
        (Flavor::Entra, Some(tenant)) => {
            if let Err(mut error) = oauth::check_tenant(shared, Some(tenant)) {
                // Entra's metadata endpoint names this error differently
                // from its token endpoint.
                error.error = "invalid_tenant".to_string();
                let response = oauth::error_response(shared, state, request, &error);
                return (response, error.error);
            }
            let base = format!("{}/{tenant}", shared.base_url);
            json!({
                "issuer": shared.entra_issuer(tenant),
                "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
                "token_endpoint": shared.token_endpoint(tenant),
                "device_authorization_endpoint": shared.device_endpoint(tenant),
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "token_endpoint_auth_methods_supported":
                    ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name",
                    "oid", "tid", "ver", "preferred_username"],
                "tenant_region_scope": null,
                "cloud_instance_name": "microsoftonline.com",
            })
        }
        _ => json!({
            "issuer": shared.base_url,
            "authorization_endpoint": format!("{}/authorize", shared.base_url),
            "token_endpoint": shared.token_endpoint(""),
            "device_authorization_endpoint": shared.device_endpoint(""),
            "grant_types_supported": [oauth::DEVICE_CODE_GRANT, "refresh_token"],
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["none"],
        }),
    };
    if shared.config.dpop.is_some() {
        document["dpop_signing_alg_values_supported"] = json!(["ES256"]);
    }
    (Response::json(200, &document), "discovery".to_string())
}

/// A method the endpoint does not serve.
pub(super) fn method_not_allowed(allow: &str) -> (Response, String) {
    (
        Response::text(405, "Method Not Allowed").with_header("Allow", allow),
        "method_not_allowed".to_string(),
    )
}

/// The verification page a person opens on their phone. `GET` shows a form;
/// `GET ?code=..&action=approve|deny` or a `POST` of the form decides.
fn login(
    shared: &Shared,
    state: &mut State,
    request: &Request,
    form: &[(String, String)],
    now: std::time::Instant,
) -> (Response, String) {
    let params = match request.method.as_str() {
        "GET" => util::decode_form(request.query.as_deref().unwrap_or("").as_bytes()),
        "POST" => form.to_vec(),
        _ => return method_not_allowed("GET, POST"),
    };
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let code = get("code").unwrap_or("");
    let decision = match get("action") {
        None => return login_form(shared, code),
        Some("approve") => Decision::Approved,
        Some("deny") => Decision::Denied,
        Some(_) => return page(400, "Bad request", "Unknown action.", "bad_request"),
    };
    let Some(device_code) = state.code_by_user_code(code) else {
        return page(
            400,
            "Code not recognised",
            "That code was not recognised. Check it and try again.",
            "unknown_code",
        );
    };
    if device_code.expired(now) {
        return page(
            400,
            "Code expired",
            "That code has expired. Start again on your device.",
            "expired_code",
        );
    }
    if !device_code.open(now) {
        return page(
            200,
            "Already done",
            "This code has already been used.",
            "already_decided",
        );
    }
    device_code.decision = decision;
    match decision {
        Decision::Denied => page(
            200,
            "Sign-in declined",
            "You have declined the sign-in on your device. You can close this window.",
            "denied",
        ),
        _ => page(
            200,
            "You're signed in",
            "You have signed in on your device. You can close this window.",
            "approved",
        ),
    }
}

fn login_form(shared: &Shared, code: &str) -> (Response, String) {
    let body = format!(
        "<form method=\"post\" action=\"/devicelogin\">\
         <label>Code <input name=\"code\" value=\"{}\" autocomplete=\"off\"></label> \
         <button name=\"action\" value=\"approve\">Approve</button> \
         <button name=\"action\" value=\"deny\">Deny</button></form>\
         <p>Signing in as {}.</p>",
        html_escape(code),
        html_escape(&shared.config.username)
    );
    (
        Response::html(200, html_page("Enter code", &body)),
        "login_page".to_string(),
    )
}

fn page(status: u16, title: &str, text: &str, label: &str) -> (Response, String) {
    let body = format!("<p>{}</p>", html_escape(text));
    (
        Response::html(status, html_page(title, &body)),
        label.to_string(),
    )
}

fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head>\
         <body><h1>{0}</h1>{body}</body></html>\n",
        html_escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_flavor() {
        assert_eq!(
            route(Flavor::Entra, "/organizations/oauth2/v2.0/token"),
            Route::Token {
                tenant: Some("organizations")
            }
        );
        assert_eq!(
            route(
                Flavor::Entra,
                "/contoso.example/v2.0/.well-known/openid-configuration"
            ),
            Route::Discovery {
                tenant: Some("contoso.example")
            }
        );
        assert_eq!(route(Flavor::Entra, "//oauth2/v2.0/token"), Route::NotFound);
        assert_eq!(route(Flavor::Entra, "/token"), Route::NotFound);
        assert_eq!(
            route(Flavor::Generic, "/token"),
            Route::Token { tenant: None }
        );
        assert_eq!(
            route(Flavor::Generic, "/organizations/oauth2/v2.0/token"),
            Route::NotFound
        );
        assert_eq!(route(Flavor::Generic, "/devicelogin"), Route::Login);
    }
}
