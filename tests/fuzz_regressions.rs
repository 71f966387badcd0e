//! Every seed of the fuzz corpus (fuzz/seeds/) and every input that once
//! crashed a fuzz target (fuzz/regressions/<target>/) goes through the same
//! entry points as the fuzzer, on every test run: none may panic.

use devicecode::fuzzing;
use std::path::Path;

/// A fuzz target's entry point.
type Entry = fn(&[u8]);

#[test]
fn fuzz_seeds_and_past_crashes_do_not_panic() {
    let targets: [(&str, Entry); 7] = [
        ("device_authorization", fuzzing::device_authorization),
        ("token_answer", fuzzing::token_answer),
        ("id_token", fuzzing::id_token),
        ("discovery", fuzzing::discovery),
        ("retry_after", fuzzing::retry_after),
        ("root_pem", fuzzing::root_pem),
        ("token_cache", fuzzing::token_cache),
    ];
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut inputs = 0;
    for (target, entry) in targets {
        for dir in ["seeds", "regressions"] {
            let Ok(files) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
                continue;
            };
            for file in files {
                let path = file.unwrap().path();
                entry(&std::fs::read(&path).unwrap());
                inputs += 1;
            }
        }
        // And the edges no corpus may hold.
        entry(b"");
        entry(&[0xff; 3]);
    }
    assert!(inputs >= 7, "every target has seeds: {inputs} inputs");
}
