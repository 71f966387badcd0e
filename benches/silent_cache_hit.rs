//! A silent cache hit as a process that starts, asks for a token and exits
//! sees it, with 1, 100 and 1000 accounts in the token file:
//! `cargo bench --bench silent_cache_hit`.
//!
//! The file is written in MSAL's schema with token sizes like Entra's (access
//! token ~1.5 KB, refresh token ~1 KB, id_token ~1 KB). "fresh" is what
//! `devicecode token --account NAME` does in a new process, minus the process
//! start: build a client, list the accounts (read and parse the file), then
//! the silent call. "warm" is a later call of the same client while the file
//! is unchanged (one `stat`, then the lookup). Medians of many calls.
//!
//! `DEVICECODE_BENCH_WRITE=DIR cargo bench --bench silent_cache_hit` only
//! writes the files (`DIR/tokens-N.json`), for `scripts/bench.sh` to time the
//! `devicecode` command on them.

use devicecode::{Authority, FileCache, PublicClient};
use serde_json::{Map, Value, json};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const ENV: &str = "login.microsoftonline.com";
const SIZES: [usize; 3] = [1, 100, 1000];

fn main() {
    if let Some(dir) = std::env::var_os("DEVICECODE_BENCH_WRITE") {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).expect("the directory for the cache files");
        for accounts in SIZES {
            let path = dir.join(format!("tokens-{accounts}.json"));
            std::fs::write(&path, cache_file(accounts)).expect("write the cache");
        }
        return;
    }
    println!(
        "| accounts | file size | fresh: client + accounts() + silent hit | warm call | per account (warm) |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for accounts in SIZES {
        let (fresh, warm, size) = measure(accounts);
        println!(
            "| {accounts} | {:.0} KiB | {:.3} ms | {:.1} µs | {:.1} ns |",
            size as f64 / 1024.0,
            fresh.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e6,
            warm.as_secs_f64() * 1e9 / accounts as f64,
        );
    }
}

/// The account `devicecode token --account` is asked for: the middle one.
fn wanted_user(accounts: usize) -> String {
    format!("user{}@contoso.example", accounts / 2)
}

fn measure(accounts: usize) -> (Duration, Duration, u64) {
    let dir = std::env::temp_dir().join(format!(
        "devicecode-bench-{}-{accounts}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join("tokens.json");
    std::fs::write(&path, cache_file(accounts)).expect("write the cache");
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    let user = wanted_user(accounts);

    let client = || {
        PublicClient::builder(CLIENT_ID)
            .authority(Authority::entra("organizations").expect("authority"))
            .token_cache(FileCache::new(&path))
            .build()
            .expect("client")
    };

    // As `devicecode token --account`: everything from the client's build.
    let mut freshes = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        let app = client();
        let account = app
            .accounts()
            .expect("accounts")
            .into_iter()
            .find(|a| a.username() == user)
            .expect("the account is listed");
        let token = app
            .acquire_token_silent(&["User.Read"], Some(&account))
            .expect("a cache hit");
        freshes.push(started.elapsed());
        assert!(token.access_token().secret().starts_with("at-"));
    }
    let app = client();
    let account = app
        .accounts()
        .expect("accounts")
        .into_iter()
        .find(|a| a.username() == user)
        .expect("the account is listed");
    let mut warms = Vec::new();
    for _ in 0..1000 {
        let started = Instant::now();
        let token = app
            .acquire_token_silent(&["User.Read"], Some(&account))
            .expect("a cache hit");
        warms.push(started.elapsed());
        std::hint::black_box(token);
    }
    let _ = std::fs::remove_dir_all(&dir);
    (median(freshes), median(warms), size)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A cache of `n` accounts, as MSAL writes it.
fn cache_file(n: usize) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (mut at, mut rt, mut idt, mut acc) = (Map::new(), Map::new(), Map::new(), Map::new());
    for i in 0..n {
        let hid =
            format!("{i:08}-0000-0000-0000-000000000000.72f988bf-86f1-41af-91ab-2d7cd011db47");
        let realm = "organizations";
        let target = "User.Read openid profile";
        let key = |kind: &str, realm: &str, target: &str| {
            format!("{hid}-{ENV}-{kind}-{CLIENT_ID}-{realm}-{target}").to_lowercase()
        };
        at.insert(
            key("accesstoken", realm, target),
            json!({
                "credential_type": "AccessToken", "secret": format!("at-{i}-{}", "a".repeat(1500)),
                "home_account_id": hid, "environment": ENV, "client_id": CLIENT_ID,
                "target": target, "realm": realm, "token_type": "Bearer",
                "cached_at": now.to_string(), "expires_on": (now + 3599).to_string(),
                "extended_expires_on": (now + 3599).to_string(),
            }),
        );
        rt.insert(
            key("refreshtoken", "", target),
            json!({
                "credential_type": "RefreshToken", "secret": "r".repeat(1000),
                "home_account_id": hid, "environment": ENV, "client_id": CLIENT_ID,
                "target": target, "last_modification_time": now.to_string(),
            }),
        );
        idt.insert(
            key("idtoken", realm, ""),
            json!({
                "credential_type": "IdToken", "secret": "h.e30.s".to_string() + &"i".repeat(1000),
                "home_account_id": hid, "environment": ENV, "realm": realm, "client_id": CLIENT_ID,
            }),
        );
        acc.insert(
            format!("{hid}-{ENV}-{realm}").to_lowercase(),
            json!({
                "home_account_id": hid, "environment": ENV, "realm": realm,
                "local_account_id": format!("{i:08}-0000-0000-0000-000000000000"),
                "username": format!("user{i}@contoso.example"), "authority_type": "MSSTS",
                "account_source": "urn:ietf:params:oauth:grant-type:device_code",
            }),
        );
    }
    let doc = json!({
        "AccessToken": Value::Object(at), "RefreshToken": Value::Object(rt),
        "IdToken": Value::Object(idt), "Account": Value::Object(acc),
        "AppMetadata": { format!("appmetadata-{ENV}-{CLIENT_ID}"): {
            "client_id": CLIENT_ID, "environment": ENV } },
    });
    serde_json::to_vec_pretty(&doc).expect("json")
}
