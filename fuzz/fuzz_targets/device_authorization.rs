#![no_main]
//! Fuzzes `devicecode::fuzzing::device_authorization`: no input may make it panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| devicecode::fuzzing::device_authorization(data));
