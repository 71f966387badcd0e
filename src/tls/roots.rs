//! The root certificates a program adds (`root_certificates_pem`): looked
//! over when they are given, parsed into trust anchors when the agent that
//! trusts them is made, at the client's first request.
//!
//! The full parse (base64 decoded in constant time, then the X.509 structure)
//! cost a `devicecode token` served from the cache, which connects nowhere,
//! 22 k instructions for one certificate: a tenth of its own work. The look
//! over is a single pass that refuses what people get wrong: a key, a
//! request or a DER file instead of PEM certificates, an empty or cut file,
//! a damaged line, a certificate whose length is not what its lines hold.
//! What it lets through is a certificate that is whole but not X.509
//! inside: the first request then fails with the message the build would
//! have given. It refuses only what the full parse refuses too; where it
//! cannot tell (a block other than a certificate, blocks inside blocks) it
//! leaves the bundle to the full parse.

use crate::error::Error;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use std::fmt;
use std::sync::Arc;

const BEGIN: &[u8] = b"-----BEGIN ";
const BEGIN_CERTIFICATE: &[u8] = b"-----BEGIN CERTIFICATE-----";
const END_CERTIFICATE: &[u8] = b"-----END CERTIFICATE-----";

/// The PEM bundles added to the bundled roots (or given instead of them),
/// each looked over when it was given.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct AddedRoots {
    bundles: Vec<Arc<[u8]>>,
}

/// Never the certificates: a count is enough to tell settings apart.
impl fmt::Debug for AddedRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddedRoots")
            .field("bundles", &self.bundles.len())
            .finish()
    }
}

impl AddedRoots {
    /// One bundle, refused now if the look over finds it unusable.
    pub fn from_pem(pem: &[u8]) -> Result<AddedRoots, Error> {
        look_over(pem, THE_BUNDLE)?;
        Ok(AddedRoots {
            bundles: vec![Arc::from(pem)],
        })
    }

    pub fn extend(&mut self, more: AddedRoots) {
        self.bundles.extend(more.bundles);
    }

    pub fn is_empty(&self) -> bool {
        self.bundles.is_empty()
    }

    /// Every certificate of every bundle as a trust anchor; a bundle with a
    /// certificate that cannot be one is refused as a whole.
    pub fn anchors(&self) -> Result<Vec<TrustAnchor<'static>>, Error> {
        let mut anchors = Vec::new();
        for (n, pem) in (1..).zip(&self.bundles) {
            let which = match self.bundles.len() {
                1 => THE_BUNDLE.to_string(),
                count => format!("PEM bundle {n} of the {count} given"),
            };
            anchors.extend(parse(pem, &which)?);
        }
        Ok(anchors)
    }
}

/// How a bundle is named in messages when it is the only one.
pub(crate) const THE_BUNDLE: &str = "the PEM bundle";

/// The full parse: every certificate of the bundle as a trust anchor.
pub(crate) fn parse(pem: &[u8], which: &str) -> Result<Vec<TrustAnchor<'static>>, Error> {
    let mut anchors = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert =
            cert.map_err(|e| Error::config(format!("{which} cannot be read")).with_source(e))?;
        let anchor = webpki::anchor_from_trusted_cert(&cert).map_err(|e| {
            Error::config(format!(
                "certificate {} of {which} is not a usable root certificate: {e}",
                anchors.len().saturating_add(1)
            ))
        })?;
        anchors.push(anchor.to_owned());
    }
    if anchors.is_empty() {
        return Err(no_certificate(which));
    }
    Ok(anchors)
}

fn no_certificate(which: &str) -> Error {
    Error::config(format!(
        "{which} holds no certificate (expected -----BEGIN CERTIFICATE----- blocks)"
    ))
}

/// The look over: PEM blocks, base64 lines, and the length each
/// certificate's DER header gives. What it refuses, the full parse is asked
/// about before the bundle is refused: the PEM reader takes oddities (dashes
/// spaced out, a bad line in a block it then drops) that a quick pass would
/// have to copy rule by rule, and a refusal is rare, so its cost does not
/// matter. The look over's message is kept: it says more.
pub(crate) fn look_over(pem: &[u8], which: &str) -> Result<(), Error> {
    match quick_look(pem, which) {
        Err(_) if parse(pem, which).is_ok() => Ok(()),
        looked => looked,
    }
}

