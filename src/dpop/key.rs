//! The DPoP proof key (RFC 9449): an ES256 (P-256) key pair that `ring`
//! already carries for TLS, kept in a private PKCS#8 file, or a signer of the
//! user's own (a TPM, a secure element) behind [`DpopSigner`].

use crate::cache::write_private_file;
use crate::error::{Error, ErrorKind};
use crate::json::base64url_encode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The length of an uncompressed P-256 public key: `0x04 || x || y`.
const PUBLIC_KEY_LEN: usize = 65;
/// An ES256 signature as JWS wants it: `r || s`, 32 bytes each.
pub(crate) const SIGNATURE_LEN: usize = 64;
/// A PKCS#8 P-256 key is under 200 bytes; its PEM well under 1 KiB.
const MAX_KEY_FILE: u64 = 4096;
const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// Something that signs DPoP proofs with an ES256 (ECDSA P-256 SHA-256)
/// key. [`DpopKey`] is the software one; implement this to keep the private
/// key in a TPM or a secure element, where it cannot be copied.
pub trait DpopSigner: Send + Sync {
    /// The public key, uncompressed: 65 bytes, `0x04 || x || y`.
    fn public_key(&self) -> Vec<u8>;

    /// Signs `message` with ECDSA P-256 over SHA-256 (the signer hashes),
    /// returning the 64-byte fixed form `r || s` (not DER).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>>;
}

/// An ES256 proof key held in memory, loaded from or saved to a private
/// PKCS#8 PEM file. Its `Debug` shows the thumbprint, never the key.
pub struct DpopKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field(
                "thumbprint",
                &thumbprint_of(self.pair.public_key().as_ref()),
            )
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A new random key, in memory only.
    pub fn generate() -> Result<Self, Error> {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| {
                Error::new(
                    ErrorKind::Configuration,
                    "no DPoP key could be generated: the system's random number generator failed",
                )
            })?;
        let der = Zeroizing::new(pkcs8.as_ref().to_vec());
        Self::from_pkcs8(&der)
    }

    /// The key of a PKCS#8 DER document (an unencrypted P-256 private key).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, Error> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| {
                Error::config(format!(
                    "the DPoP key is not an unencrypted PKCS#8 P-256 private key ({e}); give one made by this library or by `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`"
                ))
            })?;
        Ok(DpopKey { pair, rng })
    }

    /// The key kept at `path` (PKCS#8 PEM), made and saved there first if
    /// there is none: a private file (0600; its missing directories are made
    /// 0700), written atomically, never over a file that appeared meanwhile
    /// (another process's key is used then).
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        if let Some(key) = Self::load(path)? {
            return Ok(key);
        }
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| {
                Error::config(
                    "no DPoP key could be generated: the system's random number generator failed",
                )
            })?;
        let pem = Zeroizing::new(to_pem(pkcs8.as_ref()));
        match write_private_file(path, pem.as_bytes(), false) {
            Ok(()) => {
                let key = Self::from_pkcs8(pkcs8.as_ref())?;
                log::info!(
                    "made a new DPoP key at {} (thumbprint {})",
                    path.display(),
                    key.thumbprint()
                );
                Ok(key)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Self::load(path)?
                .ok_or_else(|| key_file_error(path, "vanished while it was being made", None)),
            Err(e) => Err(key_file_error(path, "could not be written", Some(e))),
        }
    }

    /// The key kept at `path`, or `None` when there is no file there.
    pub fn load(path: impl AsRef<Path>) -> Result<Option<Self>, Error> {
        let path = path.as_ref();
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(key_file_error(path, "could not be read", Some(e))),
        };
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_KEY_FILE)
            .read_to_string(&mut text)
            .map_err(|e| key_file_error(path, "could not be read", Some(e)))?;
        let der = from_pem(&text).ok_or_else(|| {
            key_file_error(
                path,
                "is not a PEM private key (-----BEGIN PRIVATE KEY-----)",
                None,
            )
        })?;
        Self::from_pkcs8(&der).map(Some)
    }

    /// Where the key of a token file is kept by default: beside it, as
    /// `<token file>.dpop-key.pem`. Keep it on another partition than the
    /// token file (or in a TPM) to make a copied SD card useless.
    pub fn path_beside(token_file: impl AsRef<Path>) -> PathBuf {
        let mut name = token_file.as_ref().as_os_str().to_owned();
        name.push(".dpop-key.pem");
        PathBuf::from(name)
    }

    /// The key's RFC 7638 JWK thumbprint (base64url SHA-256): what a server
    /// binds tokens to (`cnf.jkt`), and a safe name for the key in logs.
    pub fn thumbprint(&self) -> String {
        thumbprint_of(self.pair.public_key().as_ref())
    }
}

impl DpopSigner for DpopKey {
    fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        let signature = self
            .pair
            .sign(&self.rng, message)
            .map_err(|_| "ring could not sign: the random number generator failed")?;
        Ok(signature.as_ref().to_vec())
    }
}

