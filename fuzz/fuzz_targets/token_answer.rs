#![no_main]
//! Fuzzes `devicecode::fuzzing::token_answer`: no input may make it panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| devicecode::fuzzing::token_answer(data));
