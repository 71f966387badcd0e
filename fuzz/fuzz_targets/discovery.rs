#![no_main]
//! Fuzzes `devicecode::fuzzing::discovery`: no input may make it panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| devicecode::fuzzing::discovery(data));
