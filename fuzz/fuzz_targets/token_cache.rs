#![no_main]
//! Fuzzes `devicecode::fuzzing::token_cache`: no input may make it panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| devicecode::fuzzing::token_cache(data));
