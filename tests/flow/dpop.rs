//! DPoP (RFC 9449) end to end: proofs on polls and refreshes, the nonce
//! dance, tokens bound to the key, and what a copy of the token file without
//! the key is worth.

use crate::common::*;
use devicecode::{
    Authority, CancelHandle, DpopKey, ErrorKind, FileCache, ManualClock, PublicClient,
    SilentOptions,
};
use devicecode_test_authority::{
    Approval, DpopPolicy, Endpoint, Flavor, RecordedRequest, TestAuthority,
};
use std::path::PathBuf;
use std::sync::Arc;

fn authority(clock: &ManualClock, policy: Option<DpopPolicy>) -> TestAuthority {
    let builder = TestAuthority::builder()
        .flavor(Flavor::Generic)
        .approval(Approval::AfterPolls(2))
        .clock(Arc::new(clock.clone()));
    match policy {
        Some(policy) => builder.dpop(policy),
        None => builder,
    }
    .start()
    .unwrap()
}

fn endpoints(auth: &TestAuthority) -> Authority {
    Authority::endpoints(
        &auth.device_authorization_endpoint(),
        &auth.token_endpoint(),
    )
    .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("devicecode-dpop-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn token_requests(auth: &TestAuthority) -> Vec<RecordedRequest> {
    auth.stats()
        .requests
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::Token))
        .collect()
}

fn force() -> SilentOptions {
    SilentOptions::default().force_refresh(true)
}

#[test]
fn tokens_are_bound_to_the_key_and_refreshed_with_it() {
    let clock = ManualClock::new();
    let auth = authority(&clock, Some(DpopPolicy::new().required(true)));
    let seen = Seen::default();
    let app = builder(&auth, endpoints(&auth), &clock, &seen)
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let jkt = app.dpop_thumbprint().unwrap().to_string();
    let token = app
        .sign_in_with_device_code(&["read"], &CancelHandle::new())
        .unwrap();
    assert_eq!(token.token_type(), "DPoP");
    let issued = auth.access_token(token.access_token().secret()).unwrap();
    assert_eq!(issued.jkt.as_deref(), Some(jkt.as_str()));
    // Every poll carried its own proof, and the polling rules held.
    let polls = auth.stats().polls().len();
    assert_eq!(polls, 2);
    assert_eq!(poll_gaps(&auth.stats()), [5, 5]);
    let proofs: Vec<String> = token_requests(&auth)
        .iter()
        .map(|r| r.header("dpop").unwrap().to_string())
        .collect();
    assert_eq!(proofs.len(), 2);
    assert_ne!(proofs[0], proofs[1]);
    assert!(
        auth.stats().requests[0].header("dpop").is_none(),
        "the code request needs none"
    );

    // From the cache, the token still knows its key.
    let cached = app.acquire_token_silent(&["read"], None).unwrap();
    assert_eq!(cached.access_token(), token.access_token());
    assert_eq!(cached.token_type(), "DPoP");
    assert_eq!(cached.dpop_thumbprint(), Some(jkt.as_str()));

    let refreshed = app
        .acquire_token_silent_with(&["read"], None, &force())
        .unwrap();
    assert_eq!(refreshed.token_type(), "DPoP");
    assert_ne!(refreshed.access_token(), token.access_token());
    let issued = auth
        .access_token(refreshed.access_token().secret())
        .unwrap();
    assert_eq!(issued.jkt.as_deref(), Some(jkt.as_str()));
    assert_eq!(token_requests(&auth).last().unwrap().answer, "token");
}