/// Lines end at `\n` or `\r`, as the full parse reads them. One pass: a
/// certificate's lines, most of a bundle, are read for their end and their
/// characters at once.
fn quick_look(pem: &[u8], which: &str) -> Result<(), Error> {
    let mut certificates = 0usize;
    // Whether a certificate begins somewhere: the one check kept to the
    // end once the bundle is left to the full parse.
    let mut any = false;
    let mut checking = true;
    let mut body: Option<Body> = None;
    let not_base64 = |certificates: usize| {
        Error::config(format!(
            "{which} cannot be read: certificate {} has a character that is not base64",
            certificates.saturating_add(1)
        ))
    };
    let mut rest = pem;
    while !rest.is_empty() {
        let end = match body.as_mut() {
            Some(lines) if checking && !rest.starts_with(b"-----") => {
                lines.add(rest).ok_or_else(|| not_base64(certificates))?
            }
            _ => {
                let end = rest
                    .iter()
                    .position(|&b| b == b'\n' || b == b'\r')
                    .unwrap_or(rest.len());
                let line = rest.get(..end).unwrap_or_default();
                let begins = line.starts_with(BEGIN);
                let certificate = begins && is_certificate_begin(line);
                any |= certificate;
                if !checking {
                    if any {
                        break;
                    }
                } else if begins && (body.is_some() || !certificate) {
                    // A block inside a block, or one that is no certificate:
                    // the full parse decides.
                    checking = false;
                } else if certificate {
                    body = Some(Body::default());
                } else if line.starts_with(END_CERTIFICATE) {
                    if let Some(done) = body.take() {
                        certificates = certificates.saturating_add(1);
                        done.check(certificates, which)?;
                    }
                } else if let Some(lines) = body.as_mut() {
                    lines.add(line).ok_or_else(|| not_base64(certificates))?;
                }
                end
            }
        };
        rest = rest.get(end.saturating_add(1)..).unwrap_or_default();
    }
    if !any {
        return Err(no_certificate(which));
    }
    if checking && body.is_some() {
        return Err(Error::config(format!(
            "{which} cannot be read: certificate {} has no -----END CERTIFICATE----- line (is the file cut short?)",
            certificates.saturating_add(1)
        )));
    }
    Ok(())
}

/// `-----BEGIN CERTIFICATE-----`, with nothing after it but spaces: the
/// full parse reads a longer line as another kind of block, or refuses it.
fn is_certificate_begin(line: &[u8]) -> bool {
    line.strip_prefix(BEGIN_CERTIFICATE)
        .is_some_and(|rest| rest.iter().all(|&b| b == b' '))
}

/// What a byte is to base64: its value (below 64), or one of these.
const PAD: u8 = 64;
const SPACE: u8 = 65;
const NEWLINE: u8 = 66;
const INVALID: u8 = 67;

/// [`PAD`], [`SPACE`]... or the value of every byte: one load each.
const CLASSES: [u8; 256] = {
    let mut classes = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut value = 0;
    while value < alphabet.len() {
        classes[alphabet[value] as usize] = value as u8;
        value += 1;
    }
    classes[b'=' as usize] = PAD;
    // The full parse's whitespace: tab to carriage return, and space.
    let mut space = b'\t';
    while space <= b'\r' {
        classes[space as usize] = SPACE;
        space += 1;
    }
    classes[b' ' as usize] = SPACE;
    classes[b'\n' as usize] = NEWLINE;
    classes[b'\r' as usize] = NEWLINE;
    classes
};

fn class(byte: u8) -> u8 {
    CLASSES.get(usize::from(byte)).copied().unwrap_or(INVALID)
}

/// The base64 text of a certificate, as far as the look over needs it.
#[derive(Default)]
struct Body {
    /// Base64 characters and `=`, whitespace not counted.
    chars: usize,
    pads: usize,
    /// The first 8 characters' values: the DER header is in them.
    head: [u8; 8],
    /// Whether `=` is among those 8 (the text is too short to be DER).
    pad_in_head: bool,
}

impl Body {
    /// Adds the line `text` starts with; returns where that line ends, or
    /// `None` at a character base64 has no use for.
    fn add(&mut self, text: &[u8]) -> Option<usize> {
        // Runs of base64 characters, nearly every byte, are passed over in
        // a tight loop; only what stops one is counted.
        let (mut spaces, mut pads) = (0usize, 0usize);
        let mut at = 0usize;
        let end = loop {
            let run = text.get(at..).unwrap_or_default();
            let Some(skipped) = run.iter().position(|&b| class(b) >= PAD) else {
                break text.len();
            };
            at = at.saturating_add(skipped);
            match text.get(at).map(|&b| class(b)) {
                Some(PAD) => pads = pads.saturating_add(1),
                Some(SPACE) => spaces = spaces.saturating_add(1),
                Some(NEWLINE) => break at,
                _ => return None,
            }
            at = at.saturating_add(1);
        };
        let line = text.get(..end).unwrap_or_default();
        if self.chars < self.head.len() {
            let mut at = self.chars;
            for value in line.iter().map(|&b| class(b)).filter(|&c| c != SPACE) {
                let Some(slot) = self.head.get_mut(at) else {
                    break;
                };
                *slot = value % PAD;
                self.pad_in_head |= value == PAD;
                at = at.saturating_add(1);
            }
        }
        let chars = end.saturating_sub(spaces);
        self.chars = self.chars.saturating_add(chars);
        self.pads = self.pads.saturating_add(pads);
        Some(end)
    }

