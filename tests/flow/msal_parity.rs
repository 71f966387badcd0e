//! Issue 10 against the test authority: every token MSAL keeps, every answer
//! read right. Access tokens of several scope sets side by side, refresh
//! outages told apart from refusals, CAE and claims challenges, and a
//! refresh-ahead point of each token's own.

use crate::common::*;
use devicecode::{
    CancelHandle, Clock, ErrorKind, ManualClock, PublicClient, SilentOptions,
    claims_challenge_from_www_authenticate,
};
use devicecode_test_authority::{Approval, Endpoint, Fault, Stats, TestAuthority};
use std::sync::Arc;
use std::time::Duration;

fn refreshes(stats: &Stats) -> Vec<&devicecode_test_authority::RecordedRequest> {
    stats
        .requests
        .iter()
        .filter(|r| r.param("grant_type") == Some("refresh_token"))
        .collect()
}

fn signed_in(
    builder: devicecode_test_authority::TestAuthorityBuilder,
) -> (TestAuthority, ManualClock, PublicClient) {
    let clock = ManualClock::new();
    let auth = builder
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(1))
        .start()
        .unwrap();
    let app = entra_client(&auth, &clock, &Seen::default());
    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    app.wait_for_token(&flow, &CancelHandle::new()).unwrap();
    (auth, clock, app)
}

#[test]
fn access_tokens_for_two_scope_sets_are_both_served_from_the_cache() {
    // Entra lists `email` in both answers: a shared scope, not the same key.
    let (auth, _clock, app) =
        signed_in(TestAuthority::builder().also_granted(vec!["email".into()]));
    let mail = app.acquire_token_silent(&["Mail.Read"], None).unwrap();
    assert_eq!(
        refreshes(&auth.stats()).len(),
        1,
        "Mail.Read needs one refresh"
    );
    for _ in 0..3 {
        let user = app.acquire_token_silent(&["User.Read"], None).unwrap();
        let again = app.acquire_token_silent(&["Mail.Read"], None).unwrap();
        assert_eq!(again.access_token(), mail.access_token());
        let issued = auth.access_token(user.access_token().secret()).unwrap();
        assert!(issued.scopes.iter().any(|s| s == "User.Read"), "{issued:?}");
    }
    assert_eq!(
        refreshes(&auth.stats()).len(),
        1,
        "the alternation makes no request after the first two"
    );
}

#[test]
fn refresh_outages_are_transport_and_retryable_and_leave_the_cache_alone() {
    let (auth, _clock, app) = signed_in(TestAuthority::builder());
    let entra_error = |error: &str| {
        format!(
            r#"{{"error":"{error}","error_description":"AADSTS90033: A transient error has occurred. Please try again.","error_codes":[90033]}}"#
        )
    };
    let force = SilentOptions::default().force_refresh(true);
    let cases = [
        (500, None, entra_error("server_error")),
        (503, None, entra_error("invalid_grant")),
        (503, Some("120"), entra_error("temporarily_unavailable")),
        (429, Some("7"), entra_error("temporarily_unavailable")),
        (400, None, entra_error("temporarily_unavailable")),
        (502, None, "<html>bad gateway</html>".to_string()),
    ];
    for (status, retry_after, body) in cases {
        auth.inject(
            Endpoint::Token,
            Fault::Status {
                status,
                retry_after: retry_after.map(str::to_string),
                body: body.clone(),
            },
        );
        let err = app
            .acquire_token_silent_with(&["User.Read"], None, &force)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{status} {body}: {err}");
        assert!(err.is_retryable(), "{status}");
        assert_eq!(
            err.retry_after(),
            retry_after.map(|s| Duration::from_secs(s.parse().unwrap())),
            "{status}"
        );
    }
    // The refresh token was never spent or replaced: the next refresh works
    // (a replayed one would have revoked the sign-in).
    app.acquire_token_silent_with(&["User.Read"], None, &force)
        .unwrap();
    let last = auth.stats();
    assert_eq!(refreshes(&last).last().unwrap().answer, "token");
}

#[test]
fn a_failed_early_refresh_returns_the_still_valid_cached_token() {
    let (auth, clock, app) = signed_in(TestAuthority::builder());
    let cached = app.acquire_token_silent(&["User.Read"], None).unwrap();
    let renew_after = cached.renew_after();
    let wall = clock.wall();
    let left = cached.expires_at().duration_since(renew_after).unwrap();
    assert!(
        (Duration::from_secs(300)..=Duration::from_secs(600)).contains(&left),
        "renewal {left:?} before expiry"
    );
    clock.advance(renew_after.duration_since(wall).unwrap() + Duration::from_secs(1));
    auth.inject(
        Endpoint::Token,
        Fault::Status {
            status: 503,
            retry_after: Some("30".into()),
            body: String::new(),
        },
    );
    let served = app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_eq!(served.access_token(), cached.access_token());
    assert_eq!(refreshes(&auth.stats()).len(), 1, "the renewal was tried");
    let renewed = app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_ne!(renewed.access_token(), cached.access_token());
    assert_eq!(refreshes(&auth.stats()).len(), 2);
}

