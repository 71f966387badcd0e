//! Newtypes for the values that let someone act as the device or its user.
//!
//! None of them implements `Display`, and their `Debug` prints `[redacted]`, so
//! a stray `{:?}` in a log line or a panic message cannot leak one. The value is
//! reached only through an explicit `secret()` call. Each is overwritten with
//! zeros when dropped, so a freed buffer does not keep it for the next
//! allocation (or a core dump) to find.

use std::fmt;
use zeroize::Zeroize;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            /// The secret itself. Never log it.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                drop(wipe(std::mem::take(&mut self.0)));
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

/// Overwrites a secret's whole allocation with zeros before it is freed.
///
/// `String::zeroize` would do the same one byte at a time (zeroize wipes a
/// `Vec`'s elements one by one, a volatile write each: 7 instructions a byte
/// at opt-level "z"). The two slices here take zeroize's bulk paths instead:
/// a plain fill (a `memset`) followed by its optimisation barrier, an empty
/// `asm!` block given the slice's address on the targets we build for (x86,
/// ARM, RISC-V...), which the compiler must assume reads the memory; so the
/// zeros cannot be dropped as dead stores before the free. On targets
/// without stable `asm!` zeroize falls back to volatile writes, 16 bytes at
/// a time. The spare capacity is wiped too: a string that was shortened
/// keeps the old bytes there. Returns the zeroed allocation, to be freed.
fn wipe(secret: String) -> Vec<u8> {
    let mut bytes = secret.into_bytes();
    wipe_bytes(&mut bytes);
    bytes
}

/// Zeroes the whole allocation of a buffer that held secrets (a request
/// or an answer in plain text), contents and spare capacity, as [`wipe`]
/// does: the buffer is about to be freed or reused.
pub(crate) fn wipe_bytes(bytes: &mut Vec<u8>) {
    bytes.spare_capacity_mut().zeroize();
    bytes.as_mut_slice().zeroize();
}

/// Bytes that carry secrets (a request body in plain text), wiped by
/// [`wipe_bytes`] when dropped: `zeroize::Zeroizing` would wipe them one
/// byte at a time.
pub(crate) struct SecretBytes(pub Vec<u8>);

impl Drop for SecretBytes {
    fn drop(&mut self) {
        wipe_bytes(&mut self.0);
    }
}

impl std::ops::Deref for SecretBytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for SecretBytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

secret_type!(
    /// The `device_code` of a pending sign-in: whoever holds it gets the tokens
    /// when the person approves.
    DeviceCode
);
secret_type!(
    /// An access token, sent as `Authorization: Bearer …` to an API.
    AccessToken
);
secret_type!(
    /// A refresh token: long-lived, the most valuable thing the device stores.
    RefreshToken
);
secret_type!(
    /// An OpenID Connect id_token (a JWT describing the signed-in account).
    IdToken
);
secret_type!(
    /// The value of an `Authorization` header (`Bearer <access token>`), from
    /// [`Token::authorization_header`](crate::Token::authorization_header).
    AuthorizationHeader
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let shown = format!(
            "{:?} {:?} {:?} {:?}",
            DeviceCode::new("dc-SECRET"),
            AccessToken::new("at-SECRET"),
            RefreshToken::new("rt-SECRET"),
            IdToken::new("id-SECRET")
        );
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("AccessToken([redacted])"), "{shown}");
        assert_eq!(AccessToken::new("abc").secret(), "abc");
    }

    #[test]
    fn a_buffer_is_zeroed_in_place() {
        let mut buffer = b"refresh_token=0.AXYZ&grant_type=refresh_token".to_vec();
        buffer.reserve(100);
        buffer.truncate(8);
        let (at, capacity) = (buffer.as_ptr(), buffer.capacity());
        wipe_bytes(&mut buffer);
        assert_eq!(
            (buffer.as_ptr(), buffer.capacity(), buffer.len()),
            (at, capacity, 8)
        );
        assert!(buffer.iter().all(|&b| b == 0));
        // The spare capacity (where the cut-off bytes lie) cannot be read
        // from safe Rust; zeroize's `MaybeUninit` slice path writes it.
    }

    #[test]
    fn the_whole_allocation_is_zeroed_in_place() {
        let mut secret = String::with_capacity(100);
        secret.push_str(&"s3cr3t".repeat(10));
        let (at, capacity) = (secret.as_ptr(), secret.capacity());
        let wiped = wipe(secret);
        assert_eq!(
            (wiped.as_ptr(), wiped.capacity()),
            (at, capacity),
            "not moved"
        );
        assert_eq!(wiped.len(), 60);
        assert!(wiped.iter().all(|&b| b == 0));
    }
}