#[test]
fn the_servers_nonce_is_fetched_once_and_the_newest_kept() {
    let clock = ManualClock::new();
    let auth = authority(&clock, Some(DpopPolicy::new().required(true).nonce(true)));
    let seen = Seen::default();
    let app = builder(&auth, endpoints(&auth), &clock, &seen)
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let token = app
        .sign_in_with_device_code(&["read"], &CancelHandle::new())
        .unwrap();
    assert_eq!(token.token_type(), "DPoP");
    let answers: Vec<String> = token_requests(&auth)
        .iter()
        .map(|r| r.answer.clone())
        .collect();
    // The first poll is refused for the nonce and sent again at once; the
    // next poll already carries it.
    assert_eq!(
        answers,
        ["use_dpop_nonce", "authorization_pending", "token"]
    );
    let at: Vec<_> = token_requests(&auth).iter().map(|r| r.at).collect();
    assert_eq!(at[0], at[1], "the retry is not a new poll");
    let one_connection = auth.stats().requests.iter().all(|r| r.connection == 1);
    assert!(one_connection, "one connection for the whole sign-in");

    // A new nonce: the refresh learns it from the refusal and retries once.
    auth.rotate_dpop_nonce();
    let refreshed = app
        .acquire_token_silent_with(&["read"], None, &force())
        .unwrap();
    assert_eq!(refreshed.token_type(), "DPoP");
    let answers: Vec<String> = token_requests(&auth)
        .iter()
        .map(|r| r.answer.clone())
        .collect();
    assert_eq!(answers[3..], ["use_dpop_nonce", "token"]);
    // The nonce is kept: the next refresh goes through in one request.
    app.acquire_token_silent_with(&["read"], None, &force())
        .unwrap();
    assert_eq!(token_requests(&auth).len(), 6);
}

