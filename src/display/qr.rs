//! The sign-in address as a QR code module matrix, for any display to draw.

use crate::device_flow::DeviceFlow;

/// A QR code as a square of modules, for a display to draw pixel for pixel.
///
/// It holds the modules only: leave a light border (the quiet zone) of a
/// few modules around it when drawing, or readers will not find it.
///
/// ```
/// # #[cfg(feature = "qr")] {
/// use devicecode::QrCode;
///
/// let code = QrCode::encode("https://microsoft.com/devicelogin").unwrap();
/// for y in 0..code.size() {
///     let row: String = (0..code.size())
///         .map(|x| if code.is_dark(x, y) { '#' } else { ' ' })
///         .collect();
///     # let _ = row; // lcd.draw_row(y, &row);
/// }
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct QrCode {
    size: usize,
    dark: Vec<bool>,
}

impl QrCode {
    /// The QR code of the address a person should open for `flow`: see
    /// [`address`](Self::address). `None` only when the address is too long
    /// for any QR code (about 2,900 bytes).
    pub fn for_flow(flow: &DeviceFlow) -> Option<QrCode> {
        QrCode::encode(QrCode::address(flow))
    }

    /// What [`for_flow`](Self::for_flow) encodes: the address with the code
    /// in it ([`DeviceFlow::verification_uri_complete`]) when the server sent
    /// one that passed the library's https check, else
    /// [`DeviceFlow::verification_uri`], where the code is then typed.
    pub fn address(flow: &DeviceFlow) -> &str {
        flow.verification_uri_complete()
            .unwrap_or(flow.verification_uri())
    }

    /// Encodes any text; `None` when it is too long for a QR code.
    ///
    /// The text is encoded as bytes: an address has lowercase letters, which
    /// the denser numeric and alphanumeric modes cannot hold, and choosing
    /// between the modes would cost a board 2 KB of code for nothing.
    ///
    /// The error correction level is the lowest (L, 7 %), raised for free
    /// when the same size allows: a code on a screen is not scratched or
    /// dirty, and lower correction means fewer, larger modules, which a
    /// phone reads from further away on a small LCD or e-paper panel.
    pub fn encode(text: &str) -> Option<QrCode> {
        let code =
            qrcodegen::QrCode::encode_binary(text.as_bytes(), qrcodegen::QrCodeEcc::Low).ok()?;
        // The library promises a size of 21 to 177; a negative one would be
        // its bug, and is refused rather than trusted.
        let size = usize::try_from(code.size()).ok()?;
        let side = i32::try_from(size).ok()?;
        let dark = (0..side)
            .flat_map(|y| (0..side).map(move |x| (x, y)))
            .map(|(x, y)| code.get_module(x, y))
            .collect();
        Some(QrCode { size, dark })
    }

    /// Modules on each side: 21 for version 1, up to 177 for version 40.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether the module at column `x`, row `y` (from the top left) is
    /// dark. Anything outside the square is light, as the quiet zone is, so
    /// a drawing loop may run a few modules past each edge.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        if x >= self.size {
            return false;
        }
        y.checked_mul(self.size)
            .and_then(|row| row.checked_add(x))
            .and_then(|i| self.dark.get(i))
            .copied()
            .unwrap_or(false)
    }
}

impl std::fmt::Debug for QrCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrCode")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a matrix back with an independent decoder.
    pub(crate) fn decode(
        width: usize,
        height: usize,
        dark: impl Fn(usize, usize) -> bool,
    ) -> String {
        let mut image = rqrr::PreparedImage::prepare_from_bitmap(width, height, dark);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn the_matrix_decodes_to_the_text() {
        for text in [
            "https://microsoft.com/devicelogin",
            "https://login.example/device?user_code=WDJB-MJHT",
            "http://127.0.0.1:8443/device",
        ] {
            let code = QrCode::encode(text).unwrap();
            // Each module 4 pixels, with a 4-module quiet zone.
            let side = (code.size() + 8) * 4;
            let read = decode(side, side, |x, y| {
                (x / 4)
                    .checked_sub(4)
                    .zip((y / 4).checked_sub(4))
                    .is_some_and(|(x, y)| code.is_dark(x, y))
            });
            assert_eq!(read, text);
        }
    }

    #[test]
    fn entras_address_fits_a_small_code() {
        let code = QrCode::encode("https://microsoft.com/devicelogin").unwrap();
        assert!(code.size() <= 29, "{}", code.size());
    }

    #[test]
    fn outside_the_square_is_light_and_too_long_is_none() {
        let code = QrCode::encode("x").unwrap();
        assert_eq!(code.size(), 21);
        // The finder pattern's corner is dark; past the edges is light.
        assert!(code.is_dark(0, 0));
        assert!(!code.is_dark(21, 0) && !code.is_dark(0, 21));
        assert!(!code.is_dark(usize::MAX, usize::MAX));
        assert!(QrCode::encode(&"x".repeat(3000)).is_none());
    }
}