    /// The DER header: a SEQUENCE whose length is what the text decodes to.
    /// An X.509 certificate is exactly one such SEQUENCE.
    fn check(&self, n: usize, which: &str) -> Result<(), Error> {
        let unusable = |why: String| {
            Error::config(format!(
                "certificate {n} of {which} is not a usable root certificate: {why}"
            ))
        };
        if self.chars < self.head.len() || self.pad_in_head {
            return Err(unusable("it is too short to be one".to_string()));
        }
        let mut der = [0u8; 6];
        for (out, quad) in der.chunks_exact_mut(3).zip(self.head.chunks_exact(4)) {
            let bits = quad.iter().fold(0u32, |acc, &v| (acc << 6) | u32::from(v));
            for (byte, shift) in out.iter_mut().zip([16, 8, 0]) {
                // The low 8 bits: the truncation is the point.
                *byte = (bits >> shift) as u8;
            }
        }
        let [tag, first, rest @ ..] = der;
        if tag != 0x30 {
            return Err(unusable(
                "it is not DER (a certificate starts with a SEQUENCE)".to_string(),
            ));
        }
        // Short form, or 1 to 4 length bytes: all that DER parsers take.
        let (header, length) = match first {
            0..=0x7f => (2, usize::from(first)),
            0x81..=0x84 => {
                let count = usize::from(first - 0x80);
                let length = rest
                    .iter()
                    .take(count)
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
                (2 + count, length)
            }
            _ => {
                return Err(unusable(
                    "its DER length is not one a certificate can have".to_string(),
                ));
            }
        };
        // What the base64 decodes to: 6 bits for each character but `=`.
        let decoded = self.chars.saturating_sub(self.pads).saturating_mul(6) / 8;
        let said = length.saturating_add(header);
        if said != decoded {
            return Err(unusable(format!(
                "its DER header says {said} bytes, its base64 holds {decoded}: it is cut short or damaged"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn pem() -> String {
        crate::http::tests::self_signed_pem()
    }

    fn looked_over(pem: &str) -> Result<(), String> {
        look_over(pem.as_bytes(), THE_BUNDLE).map_err(|e| e.to_string())
    }

    fn parsed(pem: &str) -> Result<usize, String> {
        parse(pem.as_bytes(), THE_BUNDLE)
            .map(|anchors| anchors.len())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn bundles_people_write_pass() {
        let one = pem();
        let two = format!("{}{}", pem(), pem());
        let crlf = one.replace('\n', "\r\n");
        let chatty = format!("Issuer: test\n\n{}\ntrailing words\n", one.trim_end());
        let spaced = one.replacen(
            "-----BEGIN CERTIFICATE-----",
            "-----BEGIN CERTIFICATE-----  ",
            1,
        );
        let indented = one.replace("\nM", "\n \tM");
        let with_key =
            format!("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n{one}");
        for bundle in [&one, &two, &crlf, &chatty, &spaced, &indented, &with_key] {
            assert_eq!(looked_over(bundle), Ok(()), "{bundle}");
        }
        for (bundle, count) in [(&one, 1), (&two, 2), (&crlf, 1), (&chatty, 1), (&spaced, 1)] {
            assert_eq!(parsed(bundle), Ok(count), "{bundle}");
        }
    }

    #[test]
    fn what_people_get_wrong_is_refused_at_once() {
        let good = pem();
        let lines: Vec<&str> = good.lines().collect();
        // A line lost in the middle.
        let n = lines.len();
        let cut = format!("{}\n{}\n", lines[..n - 2].join("\n"), lines[n - 1]);
        let no_end = format!("{}\n", lines[..lines.len() - 1].join("\n"));
        let damaged = good.replacen('M', "M\u{e9}", 1);
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let short = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let request = good.replace("CERTIFICATE", "CERTIFICATE REQUEST");
        for (bundle, says) in [
            ("", "holds no certificate"),
            ("no PEM here", "holds no certificate"),
            (key, "holds no certificate"),
            (&request, "holds no certificate"),
            (
                short,
                "certificate 1 of the PEM bundle is not a usable root certificate",
            ),
            (
                &cut,
                "certificate 1 of the PEM bundle is not a usable root certificate",
            ),
            (&no_end, "has no -----END CERTIFICATE----- line"),
            (&damaged, "not base64"),
        ] {
            let error = look_over(bundle.as_bytes(), THE_BUNDLE).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Configuration);
            assert!(error.to_string().contains(says), "{bundle}: {error}");
            assert!(parsed(bundle).is_err(), "the full parse agrees: {bundle}");
        }
        let second_cut = format!("{good}{cut}");
        let error = looked_over(&second_cut).unwrap_err();
        assert!(error.starts_with("certificate 2 of"), "{error}");
    }

    #[test]
    fn the_look_over_never_refuses_what_the_full_parse_takes() {
        // Every byte changed, every length cut: whatever the look over
        // refuses, the full parse refuses too.
        let good = pem();
        let mut refused = 0;
        for at in 0..good.len() {
            for by in [b'A', b'=', b'-', b'\n', b' ', b'0'] {
                let mut bytes = good.clone().into_bytes();
                bytes[at] = by;
                let bundle = String::from_utf8(bytes).unwrap();
                if looked_over(&bundle).is_err() {
                    refused += 1;
                    assert!(parsed(&bundle).is_err(), "{at} {by}: {bundle}");
                }
            }
        }
        for len in 0..good.len() {
            if looked_over(&good[..len]).is_err() {
                refused += 1;
                assert!(parsed(&good[..len]).is_err(), "{len}");
            }
        }
        assert!(
            refused > good.len(),
            "{refused}: the look over refuses much"
        );
    }

    #[test]
    fn what_only_the_full_parse_reads_is_not_refused() {
        // The PEM reader takes spaced-out closing dashes, and drops a bad
        // line when a block it does not know follows: the quick pass alone
        // refused both (review).
        let good = pem();
        let spaced = good.replacen(
            "-----BEGIN CERTIFICATE-----",
            "-----BEGIN CERTIFICATE- ----",
            1,
        );
        let dropped = format!(
            "-----BEGIN CERTIFICATE-----\n!!garbage\n-----BEGIN FOO-----\n-----END FOO-----\n{good}"
        );
        for bundle in [spaced, dropped] {
            assert!(
                quick_look(bundle.as_bytes(), THE_BUNDLE).is_err(),
                "{bundle}"
            );
            assert_eq!(parsed(&bundle), Ok(1), "{bundle}");
            assert_eq!(looked_over(&bundle), Ok(()), "{bundle}");
        }
    }

    #[test]
    fn a_certificate_whole_but_not_x509_waits_for_the_full_parse() {
        // A DER SEQUENCE of two INTEGERs: framed right, no certificate.
        let hollow = "-----BEGIN CERTIFICATE-----\nMAYCAQACAQA=\n-----END CERTIFICATE-----\n";
        assert_eq!(looked_over(hollow), Ok(()));
        let error = parsed(hollow).unwrap_err();
        assert!(
            error.starts_with("certificate 1 of the PEM bundle is not a usable root certificate"),
            "{error}"
        );
        // Among several bundles, the message says which.
        let mut roots = AddedRoots::from_pem(pem().as_bytes()).unwrap();
        roots.extend(AddedRoots::from_pem(hollow.as_bytes()).unwrap());
        let error = roots.anchors().unwrap_err().to_string();
        assert!(
            error.starts_with("certificate 1 of PEM bundle 2 of the 2 given is not a usable"),
            "{error}"
        );
        assert_eq!(format!("{roots:?}"), "AddedRoots { bundles: 2 }");
    }

    #[test]
    fn a_client_parses_its_roots_at_its_first_request() {
        use crate::{MemoryCache, PublicClient, SilentOptions};
        let hollow = "-----BEGIN CERTIFICATE-----\nMAYCAQACAQA=\n-----END CERTIFICATE-----\n";
        let client = PublicClient::builder("11111111-2222-3333-4444-555555555555")
            .authority(crate::Authority::entra_at("https://127.0.0.1:1", "organizations").unwrap())
            .only_root_certificates_pem(hollow)
            .no_proxy()
            .token_cache(MemoryCache::new())
            .build()
            .expect("the look over lets it through");
        // A silent call that needs no request does not look at the roots.
        let error = client
            .acquire_token_silent_with(&["User.Read"], None, &SilentOptions::default())
            .unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::InteractionRequired,
            "nothing cached: {error}"
        );
        // The first request parses the bundle and fails before connecting.
        let error = client.start_device_flow(&["User.Read"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Configuration, "{error}");
        assert!(
            error
                .to_string()
                .starts_with("certificate 1 of the PEM bundle is not a usable root"),
            "{error}"
        );
    }
}
