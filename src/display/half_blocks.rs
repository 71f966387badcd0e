//! A QR code in Unicode half blocks: two modules per character cell, so a
//! code is as tall as it is wide on a terminal.

use super::QrCode;

/// Light modules around the code. The standard asks for four; two are what
/// phone readers need in practice, and save four lines on a 24-line console.
pub(crate) const QUIET_ZONE: usize = 2;

/// Bright white on black, chosen here rather than left to the terminal's
/// theme: readers want dark modules on a light ground, and a dark-themed
/// terminal would otherwise show the code inverted.
const COLOURS: &str = "\x1b[97;40m";
const RESET: &str = "\x1b[0m";

/// How many terminal columns [`render`] takes.
pub(crate) fn columns(code: &QrCode) -> usize {
    code.size().saturating_add(2 * QUIET_ZONE)
}

/// The code with its quiet zone, one terminal line per two module rows,
/// light modules drawn with the foreground colour.
pub(crate) fn render(code: &QrCode) -> String {
    let side = columns(code);
    // Outside the code is light (quiet zone); below the last row, when the
    // row count is odd, is the terminal's own background.
    let light = |x: usize, y: usize| {
        y < side
            && !(x
                .checked_sub(QUIET_ZONE)
                .zip(y.checked_sub(QUIET_ZONE))
                .is_some_and(|(x, y)| code.is_dark(x, y)))
    };
    let mut text = String::new();
    for y in (0..side).step_by(2) {
        text.push_str(COLOURS);
        for x in 0..side {
            text.push(match (light(x, y), light(x, y.saturating_add(1))) {
                (true, true) => '\u{2588}',
                (true, false) => '\u{2580}',
                (false, true) => '\u{2584}',
                (false, false) => ' ',
            });
        }
        text.push_str(RESET);
        text.push('\n');
    }
    text
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Turns the terminal text back into a bitmap (dark = true), as a
    /// camera would see it, and decodes it.
    pub(crate) fn read_back(text: &str) -> String {
        let rows: Vec<Vec<char>> = text
            .lines()
            .filter(|l| l.contains(COLOURS))
            .map(|l| l.replace(COLOURS, "").replace(RESET, "").chars().collect())
            .collect();
        let width = rows[0].len();
        let mut dark = vec![vec![true; width]; rows.len() * 2];
        for (y, row) in rows.iter().enumerate() {
            assert_eq!(row.len(), width);
            for (x, c) in row.iter().enumerate() {
                let (top, bottom) = match c {
                    '\u{2588}' => (true, true),
                    '\u{2580}' => (true, false),
                    '\u{2584}' => (false, true),
                    ' ' => (false, false),
                    other => panic!("unexpected {other:?}"),
                };
                dark[2 * y][x] = !top;
                dark[2 * y + 1][x] = !bottom;
            }
        }
        // Framed in dark, the worst a terminal's background can be, so the
        // drawn quiet zone alone must do; 4 pixels a module.
        let (w, h) = (width + 8, dark.len() + 8);
        let mut image = rqrr::PreparedImage::prepare_from_bitmap(w * 4, h * 4, |x, y| {
            let (x, y) = (x / 4, y / 4);
            !(x >= 4 && y >= 4 && x - 4 < width && y - 4 < dark.len()) || dark[y - 4][x - 4]
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        grids[0].decode().unwrap().1
    }

    #[test]
    fn the_terminal_drawing_reads_back_as_the_address() {
        for text in [
            "https://microsoft.com/devicelogin",
            "https://login.example/device?user_code=WDJB-MJHT",
        ] {
            let code = QrCode::encode(text).unwrap();
            let drawn = render(&code);
            assert_eq!(read_back(&drawn), text);
            assert_eq!(
                drawn.lines().count(),
                (code.size() + 2 * QUIET_ZONE).div_ceil(2)
            );
        }
    }
}
