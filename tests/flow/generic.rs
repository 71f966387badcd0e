//! End to end against RFC 8628 servers that are not Entra ID: discovery,
//! explicit endpoints, and the quirks of GitHub- and Google-style servers.

use crate::common::*;
use devicecode::{Authority, CancelHandle, ErrorKind, ManualClock};
use devicecode_test_authority::{Approval, Endpoint, Flavor, TestAuthority, TestAuthorityBuilder};
use std::sync::Arc;
use std::time::Duration;

fn generic(clock: &ManualClock) -> TestAuthorityBuilder {
    TestAuthority::builder()
        .flavor(Flavor::Generic)
        .clock(Arc::new(clock.clone()))
}

/// The authority's endpoints given explicitly: no discovery.
fn explicit_endpoints(auth: &TestAuthority) -> Authority {
    Authority::endpoints(
        &auth.device_authorization_endpoint(),
        &auth.token_endpoint(),
    )
    .unwrap()
}

#[test]
fn quirky_server_found_by_discovery() {
    let clock = ManualClock::new();
    let auth = generic(&clock)
        .interval(None)
        .send_message(false)
        .numbers_as_strings(true)
        .verification_url_field(true)
        .errors_with_status_200(true)
        .approval(Approval::AfterPolls(3))
        .start()
        .unwrap();
    let seen = Seen::default();
    let app = builder(
        &auth,
        Authority::issuer(&auth.issuer()).unwrap(),
        &clock,
        &seen,
    )
    .build()
    .unwrap();

    let flow = app.start_device_flow(&["read:device"]).unwrap();
    assert_eq!(
        flow.interval(),
        Duration::from_secs(5),
        "RFC default when no interval is sent"
    );
    assert_eq!(
        flow.expires_in(),
        Duration::from_secs(900),
        "numeric string accepted"
    );
    assert!(!flow.message_from_server());
    assert!(
        flow.verification_uri().ends_with("/devicelogin"),
        "verification_url accepted"
    );
    assert!(
        flow.message().contains(flow.verification_uri())
            && flow.message().contains(flow.user_code())
    );
    let token = app.wait_for_token(&flow, &CancelHandle::new()).unwrap();
    assert_eq!(token.scopes(), ["read:device"]);

    let stats = auth.stats();
    assert_eq!(stats.count(Endpoint::Discovery), 1);
    assert_eq!(
        stats.requests[1].endpoint,
        Some(Endpoint::DeviceAuthorization)
    );
    assert_eq!(poll_gaps(&stats), [5, 5, 5]);
    assert_eq!(
        form(&stats.requests[1], "scope"),
        Some("read:device"),
        "no Entra scopes added"
    );
    assert!(
        stats
            .polls()
            .iter()
            .all(|p| form(p, "client_info").is_none())
    );
    assert_eq!(stats.connections, 1);

    // Discovery is done once per client.
    app.start_device_flow(&["read:device"]).unwrap();
    assert_eq!(auth.stats().count(Endpoint::Discovery), 1);
}

#[test]
fn github_style_200_errors_still_decide() {
    let clock = ManualClock::new();
    let auth = generic(&clock)
        .errors_with_status_200(true)
        .approval(Approval::DenyAfterPolls(2))
        .start()
        .unwrap();
    let seen = Seen::default();
    let app = builder(&auth, explicit_endpoints(&auth), &clock, &seen)
        .build()
        .unwrap();
    let flow = app.start_device_flow(&[]).unwrap();
    let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Declined, "{err}");
    let service = err.service_error().unwrap();
    assert_eq!(
        (service.status, service.error.as_str()),
        (200, "access_denied")
    );
    let stats = auth.stats();
    assert_eq!(stats.polls().len(), 2);
    assert_eq!(
        stats.count(Endpoint::Discovery),
        0,
        "explicit endpoints need no discovery"
    );
    assert!(
        stats
            .polls()
            .iter()
            .all(|p| form(p, "device_code").is_some()),
        "the RFC's parameter name"
    );
}

#[test]
fn expired_token_from_the_server_is_expired() {
    let clock = ManualClock::new();
    // The server's codes live 60 s; nobody approves.
    let auth = generic(&clock).expires_in(60).start().unwrap();
    let seen = Seen::default();
    let app = builder(&auth, explicit_endpoints(&auth), &clock, &seen)
        .build()
        .unwrap();
    let flow = app.start_device_flow(&[]).unwrap();
    let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Expired);
    assert!(clock.elapsed() <= Duration::from_secs(61));
}

#[test]
fn an_issuer_without_a_discovery_document_is_a_configuration_error() {
    let clock = ManualClock::new();
    let auth = generic(&clock).start().unwrap();
    let seen = Seen::default();
    let wrong = format!("{}/other", auth.issuer());
    let app = builder(&auth, Authority::issuer(&wrong).unwrap(), &clock, &seen)
        .build()
        .unwrap();
    let err = app.start_device_flow(&[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
    assert!(err.to_string().contains("discovery"), "{err}");
    // Both well-known locations were tried, and nothing else was sent.
    let stats = auth.stats();
    assert_eq!(stats.requests.len(), 2);
    assert!(
        stats.requests[0]
            .path
            .ends_with("/other/.well-known/openid-configuration")
    );
    assert_eq!(
        stats.requests[1].path,
        "/.well-known/oauth-authorization-server/other"
    );
}

#[test]
fn entra_discovery_document_works_as_an_issuer() {
    let clock = ManualClock::new();
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(1))
        .start()
        .unwrap();
    let seen = Seen::default();
    let app = builder(
        &auth,
        Authority::issuer(&auth.entra_issuer("contoso.example")).unwrap(),
        &clock,
        &seen,
    )
    .build()
    .unwrap();
    // Found by discovery, it is treated as any issuer: only the scopes asked
    // for are sent (no Entra additions), so `openid` is asked for here.
    let token = app
        .sign_in_with_device_code(&["openid", "User.Read"], &CancelHandle::new())
        .unwrap();
    let username = token.account().map(|a| a.username().to_string());
    assert_eq!(username.as_deref(), Some("device.user@contoso.example"));
    let stats = auth.stats();
    assert_eq!(form(&stats.requests[1], "scope"), Some("openid User.Read"));
    assert_eq!(stats.count(Endpoint::Discovery), 1);
    assert!(
        stats.requests[1]
            .path
            .starts_with("/contoso.example/oauth2/v2.0/devicecode")
    );
}