/// The RFC 7638 thumbprint of a signer's key.
pub(crate) fn thumbprint(signer: &dyn DpopSigner) -> Result<String, Error> {
    let public = signer.public_key();
    coordinates(&public)?;
    Ok(thumbprint_of(&public))
}

/// `x` and `y` of an uncompressed P-256 point, checked for shape.
pub(crate) fn coordinates(public: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    match public.split_first() {
        Some((4, xy)) if public.len() == PUBLIC_KEY_LEN => Ok(xy.split_at(32)),
        _ => Err(Error::config(
            "the DPoP signer's public key is not an uncompressed P-256 point (65 bytes starting with 0x04)",
        )),
    }
}

/// The public JWK, members in the lexicographic order RFC 7638 hashes them
/// in (the proof header uses the same text).
pub(crate) fn public_jwk(public: &[u8]) -> Result<String, Error> {
    let (x, y) = coordinates(public)?;
    Ok(format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        base64url_encode(x),
        base64url_encode(y)
    ))
}

fn thumbprint_of(public: &[u8]) -> String {
    match public_jwk(public) {
        Ok(jwk) => base64url_encode(ring::digest::digest(&ring::digest::SHA256, jwk.as_bytes())),
        Err(_) => "[not a P-256 key]".to_string(),
    }
}

fn to_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::with_capacity(body.len() + 80);
    pem.push_str(PEM_BEGIN);
    pem.push('\n');
    // RFC 7468: lines of 64 characters (base64 is ASCII, so chunks are str).
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    pem
}

fn from_pem(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let start = text.find(PEM_BEGIN)?.checked_add(PEM_BEGIN.len())?;
    let rest = text.get(start..)?;
    let body = rest.get(..rest.find(PEM_END)?)?;
    let compact: Zeroizing<String> =
        Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    STANDARD.decode(compact.as_bytes()).ok().map(Zeroizing::new)
}

fn key_file_error(path: &Path, what: &str, source: Option<io::Error>) -> Error {
    let error = Error::config(format!(
        "the DPoP key file {} {what}; check its path and permissions (it must be the owner's, mode 0600)",
        path.display()
    ));
    match source {
        Some(e) => error.with_source(e),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("devicecode-dpop-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_key_is_made_once_kept_private_and_loaded_back() {
        let dir = temp_dir("keep");
        // In a directory that does not exist yet, as the token cache's.
        let path = dir.join("keys/tokens.json.dpop-key.pem");
        let made = DpopKey::load_or_create(&path).unwrap();
        let again = DpopKey::load_or_create(&path).unwrap();
        assert_eq!(made.thumbprint(), again.thumbprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(PEM_BEGIN), "{text}");
        // No temporary file is left beside it.
        assert_eq!(std::fs::read_dir(dir.join("keys")).unwrap().count(), 1);
        // Never written over: a second writer keeps the first key.
        let other = DpopKey::generate().unwrap();
        assert_ne!(other.thumbprint(), made.thumbprint());
        let err = write_private_file(&path, b"x", false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(
            DpopKey::load(&path).unwrap().unwrap().thumbprint(),
            made.thumbprint()
        );
        assert!(DpopKey::load(dir.join("absent")).unwrap().is_none());
        std::fs::write(dir.join("bad"), "hello").unwrap();
        let err = DpopKey::load(dir.join("bad")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration);
        assert!(err.to_string().contains("not a PEM"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn thumbprint_follows_rfc_7638() {
        // RFC 7638 hashes exactly the required members, sorted, no spaces.
        let key = DpopKey::generate().unwrap();
        let public = key.public_key();
        let jwk = public_jwk(&public).unwrap();
        assert!(
            jwk.starts_with(r#"{"crv":"P-256","kty":"EC","x":""#),
            "{jwk}"
        );
        let expected =
            base64url_encode(ring::digest::digest(&ring::digest::SHA256, jwk.as_bytes()));
        assert_eq!(key.thumbprint(), expected);
        assert_eq!(thumbprint(&key).unwrap(), expected);
        assert_eq!(expected.len(), 43);
        let shown = format!("{key:?}");
        assert!(shown.contains(&expected), "{shown}");
        assert!(coordinates(&[4; 64]).is_err());
        assert!(coordinates(&[3; 65]).is_err());
    }

    #[test]
    fn signatures_verify_with_the_public_key() {
        let key = DpopKey::generate().unwrap();
        let signature = key.sign(b"message").unwrap();
        assert_eq!(signature.len(), SIGNATURE_LEN);
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            key.public_key(),
        );
        assert!(public.verify(b"message", &signature).is_ok());
        assert!(public.verify(b"other", &signature).is_err());
    }

    #[test]
    fn pem_round_trips() {
        let der: Vec<u8> = (0..=255u8).collect();
        assert_eq!(from_pem(&to_pem(&der)).unwrap().as_slice(), der.as_slice());
        assert!(from_pem("no pem").is_none());
        assert_eq!(
            DpopKey::path_beside(Path::new("/var/lib/d/tokens.json")),
            Path::new("/var/lib/d/tokens.json.dpop-key.pem")
        );
    }
}