#[test]
fn a_token_file_copied_without_its_key_cannot_be_refreshed() {
    let clock = ManualClock::new();
    let auth = authority(&clock, Some(DpopPolicy::new()));
    let dir = scratch("copied");
    let file = dir.join("tokens.json");
    let seen = Seen::default();
    let key_path = DpopKey::path_beside(&file);
    let app = builder(&auth, endpoints(&auth), &clock, &seen)
        .token_cache(FileCache::new(&file))
        .dpop_key_file(&key_path)
        .build()
        .unwrap();
    app.sign_in_with_device_code(&["read"], &CancelHandle::new())
        .unwrap();
    assert!(key_path.exists());

    let jkt = app.dpop_thumbprint().unwrap().to_string();
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        saved.contains(&format!(r#""dpop_jkt": "{jkt}""#))
            || saved.contains(&format!(r#""dpop_jkt":"{jkt}""#)),
        "{saved}"
    );
    assert!(saved.contains(r#""token_type": "DPoP""#) || saved.contains(r#""token_type":"DPoP""#));

    // The thief's copy: the token file alone, its binding stripped so the
    // library does not refuse first, used with no key or another key.
    let stolen = dir.join("stolen.json");
    let stripped = saved.replace(&jkt, "");
    std::fs::write(&stolen, stripped).unwrap();
    let thieves = [
        builder(&auth, endpoints(&auth), &clock, &seen)
            .token_cache(FileCache::new(&stolen))
            .build()
            .unwrap(),
        builder(&auth, endpoints(&auth), &clock, &seen)
            .token_cache(FileCache::new(&stolen))
            .dpop(DpopKey::generate().unwrap())
            .build()
            .unwrap(),
    ];
    for thief in thieves {
        let err = thief
            .acquire_token_silent_with(&["read"], None, &force())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InteractionRequired, "{err}");
        let refused = token_requests(&auth).last().unwrap().answer.clone();
        assert_eq!(refused, "invalid_grant", "the server refused it");
    }

    // The owner, with the key from its file, still refreshes, and the
    // rotated refresh token stays bound.
    let owner = builder(&auth, endpoints(&auth), &clock, &seen)
        .token_cache(FileCache::new(&file))
        .dpop_key_file(&key_path)
        .build()
        .unwrap();
    let token = owner
        .acquire_token_silent_with(&["read"], None, &force())
        .unwrap();
    assert_eq!(token.token_type(), "DPoP");
    assert_eq!(token.dpop_thumbprint(), Some(jkt.as_str()));
    assert!(std::fs::read_to_string(&file).unwrap().contains(&jkt));

    // The key file is lost: a new key is made, and the bound refresh token
    // is not tried with it (no request goes out).
    std::fs::remove_file(&key_path).unwrap();
    let requests = token_requests(&auth).len();
    for lost in [
        builder(&auth, endpoints(&auth), &clock, &seen)
            .token_cache(FileCache::new(&file))
            .dpop_key_file(&key_path)
            .build()
            .unwrap(),
        builder(&auth, endpoints(&auth), &clock, &seen)
            .token_cache(FileCache::new(&file))
            .build()
            .unwrap(),
    ] {
        let err = lost
            .acquire_token_silent_with(&["read"], None, &force())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InteractionRequired, "{err}");
        assert!(err.to_string().contains(&jkt), "{err}");
    }
    assert_eq!(token_requests(&auth).len(), requests);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_server_that_ignores_dpop_gives_bearer_tokens_unless_dpop_is_required() {
    let clock = ManualClock::new();
    let auth = authority(&clock, None);
    let seen = Seen::default();
    let app = builder(&auth, endpoints(&auth), &clock, &seen)
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let token = app
        .sign_in_with_device_code(&["read"], &CancelHandle::new())
        .unwrap();
    assert_eq!(token.token_type(), "Bearer");
    assert!(auth.stats().polls()[0].header("dpop").is_some());

    let strict = builder(&auth, endpoints(&auth), &clock, &seen)
        .dpop(DpopKey::generate().unwrap())
        .require_dpop(true)
        .build()
        .unwrap();
    let err = strict
        .sign_in_with_device_code(&["read"], &CancelHandle::new())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("DPoP is required"), "{err}");
    assert!(strict.accounts().unwrap().is_empty(), "nothing was saved");

    let err = PublicClient::builder(CLIENT_ID)
        .require_dpop(true)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[test]
fn resource_requests_carry_a_proof_for_that_method_and_url() {
    let clock = ManualClock::new();
    let auth = authority(&clock, Some(DpopPolicy::new().nonce(true)));
    let seen = Seen::default();
    let app = builder(&auth, endpoints(&auth), &clock, &seen)
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let token = app
        .sign_in_with_device_code(&["read"], &CancelHandle::new())
        .unwrap();
    let url = "https://api.example/v1/items?page=2#top";
    let check = |method: &str, headers: &devicecode::ResourceHeaders| {
        auth.check_resource_request(
            method,
            url,
            headers.authorization().secret(),
            headers.dpop().unwrap(),
        )
    };
    // The resource demands its nonce (here the authority's, another server's
    // in real life): the first proof has none for api.example.
    let headers = app.resource_headers(&token, "get", url).unwrap();
    let err = check("GET", &headers).unwrap_err();
    assert!(err.starts_with("use_dpop_nonce"), "{err}");
    app.dpop_nonce_from_resource(url, &auth.dpop_nonce());
    let headers = app.resource_headers(&token, "get", url).unwrap();
    assert!(headers.authorization().secret().starts_with("DPoP "));
    check("GET", &headers).unwrap();
    let err = check("GET", &headers).unwrap_err();
    assert!(err.contains("replay"), "a proof is good once: {err}");
    let headers = app.resource_headers(&token, "GET", url).unwrap();
    let err = check("POST", &headers).unwrap_err();
    assert!(err.contains("htm"), "{err}");
    let lines = app.resource_headers(&token, "GET", url).unwrap().lines();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("Authorization: DPoP ") && lines[1].starts_with("DPoP: ey"));
    let shown = format!("{:?}", app.resource_headers(&token, "GET", url).unwrap());
    assert!(!shown.contains(token.access_token().secret()), "{shown}");
    assert!(app.resource_headers(&token, "GE T", url).is_err());

    // A bound token is useless to a client without its key.
    let other = builder(&auth, endpoints(&auth), &clock, &seen)
        .build()
        .unwrap();
    let err = other.resource_headers(&token, "GET", url).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[test]
fn bearer_tokens_get_a_bearer_header_alone() {
    let clock = ManualClock::new();
    let auth = authority(&clock, None);
    let seen = Seen::default();
    let app = builder(&auth, endpoints(&auth), &clock, &seen)
        .build()
        .unwrap();
    let token = app
        .sign_in_with_device_code(&["read"], &CancelHandle::new())
        .unwrap();
    let headers = app
        .resource_headers(&token, "GET", "https://api.example/")
        .unwrap();
    assert_eq!(headers.dpop(), None);
    assert_eq!(
        headers.lines(),
        [format!(
            "Authorization: Bearer {}",
            token.access_token().secret()
        )]
    );
}

#[test]
fn a_server_that_requires_dpop_refuses_a_client_without_it() {
    let clock = ManualClock::new();
    let auth = authority(&clock, Some(DpopPolicy::new().required(true)));
    let seen = Seen::default();
    let app = builder(&auth, endpoints(&auth), &clock, &seen)
        .build()
        .unwrap();
    let err = app
        .sign_in_with_device_code(&["read"], &CancelHandle::new())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Service, "{err}");
    assert_eq!(err.service_error().unwrap().error, "invalid_dpop_proof");
    assert_eq!(auth.stats().polls().len(), 1, "a refusal is final");
}
