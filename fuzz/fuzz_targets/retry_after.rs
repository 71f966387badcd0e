#![no_main]
//! Fuzzes `devicecode::fuzzing::retry_after`: no input may make it panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| devicecode::fuzzing::retry_after(data));
