//! Crash test of the token file: a child process rewrites the cache in a
//! loop, under the lock, and is killed with SIGKILL at random moments. After
//! every kill the file must parse and hold one complete state, never a mix
//! or a torn write, and a lock left by the dead writer must not block the
//! next one.
//!
//! This file has its own `main` (`harness = false`): the same binary is the
//! parent test and, when `DEVICECODE_CRASH_CHILD` names a file, the writer.
//! `DEVICECODE_CRASH_ROUNDS` sets the number of kills (default 40; CI runs 300).

use devicecode::{FileCache, TokenStore};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime};

const CHILD: &str = "DEVICECODE_CRASH_CHILD";

/// Kills per run unless `DEVICECODE_CRASH_ROUNDS` says otherwise: a short
/// run for every `cargo test`; CI asks for 300.
const DEFAULT_ROUNDS: u32 = 40;

fn main() -> ExitCode {
    if let Some(path) = std::env::var_os(CHILD) {
        writer(Path::new(&path));
    }
    let rounds = std::env::var("DEVICECODE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    match crash_test(rounds) {
        Ok(summary) => {
            println!("test cache_crash ... ok: {summary}");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("test cache_crash ... FAILED: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// The states the writer goes through: state `n` has `n % 40 + 1` access
/// tokens, each saying `n`, plus a large payload so a write takes a while.
fn state(generation: u64) -> Value {
    let mut tokens = serde_json::Map::new();
    for i in 0..=generation % 40 {
        tokens.insert(
            format!("hid-{i}-login.example-accesstoken-client-realm-scope"),
            json!({
                "credential_type": "AccessToken",
                "secret": format!("{generation}-{i}-{}", "x".repeat(2000)),
                "generation": generation.to_string(),
            }),
        );
    }
    json!({
        "AccessToken": tokens,
        "CrashTest": { "generation": generation.to_string() },
    })
}

/// Checks that `bytes` is exactly one state; returns its generation.
fn check(bytes: &[u8]) -> Result<u64, String> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("the file does not parse ({e}), {} bytes", bytes.len()))?;
    let generation: u64 = doc["CrashTest"]["generation"]
        .as_str()
        .and_then(|g| g.parse().ok())
        .ok_or("the file has no generation")?;
    if doc != state(generation) {
        return Err(format!("the file is not state {generation} exactly"));
    }
    Ok(generation)
}

/// The child: read, advance, write, under the lock, as fast as it can.
fn writer(path: &Path) -> ! {
    let store = FileCache::new(path).lock_timeout(Duration::from_secs(30));
    loop {
        let lock = store.lock().expect("lock");
        let generation = match store.load().expect("load") {
            Some(bytes) => check(&bytes).expect("a valid state"),
            None => 0,
        };
        let next = serde_json::to_vec_pretty(&state(generation + 1)).expect("json");
        store.save(&next).expect("save");
        drop(lock);
    }
}

fn crash_test(rounds: u32) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("devicecode-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("tokens.json");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut random = Lcg::seeded();
    let mut last = 0u64;
    let (mut stale_locks, mut temps_seen) = (0, 0);
    let started = Instant::now();
    for round in 0..rounds {
        let mut child = runner(&exe)
            .env(CHILD, &path)
            .spawn()
            .map_err(|e| format!("cannot start the writer: {e}"))?;
        // Once it is writing (its first new state is on disk; slow under
        // emulation), let it die at a random instant.
        let writing = Instant::now() + Duration::from_secs(10);
        while generation_on_disk(&path) <= last && Instant::now() < writing {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(random.below(20_000)));
        child.kill().map_err(|e| e.to_string())?; // SIGKILL
        let status = child.wait().map_err(|e| e.to_string())?;
        if status.success() || status.code().is_some() {
            return Err(format!(
                "round {round}: the writer exited by itself ({status})"
            ));
        }
        let generation = match std::fs::read(&path) {
            Ok(bytes) => check(&bytes).map_err(|e| format!("round {round}: {e}"))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e.to_string()),
        };
        if generation < last {
            return Err(format!(
                "round {round}: generation went back from {last} to {generation}"
            ));
        }
        last = generation;
        if sibling(&path, ".lockfile").exists() {
            stale_locks += 1;
        }
        temps_seen += temp_files(&dir).len();
    }
    // A writer after all those crashes still gets the lock at once and
    // leaves no temporary file behind.
    let store = FileCache::new(&path).lock_timeout(Duration::from_secs(5));
    let lock = store
        .lock()
        .map_err(|e| format!("lock after crashes: {e}"))?;
    store
        .save(&serde_json::to_vec(&state(last + 1)).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    drop(lock);
    let left = temp_files(&dir);
    if !left.is_empty() {
        return Err(format!("temporary files left behind: {left:?}"));
    }
    if sibling(&path, ".lockfile").exists() {
        return Err("the lock file was left behind by a live writer".into());
    }
    if last < u64::from(rounds) {
        return Err(format!(
            "the writers made too little progress ({last} states in {rounds} rounds)"
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(format!(
        "{rounds} SIGKILLs in {:.1} s, the file was a complete state after every one; \
         {last} states written; {stale_locks} kills left a lock file and {temps_seen} a temporary file, \
         all cleaned up by the next writer",
        started.elapsed().as_secs_f64()
    ))
}

/// The command that runs the test binary again; `DEVICECODE_TEST_RUNNER`
/// (e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`) prefixes it when the
/// binary is for another architecture.
fn runner(exe: &Path) -> Command {
    match std::env::var("DEVICECODE_TEST_RUNNER") {
        Ok(runner) if !runner.trim().is_empty() => {
            let mut parts = runner.split_whitespace();
            let mut command = Command::new(parts.next().unwrap_or_default());
            command.args(parts).arg(exe);
            command
        }
        _ => Command::new(exe),
    }
}

/// The generation in the file now, 0 when there is none yet.
fn generation_on_disk(path: &Path) -> u64 {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| check(&bytes).ok())
        .unwrap_or(0)
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "tmp"))
                .collect()
        })
        .unwrap_or_default()
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A small deterministic generator; the seed is printed on failure paths
/// through the round number and timing.
struct Lcg(u64);

impl Lcg {
    fn seeded() -> Lcg {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos());
        Lcg(u64::from(nanos) | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}