/// The end-to-end half of the fleet simulation (the 10,000 boards are in
/// `refresh_ahead`'s unit tests): the real silent path renews at the token's
/// own point, found by a silent call each minute, and not before.
#[test]
fn the_silent_path_renews_at_each_tokens_own_point() {
    let mut points = Vec::new();
    for refresh_in in [None, Some(1800)] {
        for _board in 0..3 {
            let (auth, clock, app) = signed_in(TestAuthority::builder().refresh_in(refresh_in));
            let token = app.acquire_token_silent(&["User.Read"], None).unwrap();
            let point = token.renew_after();
            let since = point.duration_since(token.received_at()).unwrap().as_secs();
            match refresh_in {
                None => assert!((2999..=3299).contains(&since), "{since}"),
                Some(advised) => assert!((advised - 300..=advised).contains(&since), "{since}"),
            }
            points.push(since);
            let mut minutes = 0;
            while refreshes(&auth.stats()).is_empty() {
                assert!(clock.wall() < point, "no renewal before the point");
                clock.advance(Duration::from_secs(60));
                minutes += 1;
                app.acquire_token_silent(&["User.Read"], None).unwrap();
                assert!(minutes < 60, "renewed in time");
            }
            assert!(clock.wall() >= point);
            assert!(clock.wall() < point + Duration::from_secs(60));
        }
    }
    points.sort_unstable();
    points.dedup();
    assert!(
        points.len() >= 5,
        "each token has its own point: {points:?}"
    );
}

#[test]
fn cae_tokens_last_and_a_claims_challenge_gets_new_ones() {
    let clock = ManualClock::new();
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(1))
        .start()
        .unwrap();
    let authority = devicecode::Authority::entra_at(&auth.base_url(), "organizations").unwrap();
    let app = builder(&auth, authority, &clock, &Seen::default())
        .client_capabilities(["CP1"])
        .build()
        .unwrap();
    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    let token = app.wait_for_token(&flow, &CancelHandle::new()).unwrap();
    let cp1 = r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#;
    let stats = auth.stats();
    assert!(
        stats
            .requests
            .iter()
            .all(|r| r.param("claims") == Some(cp1)),
        "the code request and every poll declare CP1"
    );
    let left = token.expires_at().duration_since(clock.wall()).unwrap();
    assert!(
        left > Duration::from_secs(27 * 3600),
        "a 28 h CAE token: {left:?}"
    );

    // Capabilities alone do not bypass the cache.
    clock.advance(Duration::from_secs(20 * 3600));
    let cached = app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_eq!(cached.access_token(), token.access_token());
    assert!(refreshes(&auth.stats()).is_empty());

    // An event revokes the token; the resource answers with a challenge.
    auth.revoke_access_tokens_by_event();
    let header = auth
        .resource_challenge(cached.access_token().secret())
        .unwrap();
    let challenge = claims_challenge_from_www_authenticate(&header).unwrap();
    let options = SilentOptions::default().claims_challenge(challenge.clone());
    let fresh = app
        .acquire_token_silent_with(&["User.Read"], None, &options)
        .unwrap();
    assert_ne!(fresh.access_token(), cached.access_token());
    let stats = auth.stats();
    let refresh = refreshes(&stats);
    assert_eq!(refresh.len(), 1);
    let sent: serde_json::Value =
        serde_json::from_str(refresh[0].param("claims").unwrap()).unwrap();
    let asked: serde_json::Value = serde_json::from_str(&challenge).unwrap();
    assert_eq!(sent["access_token"]["nbf"], asked["access_token"]["nbf"]);
    assert_eq!(sent["access_token"]["xms_cc"]["values"][0], "CP1");
    assert!(
        auth.resource_challenge(fresh.access_token().secret())
            .is_none()
    );
    // The new token is the cached one now.
    let again = app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_eq!(again.access_token(), fresh.access_token());

    // A device flow can start with a challenge; a broken one sends nothing.
    let before = auth.stats().requests.len();
    let err = app
        .start_device_flow_with_claims(&["User.Read"], Some("{not json"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(auth.stats().requests.len(), before);
    app.start_device_flow_with_claims(&["User.Read"], Some(&challenge))
        .unwrap();
    let stats = auth.stats();
    let code_request = stats.requests.last().unwrap();
    assert_eq!(code_request.endpoint, Some(Endpoint::DeviceAuthorization));
    let sent: serde_json::Value =
        serde_json::from_str(code_request.param("claims").unwrap()).unwrap();
    assert_eq!(sent["access_token"]["nbf"], asked["access_token"]["nbf"]);
    assert_eq!(sent["access_token"]["xms_cc"]["values"][0], "CP1");
}

#[test]
fn what_a_user_of_the_token_needs() {
    let (_auth, _clock, app) = signed_in(TestAuthority::builder());
    let token = app.acquire_token_silent(&["User.Read"], None).unwrap();
    let header = token.authorization_header().unwrap();
    assert_eq!(
        header.secret(),
        format!("Bearer {}", token.access_token().secret())
    );
    let claims = token.id_token_claims().unwrap();
    assert_eq!(claims["preferred_username"], "device.user@contoso.example");
    assert_eq!(claims["name"], "Device User");
}
