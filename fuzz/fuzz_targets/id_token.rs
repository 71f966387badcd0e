#![no_main]
//! Fuzzes `devicecode::fuzzing::id_token`: no input may make it panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| devicecode::fuzzing::id_token(data));
