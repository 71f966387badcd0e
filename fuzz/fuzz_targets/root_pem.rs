#![no_main]
//! Fuzzes `devicecode::fuzzing::root_pem`: no input may make it panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| devicecode::fuzzing::root_pem(data));
